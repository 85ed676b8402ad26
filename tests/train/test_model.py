"""The d2l chapter's architecture at 64x64, and the same DCGAN at 32 to 256 pixels in grey,
RGB and RGBA: output shapes, widths and parameter counts."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from dcgan.train.model import (Discriminator, Generator, ModelConfig, build_models,
                               count_parameters)

# Generator and discriminator parameters at the default widths (docs/results.md).
PARAMETERS = {32: (1_068_928, 663_424), 64: (3_576_704, 2_765_696),
              128: (7_772_032, 6_961_024), 256: (11_967_360, 11_156_352)}


def test_default_parameter_counts_match_the_d2l_chapter():
    g, d = build_models()
    assert count_parameters(g) == 3_576_704
    assert count_parameters(d) == 2_765_696


def test_the_64x64_networks_keep_the_d2l_layout():
    """The module tree and state_dict keys of every checkpoint written so far."""
    g, d = build_models()
    convs = lambda m: [tuple(p.weight.shape) for p in m.modules()
                       if isinstance(p, (nn.Conv2d, nn.ConvTranspose2d))]
    assert convs(g) == [(100, 512, 4, 4), (512, 256, 4, 4), (256, 128, 4, 4), (128, 64, 4, 4),
                        (64, 3, 4, 4)]
    assert convs(d) == [(64, 3, 4, 4), (128, 64, 4, 4), (256, 128, 4, 4), (512, 256, 4, 4),
                        (1, 512, 4, 4)]
    assert [k for k in g.state_dict() if k.endswith("weight")] == [
        "net.0.0.weight", "net.0.1.weight", "net.1.0.weight", "net.1.1.weight",
        "net.2.0.weight", "net.2.1.weight", "net.3.0.weight", "net.3.1.weight", "net.4.weight"]
    assert [k for k in d.state_dict() if k.endswith("weight")] == [
        "net.0.0.weight", "net.0.1.weight", "net.1.0.weight", "net.1.1.weight",
        "net.2.0.weight", "net.2.1.weight", "net.3.0.weight", "net.3.1.weight", "net.4.weight"]
    assert isinstance(g.net[5], nn.Tanh) and len(d.net) == 5


@pytest.mark.parametrize("size", sorted(PARAMETERS))
def test_parameter_counts_per_size(size):
    g, d = build_models(ModelConfig(image_size=size))
    assert (count_parameters(g), count_parameters(d)) == PARAMETERS[size]


@pytest.mark.parametrize("size", [32, 64, 128, 256])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_shapes_through_both_networks(size, channels):
    cfg = ModelConfig(latent_dim=10, g_width=4, d_width=2, image_size=size, channels=channels)
    g, d = build_models(cfg)
    x = g(torch.randn(2, 10, 1, 1))
    assert x.shape == (2, channels, size, size)
    assert x.abs().max() <= 1  # tanh output
    assert d(x).shape == (2, 1, 1, 1)
    # One stride-2 stage per doubling, widths from 1x (next to the image) to at most 8x.
    stages = size.bit_length() - 3  # 4x4 ... size/2
    g_widths = [m.out_channels for m in g.modules() if isinstance(m, nn.ConvTranspose2d)][:-1]
    d_widths = [m.out_channels for m in d.modules() if isinstance(m, nn.Conv2d)][:-1]
    assert len(g_widths) == len(d_widths) == stages
    assert g_widths[-1] == 4 and max(g_widths) == 4 * min(8, 2 ** (stages - 1))
    assert d_widths[0] == 2 and max(d_widths) == 2 * min(8, 2 ** (stages - 1))
    assert g_widths == sorted(g_widths, reverse=True) and d_widths == sorted(d_widths)


@pytest.mark.parametrize("field, value", [("image_size", 48), ("image_size", 512),
                                          ("image_size", 16), ("channels", 2)])
def test_other_sizes_and_channel_counts_are_refused(field, value):
    with pytest.raises(ValueError, match=field):
        ModelConfig(**{field: value})


def test_the_config_names_its_alpha_convention():
    assert ModelConfig(channels=4).alpha == "premultiplied"
    assert ModelConfig().alpha is None and ModelConfig(channels=1).alpha is None
    stored = ModelConfig(channels=4, image_size=32).to_dict()
    assert stored["alpha"] == "premultiplied"
    assert ModelConfig.from_dict(stored) == ModelConfig(channels=4, image_size=32)
    old = {"latent_dim": 100, "g_width": 64, "d_width": 64, "channels": 3, "image_size": 64}
    assert ModelConfig.from_dict(old) == ModelConfig()  # a checkpoint of earlier versions
    assert Generator(ModelConfig.from_dict(old)).net[4].out_channels == 3
    assert Discriminator(ModelConfig(channels=1)).net[0][0].in_channels == 1
