"""Calibrate and time the quality metric on the real sprites.

    python benchmarks/quality.py DATA [--repeats 3]

Figures (SWD x10^3 at 64, 32, 16 and their mean; read every score against the floor):
  floor            two disjoint random halves of the data
  blurred copy     the data blurred once with the pyramid's 5-tap binomial filter, against itself
  blurred half     one half blurred, against the other half (compare with the floor)
  uniform noise    as many noise images as the data, against it
and the MS-SSIM diversity (1,000 pairs) of the data and of noise.

Timing: numpy swd() for 2,048 vs 2,048 images (drawn with replacement from the data, one set
flipped), median of --repeats; the baseline is the core of the same run alone (projections
and sorts of ready descriptors), so the ratio shows what the pyramid and descriptors add.
"""
from __future__ import annotations

import argparse

import numpy as np

from common import add_data_argument, median_seconds
from dcgan.core import ms_ssim
from dcgan.core import swd as q
from dcgan.data import load_dataset


def blurred(images: np.ndarray) -> np.ndarray:
    x = images.astype(np.float32).transpose(0, 3, 1, 2)
    x = q._filter_axis(q._filter_axis(x, q.BINOMIAL_5, 2), q.BINOMIAL_5, 3)
    return np.clip(np.rint(x), 0, 255).astype(np.uint8).transpose(0, 2, 3, 1).copy()


def row(label: str, r) -> str:
    return f"{label:<22}" + "".join(f"{v:9.2f}" for v in r.levels) + f"{r.mean:9.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(parser)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    real = load_dataset(args.data, progress=False).images
    n = len(real)

    print(f"data: {args.data} ({n} images)")
    print(f"{'SWD x1e3':<22}" + "".join(f"{r:>9}" for r in q.pyramid_resolutions(64)) + f"{'mean':>9}")
    floor = q.real_floor(real)
    print(row(f"floor (2 x {n // 2})", floor))
    print(row("blurred copy", q.swd(real, blurred(real))))
    first, second = q.split_halves(n)
    print(row("blurred half", q.swd(real[first], blurred(real[second]))))
    noise = q.swd(real, q.uniform_noise(n))
    print(row("uniform noise", noise))
    print(f"noise / floor: {noise.mean / floor.mean:.1f}")
    div_real = ms_ssim.ms_ssim_diversity(real)
    div_noise = ms_ssim.ms_ssim_diversity(q.uniform_noise(n))
    print(f"MS-SSIM diversity (1000 pairs): data {div_real:.4f}, uniform noise {div_noise:.4f}")

    rng = np.random.default_rng(0)
    a = real[rng.integers(0, n, 2048)]
    b = real[rng.integers(0, n, 2048)][:, :, ::-1].copy()
    t_total, result = median_seconds(lambda: q.swd(a, b), args.repeats)
    t_desc, (da, db) = median_seconds(lambda: (q.descriptors(a), q.descriptors(b)), args.repeats)
    t_core, _ = median_seconds(lambda: q.swd_from_descriptors(da, db, (64, 32, 16)), args.repeats)
    div_t, _ = median_seconds(lambda: ms_ssim.ms_ssim_diversity(a), args.repeats)
    print(f"\n2048 vs 2048 (median of {args.repeats}): swd {t_total:.2f} s "
          f"(mean {result.mean:.2f}); baseline, projections and sorts alone: {t_core:.2f} s "
          f"(x{t_total / t_core:.2f}); descriptors of both sets: {t_desc:.2f} s")
    print(f"MS-SSIM diversity of 2048 images, 1000 pairs: {div_t:.2f} s")


if __name__ == "__main__":
    main()
