"""Latent vectors from seeds, and walks between them: the project's definition of an image's latent.

Each image has its own random generator, seeded by the image's seed, so the latent of seed
s is the same whatever batch, chunk, shard or machine computes it (one RNG per seed, as
NVlabs/edm's generate.py does). A single RNG for a whole batch would make image i depend on
how many images came before it.

A latent is numpy's ``default_rng(seed).standard_normal(latent_dim, dtype=float32)``; web/
computes the same bits in JavaScript. Values beyond 3.654 come from the ziggurat's tail, which
calls the C library's log1pf: web/ rounds it as GNU libc does, so the two agree wherever numpy
runs on glibc; another C library may move such a value by one ulp (measured effect on the
bundled model's images: benchmarks/latent_tails.py and the README).
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np


def latent_for_seed(seed: int, latent_dim: int) -> np.ndarray:
    if seed < 0:
        raise ValueError(f"seeds are non-negative, got {seed}")
    return np.random.default_rng(seed).standard_normal(latent_dim, dtype=np.float32)


def latents_for_seeds(seeds: Iterable[int], latent_dim: int) -> np.ndarray:
    """(len(seeds), latent_dim) float32, row i drawn from its own RNG seeded with seeds[i]."""
    seeds = list(seeds)
    out = np.empty((len(seeds), latent_dim), dtype=np.float32)
    for row, seed in enumerate(seeds):
        out[row] = latent_for_seed(int(seed), latent_dim)
    return out


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation: keeps the norm of Gaussian latents along the path.

    A straight line between two Gaussian samples passes near the origin, where the
    generator has seen few latents (White, "Sampling Generative Networks", 2016).
    """
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    na, nb = np.linalg.norm(a64), np.linalg.norm(b64)
    if na == 0.0 or nb == 0.0:
        return ((1.0 - t) * a64 + t * b64).astype(np.float32)
    cos = float(np.clip(np.dot(a64 / na, b64 / nb), -1.0, 1.0))
    omega = np.arccos(cos)
    if np.sin(omega) < 1e-6:  # (anti)parallel: any great circle would do, the line is fine
        return ((1.0 - t) * a64 + t * b64).astype(np.float32)
    wa = np.sin((1.0 - t) * omega) / np.sin(omega)
    wb = np.sin(t * omega) / np.sin(omega)
    return (wa * a64 + wb * b64).astype(np.float32)


def interpolation_rows(seeds: Sequence[int], steps: int, latent_dim: int) -> np.ndarray:
    """(len(seeds) - 1, steps, latent_dim): row k walks from seeds[k] to seeds[k+1], both ends included."""
    if len(seeds) < 2:
        raise ValueError("interpolation needs at least two seeds")
    if steps < 2:
        raise ValueError("interpolation needs at least two steps")
    ends = latents_for_seeds(seeds, latent_dim)
    ts = np.linspace(0.0, 1.0, steps)
    rows = np.empty((len(seeds) - 1, steps, latent_dim), dtype=np.float32)
    for k in range(len(seeds) - 1):
        for j, t in enumerate(ts):
            rows[k, j] = slerp(ends[k], ends[k + 1], float(t))
    return rows


def interpolation_path(seeds: Sequence[int], steps: int, latent_dim: int) -> np.ndarray:
    """The rows joined into one walk for an animation, each shared end appearing once."""
    rows = interpolation_rows(seeds, steps, latent_dim)
    parts = [rows[0]] + [r[1:] for r in rows[1:]]
    return np.concatenate(parts, axis=0)


def interpolation_count(n_seeds: int, steps: int, animation: bool) -> int:
    """Images an interpolation makes: a grid row of ``steps`` per pair of seeds, or one walk
    (for an animation) in which each shared end appears once."""
    segments = n_seeds - 1
    return segments * (steps - 1) + 1 if animation else segments * steps
