from __future__ import annotations

import pytest
import torch
from torch import nn

from dcgan.export import ExportError, FoldError, fold_batchnorm
from dcgan.train.model import ModelConfig

from export_helpers import randomise_batchnorm, trained_like_models


def _has_batchnorm(m: nn.Module) -> bool:
    return any(isinstance(x, nn.BatchNorm2d) for x in m.modules())


@pytest.mark.parametrize("which", ["generator", "discriminator"])
def test_folded_network_computes_what_the_original_computes_in_eval_mode(which):
    g, d, _ = trained_like_models(ModelConfig(g_width=8, d_width=8))
    net = g if which == "generator" else d
    x = torch.randn(4, 100, 1, 1) if which == "generator" else torch.rand(4, 3, 64, 64) * 2 - 1
    folded = fold_batchnorm(net)
    assert not _has_batchnorm(folded)
    with torch.no_grad():
        want, got = net.eval()(x), folded(x)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=0)


def test_folding_leaves_the_original_untouched():
    g, _, _ = trained_like_models()
    g.train()
    before = {k: v.clone() for k, v in g.state_dict().items()}
    fold_batchnorm(g)
    assert g.training and _has_batchnorm(g)
    for k, v in g.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_convtranspose_scale_goes_on_the_output_channel_dim_also_with_groups():
    # (in=4, out=6): a scale applied on the wrong dim would not even broadcast, or would mix
    # channels; groups=2 checks the per-group layout of ConvTranspose weights.
    for groups in (1, 2):
        net = nn.Sequential(nn.ConvTranspose2d(4, 6, 3, 2, 1, groups=groups, bias=True), nn.BatchNorm2d(6))
        randomise_batchnorm(net, seed=groups)
        x = torch.randn(2, 4, 5, 5)
        with torch.no_grad():
            torch.testing.assert_close(fold_batchnorm(net)(x), net.eval()(x), atol=1e-5, rtol=0)


def test_batchnorm_that_does_not_follow_a_convolution_is_refused():
    with pytest.raises(FoldError, match="does not follow a convolution") as info:
        fold_batchnorm(nn.Sequential(nn.ReLU(), nn.BatchNorm2d(3)))
    assert isinstance(info.value, ExportError)
