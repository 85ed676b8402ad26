"""The DCGAN of Radford et al. (2015), laid out as in the d2l.ai chapter.

Shapes are given for the default sizes (latent 100, width 64, 64x64 RGB).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild both networks; stored in every checkpoint."""

    latent_dim: int = 100
    g_width: int = 64  # generator channels before the RGB layer
    d_width: int = 64  # discriminator channels after the first block
    channels: int = 3
    image_size: int = 64  # fixed by the four stride-2 stages below

    def __post_init__(self) -> None:
        for name in ("latent_dim", "g_width", "d_width", "channels"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.image_size != 64:
            raise ValueError("only 64x64 images are supported")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        return cls(**known)


def g_block(c_in: int, c_out: int, stride: int = 2, padding: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.ConvTranspose2d(c_in, c_out, 4, stride, padding, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


def d_block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.LeakyReLU(0.2, inplace=True),
    )


class Generator(nn.Module):
    """z (N, latent, 1, 1) -> image (N, 3, 64, 64) in [-1, 1]."""

    def __init__(self, cfg: ModelConfig = ModelConfig()):
        super().__init__()
        self.cfg = cfg
        w = cfg.g_width
        self.net = nn.Sequential(
            g_block(cfg.latent_dim, w * 8, stride=1, padding=0),  # (512, 4, 4)
            g_block(w * 8, w * 4),  # (256, 8, 8)
            g_block(w * 4, w * 2),  # (128, 16, 16)
            g_block(w * 2, w),  # (64, 32, 32)
            nn.ConvTranspose2d(w, cfg.channels, 4, 2, 1, bias=False),  # (3, 64, 64)
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class Discriminator(nn.Module):
    """image (N, 3, 64, 64) -> one logit per image, shape (N, 1, 1, 1)."""

    def __init__(self, cfg: ModelConfig = ModelConfig()):
        super().__init__()
        self.cfg = cfg
        w = cfg.d_width
        self.net = nn.Sequential(
            d_block(cfg.channels, w),  # (64, 32, 32)
            d_block(w, w * 2),  # (128, 16, 16)
            d_block(w * 2, w * 4),  # (256, 8, 8)
            d_block(w * 4, w * 8),  # (512, 4, 4)
            nn.Conv2d(w * 8, 1, 4, bias=False),  # (1, 1, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


INIT_STYLES = ("d2l", "dcgan")


def init_weights(module: nn.Module, style: str = "d2l") -> None:
    """Initialise in place.

    "d2l": every parameter, BatchNorm scale and shift included, from N(0, 0.02), as the
    d2l chapter does.  "dcgan": convolutions N(0, 0.02), BatchNorm scale N(1, 0.02) and
    shift 0, as pytorch/examples does.
    """
    if style not in INIT_STYLES:
        raise ValueError(f"unknown init style {style!r}")
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0 if style == "dcgan" else 0.0, 0.02)
            if style == "dcgan":
                nn.init.zeros_(m.bias)
            else:
                nn.init.normal_(m.bias, 0.0, 0.02)


def build_models(
    cfg: ModelConfig = ModelConfig(), init: str = "d2l"
) -> tuple[Generator, Discriminator]:
    g, d = Generator(cfg), Discriminator(cfg)
    init_weights(g, init)
    init_weights(d, init)
    return g, d


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@torch.no_grad()
def recompute_batchnorm_stats(
    generator: nn.Module, latent_dim: int, *, samples: int = 1024, batch_size: int = 128,
    seed: int = 0,
) -> None:
    """Replace every BatchNorm's running statistics by their average over fixed random latents.

    Running statistics describe the weights they were gathered with.  Weights that were not
    trained step by step (an EMA average) have none of their own, and eval-mode samples from
    mismatched statistics come out washed out or flat.  Here the generator runs in train mode
    over ``samples`` latents drawn from its own seeded stream (the caller's RNG is untouched),
    with momentum None so the result is the plain average over the batches, and is left in
    eval mode.
    """
    bns = [m for m in generator.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    device = next(generator.parameters()).device
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    rng = torch.Generator(device).manual_seed(seed)
    generator.train()
    for _ in range(max(1, samples // batch_size)):
        generator(torch.randn(batch_size, latent_dim, 1, 1, generator=rng, device=device))
    for m, momentum in zip(bns, momenta):
        m.momentum = momentum
    generator.eval()
