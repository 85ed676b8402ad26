"""Give a generator exported before the portable forms the Clip before its Tanh that OpenCV needs
(export/passes/portable.py), and check that ONNX Runtime computes exactly what it did.

    python examples/make_portable.py OLD.onnx NEW.onnx [--seeds 1024]

The weights and the metadata stay as they are; the new file's SHA-256 differs, so `dcgan-gen
--out-dir` folders made with the old file are refused by the new one (their manifests name
the old file). The bundled model was made portable this way.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from dcgan.core.atomic import atomic_write_bytes
from dcgan.core.latents import latents_for_seeds
from dcgan.export.passes.portable import clip_before_tanh


def outputs(model: onnx.ModelProto, seeds: int) -> np.ndarray:
    s = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    z = s.get_inputs()[0]
    latents = latents_for_seeds(range(seeds), z.shape[1]).reshape(seeds, -1, 1, 1)
    return np.concatenate([s.run(None, {z.name: latents[i:i + 64]})[0] for i in range(0, seeds, 64)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("old", type=Path)
    ap.add_argument("new", type=Path)
    ap.add_argument("--seeds", type=int, default=1024, help="images compared, seeds 0..N-1")
    args = ap.parse_args()
    old = onnx.load(str(args.old))
    new = clip_before_tanh(old)
    added = sum(n.op_type == "Clip" for n in new.graph.node) - sum(n.op_type == "Clip" for n in old.graph.node)
    onnx.checker.check_model(new, full_check=True)
    before, after = outputs(old, args.seeds), outputs(new, args.seeds)
    if not np.array_equal(before, after):
        raise SystemExit(f"not written: the outputs changed (max |diff| {np.abs(before - after).max():.3g})")
    atomic_write_bytes(args.new, new.SerializeToString())
    print(f"{args.new}: {added} Clip added; ONNX Runtime's outputs for seeds 0-{args.seeds - 1} are "
          f"bit-identical (pre-Tanh values are clipped to +-10, where tanh is exactly +-1)")


if __name__ == "__main__":
    main()
