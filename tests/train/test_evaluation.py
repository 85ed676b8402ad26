"""The SWD logged during training is dcgan.core.swd's figure, the one export and dcgan-score
report, on the generator's images rounded as the exported model rounds them."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from dcgan.core.images import to_uint8
from dcgan.core.swd import swd
from dcgan.train.evaluation import SWDEvaluator
from dcgan.train.model import ModelConfig, build_models


def test_the_training_figure_is_the_shared_swd_of_the_samples():
    images = np.random.default_rng(0).integers(0, 256, (40, 64, 64, 3), dtype=np.uint8)
    torch.manual_seed(0)
    g, _ = build_models(ModelConfig(latent_dim=8, g_width=4, d_width=4), "dcgan")
    g.train()
    evaluate = SWDEvaluator(images, 8, samples=32, seed=5, device=torch.device("cpu"))
    got = evaluate(g)
    assert g.training  # left as it was found

    real = images[np.random.default_rng(5).permutation(40)[:32]]
    latents = torch.randn(32, 8, 1, 1, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        fake = to_uint8(g.eval()(latents).numpy())
    expected = swd(real, fake, seed=5)
    assert got["swd"] == pytest.approx(expected.mean, rel=1e-5)
    assert got["swd_levels"] == pytest.approx(expected.as_dict(), rel=1e-5)
    assert got["swd_floor"] == pytest.approx(swd(real[:16], real[16:], seed=5).mean, rel=1e-6)
    assert got["swd_samples"] == 32 and got["swd"] > got["swd_floor"] > 0


@pytest.mark.parametrize("channels", [1, 4])
def test_grey_and_rgba_runs_are_scored_on_their_own_channels(channels):
    """RGBA: the 4 premultiplied channels, real and generated alike, the generated colour
    clamped to its alpha as its pictures are."""
    from dcgan.core.images import clamp_to_alpha

    images = np.random.default_rng(1).integers(0, 256, (40, 32, 32, channels), dtype=np.uint8)
    if channels == 4:
        images = clamp_to_alpha(images)
    torch.manual_seed(0)
    cfg = ModelConfig(latent_dim=8, g_width=4, d_width=4, image_size=32, channels=channels)
    g, _ = build_models(cfg, "dcgan")
    got = SWDEvaluator(images, 8, samples=32, seed=5, device=torch.device("cpu"))(g)

    real = images[np.random.default_rng(5).permutation(40)[:32]]
    latents = torch.randn(32, 8, 1, 1, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        fake = to_uint8(g.eval()(latents).numpy())
    if channels == 4:
        assert (fake[..., :3] > fake[..., 3:]).any()  # what the clamp is for
        fake = clamp_to_alpha(fake)
    assert got["swd"] == pytest.approx(swd(real, fake, seed=5).mean, rel=1e-5)
    assert list(got["swd_levels"]) == ["32", "16", "mean"]
