"""Fold eval-mode BatchNorm into the convolution before it.

ONNX Runtime fuses Conv+BatchNormalization itself but not ConvTranspose+BatchNormalization, so
an unfolded generator pays for four extra normalisation passes at every sample. Folding here
also makes the graph the same whichever exporter optimisations run.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from .errors import FoldError

_CONVS = (nn.Conv2d, nn.ConvTranspose2d)


def fold_batchnorm(module: nn.Module) -> nn.Module:
    """A deep copy of ``module`` in eval mode with every BatchNorm2d folded away.

    Each BatchNorm2d must directly follow a Conv2d or ConvTranspose2d in the same
    nn.Sequential; it becomes nn.Identity and the convolution gains the scale and a bias.
    The copy computes what the original computes in eval mode; the original is not touched.
    """
    folded = copy.deepcopy(module).eval()
    for seq in [m for m in folded.modules() if isinstance(m, nn.Sequential)]:
        names = list(seq._modules)
        for prev, name in zip([None, *names], names):
            bn = seq._modules[name]
            if not isinstance(bn, nn.BatchNorm2d):
                continue
            conv = seq._modules[prev] if prev is not None else None
            if not isinstance(conv, _CONVS):
                raise FoldError(f"BatchNorm2d '{name}' does not follow a convolution; cannot fold it")
            _fold_into(conv, bn)
            seq._modules[name] = nn.Identity()
    leftover = [n for n, m in folded.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if leftover:
        raise FoldError(f"BatchNorm outside an nn.Sequential cannot be folded: {', '.join(leftover)}")
    return folded


@torch.no_grad()
def _fold_into(conv: nn.Conv2d | nn.ConvTranspose2d, bn: nn.BatchNorm2d) -> None:
    if bn.running_mean is None or bn.running_var is None:
        raise FoldError("BatchNorm2d without running statistics normalises by batch; cannot fold it")
    # Work in float64 so that folding adds no rounding beyond the final cast.
    mean = bn.running_mean.double()
    scale = torch.rsqrt(bn.running_var.double() + bn.eps)
    if bn.affine:
        scale = scale * bn.weight.double()
    shift = bn.bias.double() if bn.affine else torch.zeros_like(mean)
    bias = conv.bias.double() if conv.bias is not None else torch.zeros_like(mean)

    w = conv.weight.double()
    if isinstance(conv, nn.ConvTranspose2d):
        # Layout (in, out / groups, kH, kW): output channels sit on dim 1, within each group.
        g = conv.groups
        w = w.reshape(g, w.shape[0] // g, w.shape[1], *w.shape[2:])
        w = w * scale.reshape(g, 1, -1, 1, 1)
        w = w.reshape(conv.weight.shape)
    else:
        # Layout (out, in / groups, kH, kW): output channels on dim 0.
        w = w * scale.reshape(-1, 1, 1, 1)

    dtype = conv.weight.dtype
    conv.weight = nn.Parameter(w.to(dtype))
    conv.bias = nn.Parameter(((bias - mean) * scale + shift).to(dtype))
