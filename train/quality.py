"""Multi-scale sliced Wasserstein distance in torch, for evaluation on the training device.

The same figure as ``dcgan.runtime.quality.swd`` (its docstring describes the method), step for
step: Laplacian pyramid with the [1, 4, 6, 4, 1]/16 filter, 128 random 7x7 neighbourhoods per
image and level, descriptors normalised per colour channel, 4 x 128 random unit directions,
sorted projections, x10^3 per level. The random draws come from numpy exactly as there, so both
give the same numbers up to float rounding (a test checks it). The training package cannot
import the runtime, hence this twin; keep the two in step.

    real_desc = descriptors(real_uint8, seed=0, device=dev)       # once per run
    fake = images_to_uint8(G(z))                                  # as the exported model rounds
    swd_from_descriptors(real_desc, descriptors(fake, seed=0, device=dev), resolutions, seed=0)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

MIN_RESOLUTION = 16
NHOOD_SIZE = 7
NHOODS_PER_IMAGE = 128
DIRECTIONS = 128  # per repeat
REPEATS = 4
BINOMIAL_5 = (1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16)
STREAM_POSITIONS, STREAM_DIRECTIONS = 0, 1  # the runtime's stream numbers
_IMAGE_CHUNK = 256
_PROJECTION_BUDGET = 1 << 24


@dataclass(frozen=True)
class SWDResult:
    resolutions: tuple[int, ...]  # finest first: (64, 32, 16)
    levels: tuple[float, ...]  # SWD x10^3 per resolution
    mean: float  # average over levels

    @classmethod
    def from_levels(cls, resolutions, levels) -> "SWDResult":
        levels = tuple(float(v) for v in levels)
        return cls(tuple(resolutions), levels, float(np.mean(levels)))

    def as_dict(self) -> dict[str, float]:
        return {**{str(r): v for r, v in zip(self.resolutions, self.levels)}, "mean": self.mean}


def pyramid_resolutions(size: int) -> tuple[int, ...]:
    if size < MIN_RESOLUTION or size & (size - 1):
        raise ValueError(f"image size must be a power of two >= {MIN_RESOLUTION}, not {size}")
    out = []
    while size >= MIN_RESOLUTION:
        out.append(size)
        size //= 2
    return tuple(out)


def images_to_uint8(x: torch.Tensor, output_range: tuple[float, float] = (-1.0, 1.0)) -> torch.Tensor:
    """Generator output (N, 3, H, W) floats -> uint8 (N, H, W, 3), rounded as the runtime does."""
    lo, hi = output_range
    y = torch.round((x.detach().float() - lo) * (255.0 / (hi - lo))).clamp_(0, 255)
    return y.to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def _as_uint8_nhwc(images, device) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(images)) if not isinstance(images, torch.Tensor) else images
    if t.dtype != torch.uint8 or t.ndim != 4 or t.shape[3] != 3 or t.shape[1] != t.shape[2]:
        raise ValueError(f"images must be uint8 (N, S, S, 3), got {t.dtype} {tuple(t.shape)}")
    if len(t) < 1:
        raise ValueError("need at least 1 image")
    return t.to(device)


# -- pyramid ------------------------------------------------------------------------------------

def _filter_axis(x: torch.Tensor, taps, axis: int) -> torch.Tensor:
    """Same-size correlation along axis 2 or 3 with reflect-101 borders (shifted sums: on CPU,
    about twice as fast as a grouped conv2d)."""
    r = len(taps) // 2
    p = F.pad(x, (0, 0, r, r) if axis == 2 else (r, r, 0, 0), mode="reflect")
    n = x.shape[axis]
    out = taps[0] * p.narrow(axis, 0, n)
    for k in range(1, len(taps)):
        out += taps[k] * p.narrow(axis, k, n)
    return out


def _pyr_down(x: torch.Tensor) -> torch.Tensor:
    x = _filter_axis(x, BINOMIAL_5, 2)[:, :, ::2]
    return _filter_axis(x, BINOMIAL_5, 3)[:, :, :, ::2]


def _pyr_up(x: torch.Tensor) -> torch.Tensor:
    n, c, h, w = x.shape
    up = x.new_zeros((n, c, 2 * h, 2 * w))
    up[:, :, ::2, ::2] = x
    taps = tuple(2 * t for t in BINOMIAL_5)  # x4 in all: the inserted zeros took 3/4 of the light
    return _filter_axis(_filter_axis(up, taps, 2), taps, 3)


def laplacian_pyramid(images: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """uint8 (N, S, S, 3) -> float32 (N, 3, s, s) per level; the last is the Gaussian residual."""
    g = images.permute(0, 3, 1, 2).float()
    out = []
    for _ in range(levels - 1):
        down = _pyr_down(g)
        out.append(g - _pyr_up(down))
        g = down
    out.append(g)
    return out


# -- descriptors (random draws: numpy, exactly as in the runtime) -------------------------------

def neighbourhood_positions(n: int, size: int, seed: int, level: int) -> np.ndarray:
    rng = np.random.default_rng([seed, STREAM_POSITIONS, level])
    return rng.integers(0, size - NHOOD_SIZE + 1, size=(n, NHOODS_PER_IMAGE, 2))


def _normalise(desc: torch.Tensor) -> torch.Tensor:
    mean = desc.mean(dim=(0, 2, 3), keepdim=True)
    std = desc.std(dim=(0, 2, 3), keepdim=True, correction=0)
    std = torch.where(std == 0, torch.ones_like(std), std)
    return ((desc - mean) / std).reshape(len(desc), -1)


@torch.no_grad()
def descriptors(images, *, seed: int = 0, device=None) -> list[torch.Tensor]:
    """Normalised (N*128, 147) float32 descriptors of a set on ``device``, one per level."""
    images = _as_uint8_nhwc(images, device)
    n, size = len(images), images.shape[1]
    res = pyramid_resolutions(size)
    positions = [
        torch.from_numpy(neighbourhood_positions(n, r, seed, lvl)).to(images.device)
        for lvl, r in enumerate(res)
    ]
    raw = [[] for _ in res]
    for start in range(0, n, _IMAGE_CHUNK):
        stop = min(start + _IMAGE_CHUNK, n)
        rows = torch.arange(stop - start, device=images.device)[:, None]
        for lvl, band in enumerate(laplacian_pyramid(images[start:stop], len(res))):
            windows = band.unfold(2, NHOOD_SIZE, 1).unfold(3, NHOOD_SIZE, 1)  # (n, 3, s-6, s-6, 7, 7)
            y, x = positions[lvl][start:stop, :, 0], positions[lvl][start:stop, :, 1]
            raw[lvl].append(windows[rows, :, y, x])  # (n, 128, 3, 7, 7)
    return [_normalise(torch.cat(r).reshape(-1, 3, NHOOD_SIZE, NHOOD_SIZE)) for r in raw]


# -- sliced Wasserstein -------------------------------------------------------------------------

def projection_directions(dim: int, seed: int, level: int) -> np.ndarray:
    rng = np.random.default_rng([seed, STREAM_DIRECTIONS, level])
    d = rng.standard_normal((REPEATS * DIRECTIONS, dim))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    return d.astype(np.float32)


def quantile_match(m: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """W1 = sum w |a[ia] - b[ib]| over sorted sets of sizes m and n (see the runtime's twin)."""
    if m == n:
        idx = np.arange(m)
        return idx, idx, np.full(m, 1.0 / m)
    ends = np.union1d(np.arange(1, m + 1, dtype=np.int64) * n, np.arange(1, n + 1, dtype=np.int64) * m)
    weights = np.diff(ends, prepend=0) / (m * n)
    return (ends - 1) // n, (ends - 1) // m, weights


def _sorted_rows(x: torch.Tensor) -> torch.Tensor:
    if x.device.type == "cpu":
        # torch's CPU sort is ~25x slower than numpy's vectorised one; the result is the same.
        return torch.from_numpy(np.sort(x.numpy(), axis=1))
    return torch.sort(x, dim=1).values


@torch.no_grad()
def sliced_wasserstein(a: torch.Tensor, b: torch.Tensor, directions: np.ndarray) -> float:
    ia, ib, w = quantile_match(len(a), len(b))
    # float32 throughout: MPS has no float64.
    ia, ib, w = (torch.from_numpy(v).to(a.device) for v in (ia, ib, w.astype(np.float32)))
    dirs_all = torch.from_numpy(directions).to(a.device)
    total = 0.0
    chunk = max(1, _PROJECTION_BUDGET // max(len(a), len(b)))
    for start in range(0, len(dirs_all), chunk):
        dirs = dirs_all[start : start + chunk]
        pa, pb = _sorted_rows(dirs @ a.T), _sorted_rows(dirs @ b.T)
        if len(a) != len(b):
            pa, pb = pa[:, ia], pb[:, ib]
        total += float((pa - pb).abs_().matmul(w).sum())
    return total / len(dirs_all)


def swd_from_descriptors(desc_a, desc_b, resolutions, *, seed: int = 0) -> SWDResult:
    levels = [
        1e3 * sliced_wasserstein(a, b, projection_directions(a.shape[1], seed, lvl))
        for lvl, (a, b) in enumerate(zip(desc_a, desc_b))
    ]
    return SWDResult.from_levels(resolutions, levels)


def swd(a, b, *, seed: int = 0, device=None) -> SWDResult:
    """Multi-scale SWD (x10^3 per level) between two uint8 (N, S, S, 3) sets (arrays or tensors)."""
    a, b = _as_uint8_nhwc(a, device), _as_uint8_nhwc(b, device)
    if a.shape[1:] != b.shape[1:]:
        raise ValueError(f"image shapes differ: {tuple(a.shape[1:])} and {tuple(b.shape[1:])}")
    res = pyramid_resolutions(a.shape[1])
    return swd_from_descriptors(descriptors(a, seed=seed), descriptors(b, seed=seed), res, seed=seed)
