"""Every quality figure at once, as dcgan-score reports it."""
from __future__ import annotations

from .ms_ssim import ms_ssim_diversity
from .swd import check_images, descriptors, pyramid_resolutions, real_floor, swd_from_descriptors, uniform_noise


def score(real, fake, *, seed: int = 0, pairs: int = 1000, noise: bool = False) -> dict:
    """SWD of ``fake`` against ``real``, the real-vs-real floor, optionally uniform noise against
    ``real``, and the MS-SSIM diversity of both sets, as a JSON-ready dict."""
    real = check_images(real, "real images", min_count=2)
    fake = check_images(fake, "samples", min_count=2)
    if real.shape[1:] != fake.shape[1:]:
        raise ValueError(f"samples are {fake.shape[1:]}, real images {real.shape[1:]}")
    res = pyramid_resolutions(real.shape[1])
    real_desc = descriptors(real, seed=seed)  # computed once, used for samples and noise
    out = {
        "resolutions": list(res),
        "n_real": len(real),
        "n_samples": len(fake),
        "seed": seed,
        "swd": swd_from_descriptors(real_desc, descriptors(fake, seed=seed), res, seed=seed).as_dict(),
        "floor": real_floor(real, seed=seed).as_dict(),
        "floor_n": len(real) // 2,
    }
    if noise:
        noise_images = uniform_noise(len(fake), real.shape[1], seed, real.shape[3])
        noise_desc = descriptors(noise_images, seed=seed)
        out["noise"] = swd_from_descriptors(real_desc, noise_desc, res, seed=seed).as_dict()
    out["diversity"] = {
        "samples": ms_ssim_diversity(fake, pairs, seed),
        "real": ms_ssim_diversity(real, pairs, seed),
        "pairs": pairs,
    }
    return out
