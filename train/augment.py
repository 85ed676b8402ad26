"""Differentiable augmentation (Zhao et al. 2020, "DiffAugment") for training on little data.

The discriminator sees real and generated images through the same random transformations,
and the generator's loss flows back through them, so the discriminator cannot memorise the
small training set while the generator still learns the untransformed distribution.  Every op
works on a batch in [-1, 1], draws its randomness from the caller's torch.Generator (so a run
resumes exactly) and is differentiable in the images.

Channels: grey (1), RGB (3), or RGBA with premultiplied alpha (4).  Translation and cutout move
or blank every channel, alpha included: what they uncover is 0 for grey and RGB, as in
DiffAugment, and the transparent pixel (-1 in every channel, (0, 0, 0, 0) in uint8) for RGBA.
The colour ops change colour only and keep RGBA premultiplied: brightness adds b x alpha, and
saturation and contrast, linear in the colour, blend towards means that are premultiplied too
(the per-pixel colour mean; the image's alpha-weighted mean colour x each pixel's alpha), so
a transparent pixel stays transparent and an opaque one changes as in RGB.  Saturation does
nothing to one channel.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

OPS = ("color", "translation", "cutout")


def parse_policy(text: str) -> tuple[str, ...]:
    """"color,translation,cutout" -> ("color", "translation", "cutout"); "" or "none" -> ()."""
    if text.strip().lower() == "none":
        return ()
    ops = tuple(op.strip() for op in text.split(",") if op.strip())
    unknown = [op for op in ops if op not in OPS]
    if unknown:
        raise ValueError(f"unknown augmentation {unknown[0]!r}: choose from {', '.join(OPS)}")
    return ops


def _uniform(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """One U(0, 1) draw per image, shaped to broadcast over (C, H, W)."""
    return torch.rand(x.shape[0], 1, 1, 1, device=x.device, generator=gen, dtype=x.dtype)


def color(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    if x.shape[1] == 4:
        return _color_premultiplied(x, gen)
    x = x + (_uniform(x, gen) - 0.5)  # brightness
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_uniform(x, gen) * 2) + mean  # saturation (none for one channel)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_uniform(x, gen) + 0.5) + mean  # contrast


def _color_premultiplied(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """color() on RGBA with premultiplied alpha, in [0, 1] units: c = colour x alpha."""
    c, a = (x[:, :3] + 1) / 2, (x[:, 3:] + 1) / 2
    c = c + (_uniform(x, gen) - 0.5) / 2 * a  # brightness: RGB's shift, in these units, x alpha
    mean = c.mean(dim=1, keepdim=True)  # premultiplied: (mean straight colour) x alpha
    c = (c - mean) * (_uniform(x, gen) * 2) + mean  # saturation
    visible = a.sum(dim=(1, 2, 3), keepdim=True).clamp_min(1e-6)
    mean = c.sum(dim=(1, 2, 3), keepdim=True) / (3 * visible) * a  # mean colour x alpha
    c = (c - mean) * (_uniform(x, gen) + 0.5) + mean  # contrast
    return torch.cat([c * 2 - 1, x[:, 3:]], dim=1).contiguous(memory_format=_format(x))


def _blank(x: torch.Tensor) -> float:
    """What translation and cutout leave: 0, or for RGBA the transparent pixel."""
    return -1.0 if x.shape[1] == 4 else 0.0


def translation(x: torch.Tensor, gen: torch.Generator, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to ratio * size pixels per axis; uncovered pixels become blank."""
    n, _, h, w = x.shape
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sy, sy + 1, (n, 1, 1), device=x.device, generator=gen)
    dx = torch.randint(-sx, sx + 1, (n, 1, 1), device=x.device, generator=gen)
    # Index into a copy padded by one blank pixel; out-of-range positions land on the padding.
    rows = (torch.arange(h, device=x.device).view(1, h, 1) + dy + 1).clamp_(0, h + 1)
    cols = (torch.arange(w, device=x.device).view(1, 1, w) + dx + 1).clamp_(0, w + 1)
    padded = F.pad(x, (1, 1, 1, 1), value=_blank(x)).permute(0, 2, 3, 1)  # (n, h+2, w+2, c)
    batch = torch.arange(n, device=x.device).view(n, 1, 1)
    return padded[batch, rows, cols].permute(0, 3, 1, 2).contiguous(memory_format=_format(x))


def cutout(x: torch.Tensor, gen: torch.Generator, ratio: float = 0.5) -> torch.Tensor:
    """Blank one square of ratio * size per image, centred anywhere (it may hang off an edge)."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), device=x.device, generator=gen)
    cx = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), device=x.device, generator=gen)
    ys = torch.arange(h, device=x.device).view(1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, w)
    top, left = cy - ch // 2, cx - cw // 2
    inside = (ys >= top) & (ys < top + ch) & (xs >= left) & (xs < left + cw)
    keep = (~inside).unsqueeze(1).to(x.dtype)
    blank = _blank(x)
    return x * keep if blank == 0 else (x - blank) * keep + blank


def _format(x: torch.Tensor) -> torch.memory_format:
    return torch.channels_last if x.is_contiguous(memory_format=torch.channels_last) \
        and not x.is_contiguous() else torch.contiguous_format


_FUNCTIONS = {"color": color, "translation": translation, "cutout": cutout}


def diff_augment(x: torch.Tensor, policy: tuple[str, ...], gen: torch.Generator) -> torch.Tensor:
    for op in policy:
        x = _FUNCTIONS[op](x, gen)
    return x
