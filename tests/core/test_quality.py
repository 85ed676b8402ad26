"""dcgan.core: multi-scale SWD (swd), MS-SSIM diversity (ms_ssim) and both at once (quality)."""
from __future__ import annotations

import numpy as np
import pytest

from dcgan.core import ms_ssim as ms
from dcgan.core import quality
from dcgan.core import swd as q

N = 48  # images per set: 6,144 descriptors per level, well under a second per SWD


def sprites(n: int, seed: int) -> np.ndarray:
    """Sprite-like images: a few flat-coloured ellipses on white, like the real data."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:64, 0:64]
    out = np.full((n, 64, 64, 3), 255, np.uint8)
    for img in out:
        for _ in range(rng.integers(2, 6)):
            cy, cx = rng.uniform(12, 52, 2)
            ry, rx = rng.uniform(4, 16, 2)
            img[((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1] = rng.integers(0, 256, 3)
    return out


def add_noise(images: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, sigma, images.shape)
    return np.clip(images + noise, 0, 255).round().astype(np.uint8)


def blur(images: np.ndarray, passes: int) -> np.ndarray:
    x = images.astype(np.float64)
    for _ in range(passes):  # 3x3 box filter, edges replicated
        p = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
        x = sum(p[:, i : i + 64, j : j + 64] for i in range(3) for j in range(3)) / 9
    return x.round().astype(np.uint8)


@pytest.fixture(scope="module")
def real():
    return sprites(N, seed=1)


@pytest.fixture(scope="module")
def noise_swd(real):
    return q.swd(real, q.uniform_noise(N, seed=0))


def test_a_set_against_itself_is_zero(real):
    result = q.swd(real, real, seed=5)
    assert result.resolutions == (64, 32, 16)
    assert max(result.levels) < 1e-6 and result.mean < 1e-6


def test_same_distribution_is_far_closer_than_noise(real, noise_swd):
    same = q.swd(real, sprites(N, seed=2))
    # 48 images leave sampling noise, largest at 16x16 (100 positions per image); still far apart.
    assert same.mean < 0.2 * noise_swd.mean, (same, noise_swd)
    assert all(s < 0.4 * n for s, n in zip(same.levels, noise_swd.levels)), (same, noise_swd)


@pytest.mark.parametrize("corrupt, strengths", [(add_noise, (4, 16, 48)), (blur, (1, 2, 4))])
def test_grows_with_corruption_strength(real, corrupt, strengths):
    means = [q.swd(real, corrupt(real, s)).mean for s in strengths]
    assert means[0] > 0.5 and means == sorted(means) and len(set(means)) == len(means), means


def test_deterministic_per_seed(real):
    other = sprites(N, seed=3)
    a, b = q.swd(real, other, seed=7), q.swd(real, other, seed=7)
    c = q.swd(real, other, seed=8)
    assert a == b
    assert a != c and abs(a.mean - c.mean) < 0.3 * a.mean  # other draws, same figure roughly


def test_sets_of_different_sizes(real, noise_swd):
    bigger = sprites(N + 20, seed=4)
    result = q.swd(real, bigger)
    assert result.mean < 0.2 * noise_swd.mean
    assert q.swd(real, bigger).levels == result.levels


def test_quantile_match_is_the_exact_wasserstein_distance():
    rng = np.random.default_rng(0)
    for m, n in [(3, 5), (7, 4), (6, 6), (1, 9)]:
        a, b = np.sort(rng.normal(size=m)), np.sort(rng.normal(1, 2, size=n))
        ia, ib, w = q.quantile_match(m, n)
        # Repeating each sample n (resp. m) times gives two sets of m*n with the same distributions.
        brute = np.abs(np.sort(np.repeat(a, n)) - np.sort(np.repeat(b, m))).mean()
        assert np.sum(w * np.abs(a[ia] - b[ib])) == pytest.approx(brute, rel=1e-12)
        assert w.sum() == pytest.approx(1.0)


def _pyr_down_direct(x: np.ndarray) -> np.ndarray:
    """5x5 binomial blur with mirrored indices written out, then every second pixel."""
    n, c, h, w = x.shape
    k = np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]) / 256

    def mirror(i, size):
        return -i if i < 0 else 2 * (size - 1) - i if i >= size else i

    out = np.zeros((n, c, h // 2, w // 2))
    for oy in range(h // 2):
        for ox in range(w // 2):
            for dy in range(5):
                for dx in range(5):
                    y, xx = mirror(2 * oy + dy - 2, h), mirror(2 * ox + dx - 2, w)
                    out[:, :, oy, ox] += k[dy, dx] * x[:, :, y, xx]
    return out


def test_pyramid_levels_match_a_direct_filter():
    images = np.random.default_rng(0).integers(0, 256, (2, 16, 16, 3), np.uint8)  # levels 16, 8
    fine, coarse = q.laplacian_pyramid(images, 2)
    x = images.transpose(0, 3, 1, 2).astype(np.float64)
    np.testing.assert_allclose(coarse, _pyr_down_direct(x), atol=1e-3)
    # Upsampling doubles the grid and blurs with 4x the kernel: a flat image stays flat.
    flat = np.full((1, 16, 16, 3), 77, np.uint8)
    lap, _ = q.laplacian_pyramid(flat, 2)
    np.testing.assert_allclose(lap, 0, atol=1e-4)
    assert fine.shape == (2, 3, 16, 16) and np.abs(fine).max() > 1


def test_real_floor_uses_disjoint_halves(real, noise_swd):
    first, second = q.split_halves(25, seed=0)
    assert len(first) == len(second) == 12 and not set(first) & set(second)
    floor = q.real_floor(real)
    assert 0 < floor.mean < 0.35 * noise_swd.mean  # halves of 24: noisier than two sets of 48
    half_a, half_b = q.split_halves(N)
    assert floor == q.swd(real[half_a], real[half_b])


def test_identical_images_score_full_collapse(real):
    assert ms.ms_ssim_diversity(np.repeat(real[:1], 6, axis=0), pairs=20) == pytest.approx(1.0, abs=1e-9)


def test_diversity_orders_noise_sprites_and_collapse(real):
    noise = ms.ms_ssim_diversity(q.uniform_noise(N, seed=1), pairs=200)
    varied = ms.ms_ssim_diversity(real, pairs=200)
    few = ms.ms_ssim_diversity(np.repeat(real[:3], 16, axis=0), pairs=200)  # 3 modes
    assert noise < 0.05 < varied < few < 1.0, (noise, varied, few)


def test_ms_ssim_properties(real):
    x, y = real[:8], real[8:16]
    assert ms.ms_ssim_scales(64) == 3  # 64, 32, 16: 8x8 no longer holds the 11x11 window
    np.testing.assert_allclose(ms.ms_ssim(x, x), 1.0, atol=1e-12)
    np.testing.assert_allclose(ms.ms_ssim(x, y), ms.ms_ssim(y, x), atol=1e-12)
    assert np.all((ms.ms_ssim(x, y) >= 0) & (ms.ms_ssim(x, y) < 1))
    assert ms.ms_ssim_diversity(real, pairs=50, seed=1) == ms.ms_ssim_diversity(real, pairs=50, seed=1)


def test_score_gathers_every_figure(real):
    fake = add_noise(real, 48)
    result = quality.score(real, fake, seed=2, pairs=50, noise=True)
    assert result["swd"] == q.swd(real, fake, seed=2).as_dict()
    assert result["floor"] == q.real_floor(real, seed=2).as_dict()
    assert result["noise"] == q.swd(real, q.uniform_noise(N, seed=2), seed=2).as_dict()
    assert result["diversity"]["samples"] == ms.ms_ssim_diversity(fake, 50, 2)
    assert result["diversity"]["real"] == ms.ms_ssim_diversity(real, 50, 2)
    assert result["floor"]["mean"] < result["swd"]["mean"] < result["noise"]["mean"]
    assert "noise" not in quality.score(real, fake, pairs=5)


@pytest.mark.parametrize("bad", [
    np.zeros((4, 64, 64, 3), np.float32),  # not uint8
    np.zeros((4, 64, 64), np.uint8),  # no channel axis
    np.zeros((4, 64, 64, 2), np.uint8),  # grey + alpha: not a channel count of ours
    np.zeros((4, 64, 64, 4), np.uint8),  # RGBA against RGB
    np.zeros((4, 48, 48, 3), np.uint8),  # not a power of two
    np.zeros((0, 64, 64, 3), np.uint8),  # empty
])
def test_bad_input_is_a_value_error(real, bad):
    with pytest.raises(ValueError):
        q.swd(real, bad)


def test_diversity_needs_two_images(real):
    with pytest.raises(ValueError, match="at least 2"):
        ms.ms_ssim_diversity(real[:1])


@pytest.mark.parametrize("channels", [1, 4])
def test_grey_and_rgba_sets_are_scored_on_their_channels(real, channels):
    """Grey: one plane; RGBA: its four premultiplied planes, alpha included, so two sets of the
    same colours that differ only in alpha are apart."""
    if channels == 1:
        a, b = real[..., :1], sprites(N, seed=2)[..., :1]
    else:  # the same colour planes, alpha planes of other shapes
        a = np.concatenate([real, real[..., :1]], axis=-1)
        b = np.concatenate([real, sprites(N, seed=2)[..., :1]], axis=-1)
        assert q.swd(a[..., :3], b[..., :3]).mean < 1e-6
    assert q.swd(a, a).mean < 1e-6
    assert q.descriptors(a)[0].shape[1] == 49 * channels
    far = q.swd(a, q.uniform_noise(N, seed=0, channels=channels)).mean
    assert 1 < q.swd(a, b).mean < far
    result = quality.score(a, b, pairs=5, noise=True)
    assert result["noise"]["mean"] == pytest.approx(far)
