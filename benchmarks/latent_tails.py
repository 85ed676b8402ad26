"""Does a one-ulp change in a latent's tail values reach the uint8 images?

    python benchmarks/latent_tails.py                  # seeds 0-99,999, the bundled model
    python benchmarks/latent_tails.py --seeds 20000 --model model.onnx

numpy's float32 normals beyond the ziggurat's last layer (|x| > 3.654) come from its tail,
which calls the C library's log1pf; C libraries may round log1pf differently by one ulp, so
these values are the only ones whose bits can depend on the operating system. This takes
every seed whose latent holds such a value, moves each tail value one ulp away from zero
and then one ulp towards it, samples the original and both perturbed latents through
dcgan.runtime, and counts the images and uint8 values that change.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from dcgan.core.latents import latents_for_seeds
from dcgan.runtime import Generator

TAIL_START = np.float32(3.6541528853610088)  # numpy's ziggurat: values beyond come from the tail
CHUNK = 4096


def tail_seeds(count: int, latent_dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(seeds whose latent has a tail value, their latents)."""
    found, rows = [], []
    for start in range(0, count, CHUNK):
        seeds = range(start, min(start + CHUNK, count))
        z = latents_for_seeds(seeds, latent_dim)
        hit = (np.abs(z) > TAIL_START).any(axis=1)
        found.extend(np.asarray(seeds)[hit])
        rows.append(z[hit])
    return np.asarray(found), np.concatenate(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=100_000, help="seeds 0..N-1")
    ap.add_argument("--model", type=Path, default=None, help="default: the bundled model")
    args = ap.parse_args()
    g = Generator.load(args.model, provider="cpu")
    seeds, z = tail_seeds(args.seeds, g.latent_dim)
    tail = np.abs(z) > TAIL_START
    print(f"seeds 0-{args.seeds - 1:,}: {len(seeds):,} hold a tail value "
          f"({tail.sum():,} values); model {args.model or 'bundled'}")
    base = g.generate(z).astype(int)
    for label, target in (("one ulp away from zero", np.inf), ("one ulp towards zero", 0.0)):
        moved = np.where(tail, np.nextafter(z, np.copysign(np.float32(target), z)), z)
        diff = np.abs(g.generate(moved.astype(np.float32)).astype(int) - base)
        per_image = (diff > 0).reshape(len(z), -1).sum(axis=1)
        changed = per_image > 0
        print(f"{label}: {changed.sum():,} of {len(z):,} images change; max |diff| "
              f"{diff.max()} level(s); values changed per changed image: "
              f"{per_image[changed].max() if changed.any() else 0} at most")


if __name__ == "__main__":
    main()
