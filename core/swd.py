"""Multi-scale sliced Wasserstein distance in numpy: the quality figure of training, export
and dcgan-score, which needs no pretrained network.

    from dcgan.core.swd import swd, real_floor
    swd(real, fake, seed=0)          # SWDResult(resolutions=(64, 32, 16), levels=(...), mean=...)
    real_floor(real, seed=0)         # SWD between two disjoint random halves of the real set

Images are uint8 (N, S, S, C) with S a power of two >= 16 and C in 1, 3, 4 (grey, RGB, RGBA
with premultiplied alpha: each channel is one more plane of the descriptors, so RGBA is compared
on its 4 channels, alpha included, as stored).

Sliced Wasserstein distance follows Karras et al. 2018 (Progressive GAN, section 5 and
appendix D) and the habits of its reference code:
- a Laplacian pyramid built with the 5-tap binomial filter [1, 4, 6, 4, 1]/16 and reflect-101
  borders (as cv2.pyrDown/pyrUp); one level per resolution from S down to 16, the coarsest
  being the Gaussian residual;
- 128 random 7x7 neighbourhoods per image and level, each a 7*7*C-number descriptor (147 for
  RGB);
- each descriptor set normalised per colour channel by its own mean and std (so a set that is
  only darker or of lower contrast than the real one, uniformly at a level, is not penalised
  there: the figure compares the shapes of local structure);
- 4 repeats of 128 random unit directions (512 projections: the paper's count, and the reference
  code's dir_repeats x dirs_per_repeat); the projections of each set are sorted and compared:
  mean |difference|, i.e. the 1-D Wasserstein-1 distance, averaged over directions; x10^3 per
  level, then averaged over levels.
Sets of different sizes are compared through their quantile functions (exact W1), so a sample
set need not match the real set's size.

The random draws depend only on (seed, level, number of images): the same images and seed give
the same descriptors (so swd(x, x) is exactly 0, and two sets of equal size are read at the
same positions, which lowers the variance of a comparison).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .images import CHANNELS

MIN_RESOLUTION = 16
NHOOD_SIZE = 7
NHOODS_PER_IMAGE = 128
DIRECTIONS = 128  # per repeat
REPEATS = 4
BINOMIAL_5 = np.array([1, 4, 6, 4, 1], dtype=np.float32) / 16
# Independent random streams under one seed: np.random.default_rng([seed, stream, level]).
STREAM_POSITIONS, STREAM_DIRECTIONS, STREAM_SPLIT, STREAM_NOISE, STREAM_PAIRS = range(5)
_IMAGE_CHUNK = 256  # images per pyramid pass: bounds memory for any N
_PROJECTION_BUDGET = 1 << 24  # floats per (directions, descriptors) block: 64 MB per set



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


def check_images(images, what: str = "images", min_count: int = 1) -> np.ndarray:
    a = np.asarray(images)
    if (a.dtype != np.uint8 or a.ndim != 4 or a.shape[3] not in CHANNELS
            or a.shape[1] != a.shape[2]):
        raise ValueError(f"{what} must be uint8 (N, S, S, C) with C in 1, 3, 4, got {a.dtype} "
                         f"{a.shape}")
    if len(a) < min_count:
        raise ValueError(f"{what}: need at least {min_count} images, got {len(a)}")
    return a


# -- pyramid ------------------------------------------------------------------------------------

def _filter_axis(x: np.ndarray, taps: np.ndarray, axis: int) -> np.ndarray:
    """Same-size correlation along ``axis`` with reflect-101 borders (scipy 'mirror', cv2 default)."""
    r = len(taps) // 2
    pad = [(0, 0)] * x.ndim
    pad[axis] = (r, r)
    p = np.pad(x, pad, mode="reflect")
    n = x.shape[axis]
    lead = (slice(None),) * axis
    out = taps[0] * p[lead + (slice(0, n),)]
    for k in range(1, len(taps)):
        out += taps[k] * p[lead + (slice(k, k + n),)]
    return out


def _pyr_down(x: np.ndarray) -> np.ndarray:
    # Blur then keep even rows/columns; filtering one axis at a time halves the work.
    x = _filter_axis(x, BINOMIAL_5, 2)[:, :, ::2]
    return _filter_axis(x, BINOMIAL_5, 3)[:, :, :, ::2]


def _pyr_up(x: np.ndarray) -> np.ndarray:
    n, c, h, w = x.shape
    up = np.zeros((n, c, 2 * h, 2 * w), dtype=x.dtype)
    up[:, :, ::2, ::2] = x
    # x2 per axis (x4 in all) restores the brightness the inserted zeros took away.
    return _filter_axis(_filter_axis(up, 2 * BINOMIAL_5, 2), 2 * BINOMIAL_5, 3)


def laplacian_pyramid(images: np.ndarray, levels: int) -> list[np.ndarray]:
    """uint8 (N, S, S, C) -> float32 (N, C, s, s) per level; the last is the Gaussian residual."""
    g = np.ascontiguousarray(images.transpose(0, 3, 1, 2), dtype=np.float32)
    out = []
    for _ in range(levels - 1):
        down = _pyr_down(g)
        out.append(g - _pyr_up(down))
        g = down
    out.append(g)
    return out


# -- descriptors --------------------------------------------------------------------------------

def neighbourhood_positions(n: int, size: int, seed: int, level: int) -> np.ndarray:
    """int64 (n, 128, 2): top-left (y, x) of each image's 7x7 neighbourhoods at one level."""
    rng = np.random.default_rng([seed, STREAM_POSITIONS, level])
    return rng.integers(0, size - NHOOD_SIZE + 1, size=(n, NHOODS_PER_IMAGE, 2))


def _normalise(desc: np.ndarray) -> np.ndarray:
    """(M, C, 7, 7) -> (M, 49 C) float32 in place: each channel to zero mean, unit std."""
    mean = desc.mean(axis=(0, 2, 3), keepdims=True)
    std = desc.std(axis=(0, 2, 3), keepdims=True)
    std[std == 0] = 1.0  # a flat channel stays all zeros
    desc -= mean
    desc /= std
    return desc.reshape(len(desc), -1)


def descriptors(images, *, seed: int = 0) -> list[np.ndarray]:
    """Normalised (N*128, 49 C) float32 descriptors of a set, one array per pyramid level."""
    images = check_images(images)
    n, size, c = len(images), images.shape[1], images.shape[3]
    res = pyramid_resolutions(size)
    positions = [neighbourhood_positions(n, r, seed, lvl) for lvl, r in enumerate(res)]
    raw = [np.empty((n, NHOODS_PER_IMAGE, c, NHOOD_SIZE, NHOOD_SIZE), np.float32) for _ in res]
    for start in range(0, n, _IMAGE_CHUNK):
        stop = min(start + _IMAGE_CHUNK, n)
        rows = np.arange(stop - start)[:, None]
        for lvl, band in enumerate(laplacian_pyramid(images[start:stop], len(res))):
            windows = sliding_window_view(band, (NHOOD_SIZE, NHOOD_SIZE), axis=(2, 3))
            y, x = positions[lvl][start:stop, :, 0], positions[lvl][start:stop, :, 1]
            raw[lvl][start:stop] = windows[rows, :, y, x]  # (n, 128, C, 7, 7)
    return [_normalise(r.reshape(-1, c, NHOOD_SIZE, NHOOD_SIZE)) for r in raw]


# -- sliced Wasserstein -------------------------------------------------------------------------

def projection_directions(dim: int, seed: int, level: int) -> np.ndarray:
    """float32 (REPEATS * DIRECTIONS, dim) random unit vectors for one level."""
    rng = np.random.default_rng([seed, STREAM_DIRECTIONS, level])
    d = rng.standard_normal((REPEATS * DIRECTIONS, dim))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    return d.astype(np.float32)


def quantile_match(m: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices into sorted sets of sizes m and n, and weights, such that W1 = sum w |a[ia] - b[ib]|.

    The quantile functions of the two sets are step functions on (0, 1]; on the common
    refinement of their steps (integer multiples of 1/(m*n)) each piece pairs one sample of each.
    """
    if m == n:
        idx = np.arange(m)
        return idx, idx, np.full(m, 1.0 / m)
    ends = np.union1d(np.arange(1, m + 1, dtype=np.int64) * n, np.arange(1, n + 1, dtype=np.int64) * m)
    weights = np.diff(ends, prepend=0) / (m * n)
    return (ends - 1) // n, (ends - 1) // m, weights


def sliced_wasserstein(a: np.ndarray, b: np.ndarray, directions: np.ndarray) -> float:
    """Mean over directions of the 1-D Wasserstein-1 distance between projected sets (M, D)."""
    ia, ib, w = quantile_match(len(a), len(b))
    total = 0.0
    # Few large products: each BLAS call has a fixed cost, high on a busy machine.
    chunk = max(1, _PROJECTION_BUDGET // max(len(a), len(b)))
    for start in range(0, len(directions), chunk):
        dirs = directions[start : start + chunk]
        pa, pb = dirs @ a.T, dirs @ b.T  # (dirs, M): rows contiguous, so the sorts are fast
        pa.sort(axis=1)
        pb.sort(axis=1)
        if len(a) != len(b):
            pa, pb = pa[:, ia], pb[:, ib]
        pa -= pb
        np.abs(pa, out=pa)
        total += float((pa @ w.astype(np.float32)).sum(dtype=np.float64))
    return total / len(directions)


def swd_from_descriptors(desc_a: list[np.ndarray], desc_b: list[np.ndarray], resolutions,
                         *, seed: int = 0) -> SWDResult:
    levels = [
        1e3 * sliced_wasserstein(a, b, projection_directions(a.shape[1], seed, lvl))
        for lvl, (a, b) in enumerate(zip(desc_a, desc_b))
    ]
    return SWDResult.from_levels(resolutions, levels)


def swd(a, b, *, seed: int = 0) -> SWDResult:
    """Multi-scale SWD (x10^3 per level) between two uint8 (N, S, S, C) sets of the same S, C."""
    a, b = check_images(a, "first set"), check_images(b, "second set")
    if a.shape[1:] != b.shape[1:]:
        raise ValueError(f"image shapes differ: {a.shape[1:]} and {b.shape[1:]}")
    res = pyramid_resolutions(a.shape[1])
    return swd_from_descriptors(descriptors(a, seed=seed), descriptors(b, seed=seed), res, seed=seed)


def split_halves(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint random index sets of n // 2 each."""
    order = np.random.default_rng([seed, STREAM_SPLIT]).permutation(n)
    half = n // 2
    return np.sort(order[:half]), np.sort(order[half : 2 * half])


def real_floor(real, seed: int = 0) -> SWDResult:
    """SWD between two disjoint random halves of the real set: what two samples of one
    distribution score at half the data's size, the scale any score is read against (a
    generator near it is as close as this much data can tell)."""
    real = check_images(real, "real images", min_count=2)
    first, second = split_halves(len(real), seed)
    return swd(real[first], real[second], seed=seed)


def uniform_noise(n: int, size: int = 64, seed: int = 0, channels: int = 3) -> np.ndarray:
    """uint8 (n, size, size, channels) uniform noise: the far end of the SWD scale."""
    shape = (n, size, size, channels)
    return np.random.default_rng([seed, STREAM_NOISE]).integers(0, 256, shape, np.uint8)
