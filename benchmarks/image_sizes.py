"""Sampling throughput per image size: dcgan.runtime against torch eager on the same weights.

    python benchmarks/image_sizes.py                            # 32, 64, 128, 256; RGB
    python benchmarks/image_sizes.py --sizes 32,64 --channels 4 --quick
    python benchmarks/image_sizes.py --threads 1      # both sides on one thread (a busy machine)

For each size, the default networks at that size (latent 100, width 64: dcgan-train's
--image-size) with seeded random weights and the BatchNorm statistics of one batch, as after
training, exported to a temp ONNX with dcgan.export. Both sides turn seeds into the uint8
images a user gets (RGBA clamped to alpha): dcgan.runtime.Generator.sample against the torch
generator in eval/inference mode on the same latents. Images/s are medians of interleaved
repetitions (common.interleaved_medians), so both sides see the same machine load.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch

from common import interleaved_medians
from dcgan.export import export_generator
from dcgan.runtime import Generator
from dcgan.core.images import generated_images
from dcgan.train.model import ModelConfig, build_models, count_parameters
from peak import cpu_line

BATCHES = (1, 21, 64)


def fixture_generator(size: int, channels: int) -> torch.nn.Module:
    """The default generator at ``size`` with seeded weights and one real batch's statistics."""
    torch.manual_seed(0)
    cfg = ModelConfig(image_size=size, channels=channels)
    g, _ = build_models(cfg, init="dcgan")
    with torch.no_grad():
        g.train()(torch.randn(64, cfg.latent_dim, 1, 1))
    return g.eval()


def torch_sample(g: torch.nn.Module, latents: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return generated_images(g(torch.from_numpy(latents).reshape(len(latents), -1, 1, 1)).numpy())


def measure(size: int, channels: int, workdir: Path, quick: bool, threads: int | None) -> list[str]:
    g = fixture_generator(size, channels)
    path = workdir / f"g{size}.onnx"
    export_generator(g, path)
    ours = Generator.load(path, provider="cpu", threads=threads)
    latents = ours.latents(range(8))
    gap = int(np.abs(ours.generate(latents).astype(int) - torch_sample(g, latents)).max())
    rows = [f"{size}x{size}x{channels}: {count_parameters(g):,} parameters, "
            f"{path.stat().st_size / 2**20:.1f} MiB, max |onnxruntime - torch| {gap} levels"]
    for batch in BATCHES:
        reps = 3 if quick else (15 if size <= 64 else 7)
        z = ours.latents(range(batch))
        med = interleaved_medians({
            "ort": lambda: ours.sample(batch, seed=0, batch_size=batch),
            "torch": lambda: torch_sample(g, z),
        }, reps)
        ort_ips, torch_ips = batch / med["ort"], batch / med["torch"]
        rows.append(f"   {size:>4} {batch:>6}  {ort_ips:>12.1f}  {torch_ips:>12.1f}  {ort_ips / torch_ips:>5.2f}x")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="32,64,128,256", help="comma-separated image sides")
    ap.add_argument("--channels", type=int, choices=(1, 3, 4), default=3)
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    ap.add_argument("--threads", type=int, default=None,
                    help="threads of each side (default: torch's default, one per CPU for ours)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"machine: {cpu_line()}; torch {torch.__version__} ({torch.get_num_threads()} threads); "
          "timings on a shared machine are noisy")
    with tempfile.TemporaryDirectory(prefix="dcgan-sizes-") as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            rows = measure(size, args.channels, Path(tmp), args.quick, args.threads)
            print(rows[0])
            print(f"   {'size':>4} {'batch':>6}  {'onnxruntime':>12}  {'torch eager':>12}  {'ratio':>6}")
            print("\n".join(rows[1:]), flush=True)


if __name__ == "__main__":
    main()
