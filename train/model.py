"""The DCGAN of Radford et al. (2015), laid out as in the d2l.ai chapter, at 32 to 256 pixels.

The generator starts from a 4x4 block and doubles the side with one stride-2 transposed
convolution per stage up to ``image_size``; the discriminator mirrors it.  Widths, from the
image inwards: ``g_width`` (``d_width``) channels at half the image side, doubling with each
halving of the side, at most 8x.  At 64x64 these are the d2l chapter's networks, module for
module (3,576,704 and 2,765,696 parameters at the default widths); docs/results.md lists the
parameter counts per size.  Shapes below are for the defaults (latent 100, widths 64):

    image_size   generator stages (channels, side)                  discriminator mirrors it
    32           (256, 4) (128, 8) (64, 16) -> (C, 32)
    64           (512, 4) (256, 8) (128, 16) (64, 32) -> (C, 64)
    128          (512, 4) (512, 8) (256, 16) (128, 32) (64, 64) -> (C, 128)
    256          (512, 4) (512, 8) (512, 16) (256, 32) (128, 64) (64, 128) -> (C, 256)

C, ``channels``: 1 grey, 3 RGB, 4 RGBA with premultiplied alpha (colour x alpha, the
representation dcgan.core.images converts; ``ModelConfig.alpha`` names it).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from dcgan.core.images import CHANNELS, IMAGE_SIZES, PREMULTIPLIED

_FIRST_SIDE = 4  # the side of the generator's first block and the discriminator's last
_MAX_WIDTH = 8  # the widest stage, as a multiple of g_width / d_width


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild both networks; stored in every checkpoint."""

    latent_dim: int = 100
    g_width: int = 64  # generator channels before the image layer
    d_width: int = 64  # discriminator channels after the first block
    channels: int = 3  # one of CHANNELS
    image_size: int = 64  # one of IMAGE_SIZES

    def __post_init__(self) -> None:
        for name in ("latent_dim", "g_width", "d_width"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.channels not in CHANNELS:
            raise ValueError(f"channels must be one of {', '.join(map(str, CHANNELS))}, "
                             f"got {self.channels}")
        if self.image_size not in IMAGE_SIZES:
            raise ValueError(f"image_size must be one of {', '.join(map(str, IMAGE_SIZES))}, "
                             f"got {self.image_size}")

    @property
    def alpha(self) -> str | None:
        """How the images hold transparency: "premultiplied" for 4 channels, else None."""
        return PREMULTIPLIED if self.channels == 4 else None

    def to_dict(self) -> dict:
        # alpha is derived, and stored for readers of the checkpoint that do not rebuild it.
        return {**asdict(self), "alpha": self.alpha}

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        return cls(**known)


def stage_widths(width: int, image_size: int) -> list[int]:
    """Channels of each stage from the 4x4 one to the one at half the image side: ``width``
    at the last, doubling towards the first, at most 8x ``width``."""
    stages = (image_size // _FIRST_SIDE).bit_length() - 1  # 4x4 up to image_size / 2
    return [width * min(_MAX_WIDTH, 2 ** (stages - 1 - i)) for i in range(stages)]


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
    """z (N, latent, 1, 1) -> image (N, channels, size, size) in [-1, 1]."""

    def __init__(self, cfg: ModelConfig = ModelConfig()):
        super().__init__()
        self.cfg = cfg
        widths = stage_widths(cfg.g_width, cfg.image_size)  # 64x64: [512, 256, 128, 64]
        layers = [g_block(cfg.latent_dim, widths[0], stride=1, padding=0)]  # (512, 4, 4)
        for c_in, c_out in zip(widths, widths[1:]):
            layers.append(g_block(c_in, c_out))  # (256, 8, 8) (128, 16, 16) (64, 32, 32)
        layers += [
            nn.ConvTranspose2d(widths[-1], cfg.channels, 4, 2, 1, bias=False),  # (3, 64, 64)
            nn.Tanh(),
        ]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class Discriminator(nn.Module):
    """image (N, channels, size, size) -> one logit per image, shape (N, 1, 1, 1)."""

    def __init__(self, cfg: ModelConfig = ModelConfig()):
        super().__init__()
        self.cfg = cfg
        widths = stage_widths(cfg.d_width, cfg.image_size)[::-1]  # 64x64: [64, 128, 256, 512]
        layers = [d_block(cfg.channels, widths[0])]  # (64, 32, 32)
        for c_in, c_out in zip(widths, widths[1:]):
            layers.append(d_block(c_in, c_out))  # (128, 16, 16) (256, 8, 8) (512, 4, 4)
        layers.append(nn.Conv2d(widths[-1], 1, 4, bias=False))  # (1, 1, 1)
        self.net = nn.Sequential(*layers)

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
