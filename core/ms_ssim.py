"""MS-SSIM (Wang, Simoncelli & Bovik 2003) in numpy, and the diversity figure built on it.

    ms_ssim_diversity(fake)          # mean MS-SSIM of random pairs: higher = less diverse

Images are uint8 (N, S, S, C), C in 1, 3, 4.
"""
from __future__ import annotations

import numpy as np

from .swd import STREAM_PAIRS, check_images

# MS-SSIM with its usual constants.
SSIM_WINDOW, SSIM_SIGMA = 11, 1.5
SSIM_K1, SSIM_K2, SSIM_RANGE = 0.01, 0.03, 255.0
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
_PAIR_CHUNK = 128


def _gaussian_window() -> np.ndarray:
    x = np.arange(SSIM_WINDOW) - SSIM_WINDOW // 2
    g = np.exp(-(x**2) / (2 * SSIM_SIGMA**2))
    return g / g.sum()


def _valid_filter_matrix(n: int, g: np.ndarray) -> np.ndarray:
    """(n, n - k + 1) matrix M with (x @ M)[j] = sum_i g[i] x[j + i]: 'valid' filtering as one
    BLAS product, much faster than k shifted sums over a large stack."""
    out = n - len(g) + 1
    m = np.zeros((n, out))
    for i, t in enumerate(g):
        m[np.arange(out) + i, np.arange(out)] = t
    return m


def _filter_valid(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Separable 'valid' filtering of the last two axes."""
    rows = x @ _valid_filter_matrix(x.shape[-1], g)
    return np.swapaxes(np.swapaxes(rows, -1, -2) @ _valid_filter_matrix(x.shape[-2], g), -1, -2)


def ms_ssim_scales(size: int) -> int:
    """Scales whose side still holds the 11x11 window, at most Wang's five: 3 for 64x64."""
    scales = 0
    while scales < len(MS_SSIM_WEIGHTS) and size >= SSIM_WINDOW:
        scales += 1
        size //= 2
    return scales


def ms_ssim(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """MS-SSIM of image pairs: uint8 (P, S, S, C) each -> float64 (P,), averaged over channels.

    SSIM per channel with an 11x11 Gaussian window (sigma 1.5), 2x2 average pooling between
    scales, and Wang et al.'s scale weights cut to the scales the image allows and renormalised.
    Negative terms count as 0 (as tf.image.ssim_multiscale does), so the result is in [0, 1].
    """
    g = _gaussian_window()
    scales = ms_ssim_scales(x.shape[1])
    if scales == 0:
        raise ValueError(f"images must be at least {SSIM_WINDOW}x{SSIM_WINDOW} for MS-SSIM")
    weights = np.array(MS_SSIM_WEIGHTS[:scales]) / sum(MS_SSIM_WEIGHTS[:scales])
    c1, c2 = (SSIM_K1 * SSIM_RANGE) ** 2, (SSIM_K2 * SSIM_RANGE) ** 2
    x = x.transpose(0, 3, 1, 2).astype(np.float64)
    y = y.transpose(0, 3, 1, 2).astype(np.float64)
    result = np.ones(x.shape[:2])
    for s in range(scales):
        mx, my, xx, yy, xy = _filter_valid(np.stack([x, y, x * x, y * y, x * y]), g)
        vx, vy, cov = xx - mx * mx, yy - my * my, xy - mx * my
        cs = (2 * cov + c2) / (vx + vy + c2)
        if s == scales - 1:
            cs = cs * (2 * mx * my + c1) / (mx * mx + my * my + c1)  # luminance at the coarsest only
        result *= np.maximum(cs.mean(axis=(2, 3)), 0.0) ** weights[s]
        h, w = x.shape[2] // 2 * 2, x.shape[3] // 2 * 2
        x = x[..., :h, :w].reshape(*x.shape[:2], h // 2, 2, w // 2, 2).mean(axis=(3, 5))
        y = y[..., :h, :w].reshape(*y.shape[:2], h // 2, 2, w // 2, 2).mean(axis=(3, 5))
    return result.mean(axis=1)


def random_pairs(n: int, pairs: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``pairs`` random (i, j) with i != j, drawn with replacement."""
    rng = np.random.default_rng([seed, STREAM_PAIRS])
    i = rng.integers(0, n, pairs)
    return i, (i + rng.integers(1, n, pairs)) % n


def ms_ssim_diversity(images, pairs: int = 1000, seed: int = 0) -> float:
    """Mean MS-SSIM over random pairs of distinct images: 1.0 for a collapsed set of identical
    images, near 0 for noise. Compare a sample set with the real set: higher = less diverse."""
    images = check_images(images, min_count=2)
    if pairs < 1:
        raise ValueError(f"pairs must be at least 1, got {pairs}")
    i, j = random_pairs(len(images), pairs, seed)
    total = 0.0
    for start in range(0, pairs, _PAIR_CHUNK):
        sl = slice(start, start + _PAIR_CHUNK)
        total += ms_ssim(images[i[sl]], images[j[sl]]).sum()
    return total / pairs
