"""int8 quantization settings, and what each gives on CPUs with and without VNNI.

    python benchmarks/int8_cpus.py                      # the bundled generator, 128 images
    python benchmarks/int8_cpus.py --model g.onnx --images 256 --no-emulation

ONNX Runtime picks its integer kernels by the CPU: with VNNI (AVX-512 VNNI or AVX-VNNI) a
u8 x s8 product accumulates exactly in 32 bits; on AVX2 alone its u8 x s8 kernel multiplies
with VPMADDUBSW, which saturates pairs of products at 16 bits. Images of the same file then
differ between CPUs. This quantizes the fp32 generator (sub-pixel form, QDQ, as dcgan-export
does) with each setting and computes its images three ways:
  * ONNX Runtime on this CPU;
  * ONNX Runtime under `qemu-x86_64 -cpu Haswell` (Debian's qemu-user), which reports AVX2
    without AVX-512 or VNNI, so ONNX Runtime takes its AVX2 kernels: their arithmetic, not
    their speed (emulated);
  * ONNX Runtime with graph optimisations off: plain dequantize-compute-quantize arithmetic,
    what tract, OpenCV and OpenVINO's reference compute.
It prints PSNR against the fp32 images (uint8), the largest error in levels, how many values
each CPU's images differ from this CPU's, and, on this CPU, int8's speed at batch 256 against
fp32 through dcgan.runtime (interleaved medians). The CPU's model and flags come first.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import interleaved_medians  # noqa: E402
from peak import cpu_line  # noqa: E402

from dcgan.core.images import to_uint8  # noqa: E402
from dcgan.core.latents import latents_for_seeds  # noqa: E402
from dcgan.runtime import Generator  # noqa: E402
from dcgan.runtime.model_file import bundled_model  # noqa: E402

SETTINGS = {  # name -> quantize_int8 keywords
    "u8 x s8, 8-bit weights": {"reduce_range": False},
    "u8 x s8, 7-bit weights (dcgan-export)": {"reduce_range": True},
}
CALIBRATION = 256


def quantized(fp32: onnx.ModelProto, **settings) -> onnx.ModelProto:
    """The int8 generator dcgan-export makes of ``fp32``, on its calibration latents, with
    ``settings`` (make_variant's keywords) instead of its own."""
    from dcgan.export.onnx_export import generator_spec
    from dcgan.export.options import ExportOptions
    from dcgan.export.precision import generator_inputs, make_variant

    dims = [d.dim_value for d in fp32.graph.output[0].type.tensor_type.shape.dim]
    latent = fp32.graph.input[0].type.tensor_type.shape.dim[1].dim_value
    spec = generator_spec(latent, dims[1], dims[2])
    calibration = generator_inputs(spec, ExportOptions(calibration_inputs=CALIBRATION)).calibration
    return make_variant(without_tanh_clip(fp32), spec, "int8", calibration, **settings)


def without_tanh_clip(model: onnx.ModelProto) -> onnx.ModelProto:
    """``model`` as dcgan-export quantizes it: the traced graph, before the Clip in front of
    the Tanh (the quantizer would fold a Clip into the last layer's range)."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    clips = {n.output[0]: n.input[0] for n in out.graph.node if n.op_type == "Clip"}
    for node in out.graph.node:
        if node.op_type == "Tanh" and node.input[0] in clips:
            node.input[0] = clips[node.input[0]]
    kept = [n for n in out.graph.node if not (n.op_type == "Clip" and n.output[0] in clips
                                               and not any(n.output[0] in m.input for m in out.graph.node))]
    del out.graph.node[:]
    out.graph.node.extend(kept)
    return out


def images(path: Path, n: int, optimize: bool = True) -> np.ndarray:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    if not optimize:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    s = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    z = s.get_inputs()[0]
    latents = latents_for_seeds(range(n), z.shape[1]).reshape(n, -1, 1, 1)
    return np.concatenate([to_uint8(s.run(None, {z.name: latents[i:i + 32]})[0]) for i in range(0, n, 32)])


def emulated(path: Path, n: int, out: Path) -> np.ndarray | None:
    qemu = shutil.which("qemu-x86_64")
    if qemu is None:
        return None
    r = subprocess.run([qemu, "-cpu", "Haswell", sys.executable, __file__, "--worker", str(path), str(n), str(out)],
                       capture_output=True, text=True, timeout=3600)
    if r.returncode != 0:
        raise SystemExit(f"the emulated run failed:\n{r.stderr[-2000:]}")
    return np.load(out)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def speed(fp32: Path, int8: Path) -> float:
    gens = {"fp32": Generator.load(fp32, provider="cpu"), "int8": Generator.load(int8, provider="cpu")}
    z = latents_for_seeds(range(256), gens["fp32"].latent_dim)
    med = interleaved_medians({k: (lambda g=g: g.generate(z, batch_size=256)) for k, g in gens.items()}, reps=5)
    return med["fp32"] / med["int8"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=None, help="an fp32 generator (default: the bundled one)")
    ap.add_argument("--images", type=int, default=128)
    ap.add_argument("--no-emulation", action="store_true", help="skip the AVX2 run under qemu")
    args = ap.parse_args()
    src = args.model or Path(bundled_model())
    fp32 = onnx.load(str(src))
    print(f"CPU: {cpu_line()}; ONNX Runtime {ort.__version__}; {src.name}, {args.images} images")
    with tempfile.TemporaryDirectory() as tmp:
        reference = images(src, args.images)
        print(f"{'setting':<40} {'where':<26} {'PSNR dB':>8} {'max lv':>6} {'values != this CPU':>19}")
        for name, settings in SETTINGS.items():
            path = Path(tmp) / "int8.onnx"
            onnx.save(quantized(fp32, **settings), str(path))
            here = images(path, args.images)
            runs = {"this CPU": here, "plain QDQ (no fusion)": images(path, args.images, optimize=False)}
            if not args.no_emulation:
                got = emulated(path, args.images, Path(tmp) / "emulated.npy")
                if got is not None:
                    runs["AVX2, no VNNI (qemu)"] = got
            for where, x in runs.items():
                print(f"{name:<40} {where:<26} {psnr(x, reference):>8.2f} "
                      f"{int(np.abs(x.astype(int) - reference).max()):>6} {int((x != here).sum()):>19,}")
            print(f"{'':<40} {'speed vs fp32, batch 256':<26} {speed(src, path):>7.2f}x  (this CPU)")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--worker":
        np.save(sys.argv[4], images(Path(sys.argv[2]), int(sys.argv[3])))
    else:
        main()
