"""A generator exported by dcgan.export samples through the runtime as torch computes it.

Needs torch and the export package: skipped in the torch-free environment, where the other
runtime tests run on the committed fixtures alone.
"""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pipeline = pytest.importorskip("dcgan.export.pipeline")


def test_runtime_matches_torch_on_the_same_seeds(tmp_path):
    from dcgan.runtime import Discriminator, Generator
    from dcgan.train.model import ModelConfig, build_models

    torch.manual_seed(3)
    g, d = build_models(ModelConfig(latent_dim=8, g_width=4, d_width=4), init="dcgan")
    g.eval()
    d.eval()
    pipeline.export_generator(g, tmp_path / "g.onnx", checks=False)  # the comparison is ours
    pipeline.export_discriminator(d, tmp_path / "d.onnx", checks=False)

    gen = Generator.load(tmp_path / "g.onnx", provider="cpu")
    images = gen.sample(6, seed=100)
    z = torch.from_numpy(gen.latents(range(100, 106))).reshape(6, 8, 1, 1)
    with torch.no_grad():
        x = g(z)
    want = ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    # float32 differences between the two engines may flip a rounding, never more
    assert np.abs(images.astype(int) - want).max() <= 1
    assert not gen.info_inferred and gen.latent_dim == 8

    scores = Discriminator.load(tmp_path / "d.onnx", provider="cpu").score(images)
    with torch.no_grad():
        back = torch.from_numpy(images).permute(0, 3, 1, 2).float() * (2 / 255) - 1
        logits = d(back).reshape(-1).numpy()
    assert np.allclose(scores, logits, atol=1e-4)
