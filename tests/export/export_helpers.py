"""Checkpoints and small helpers shared by the export tests (widths 8: a few hundred KB)."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from dcgan.train.checkpoint import atomic_save, make_checkpoint
from dcgan.train.model import ModelConfig, build_models

SMALL = ModelConfig(g_width=8, d_width=8)
DATASET = {"name": "sprites-test", "fingerprint": "f00dcafe", "count": 12}


def randomise_batchnorm(module: nn.Module, seed: int) -> None:
    """Give every BatchNorm non-trivial running stats and affine terms, as training would,
    so that folding mistakes change the output."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(torch.rand(n, generator=g) - 0.5)
                m.running_var.copy_(torch.rand(n, generator=g) * 1.5 + 0.5)
                m.weight.copy_(torch.rand(n, generator=g) + 0.5)
                m.bias.copy_(torch.rand(n, generator=g) - 0.5)


def calibrate_batchnorm(module: nn.Module, inputs: torch.Tensor) -> None:
    """Set the running statistics from forward passes, as training would: the signal then
    stays normalised through the layers (random statistics would let it fade to the biases,
    making every output nearly the same and hiding mistakes)."""
    bns = [m for m in module.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the passes
    module.train()
    with torch.no_grad():
        for chunk in inputs.split(8):
            module(chunk)
    for m in bns:
        m.momentum = 0.1
    module.eval()


def trained_like_models(cfg: ModelConfig = SMALL, seed: int = 0):
    """(generator, discriminator, ema generator) in eval mode with realistic BatchNorm state."""
    torch.manual_seed(seed)
    g, d = build_models(cfg, init="dcgan")
    g_ema, _ = build_models(cfg, init="dcgan")
    for i, m in enumerate((g, d, g_ema)):
        randomise_batchnorm(m, seed * 10 + i)
    z = torch.randn(16, cfg.latent_dim, 1, 1)
    for gen in (g, g_ema):
        calibrate_batchnorm(gen, z)
    calibrate_batchnorm(d, torch.rand(16, cfg.channels, cfg.image_size, cfg.image_size) * 2 - 1)
    return g, d, g_ema


def write_run(folder: Path, cfg: ModelConfig = SMALL, *, ema: bool = True, seed: int = 0,
              dataset: dict = DATASET) -> Path:
    """A run folder with a checkpoint.pt (epoch 3, step 42); returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    g, d, g_ema = trained_like_models(cfg, seed)
    ckpt = make_checkpoint(
        cfg, g, d, generator_ema=g_ema if ema else None, epoch=3, step=42, dataset=dataset
    )
    atomic_save(ckpt, folder / "checkpoint.pt")
    return folder


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())
