"""The d2l chapter's architecture: output shapes and parameter counts at the default sizes."""
from __future__ import annotations

import torch

from dcgan.train.model import ModelConfig, build_models, count_parameters


def test_default_parameter_counts_match_the_d2l_chapter():
    g, d = build_models()
    assert count_parameters(g) == 3_576_704
    assert count_parameters(d) == 2_765_696


def test_shapes_through_both_networks():
    g, d = build_models(ModelConfig(latent_dim=10, g_width=4, d_width=4))
    x = g(torch.randn(2, 10, 1, 1))
    assert x.shape == (2, 3, 64, 64)
    assert x.abs().max() <= 1  # tanh output
    assert d(x).shape == (2, 1, 1, 1)
