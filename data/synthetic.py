"""The ``fake`` dataset: coloured shapes on a plain (or, for RGBA, transparent) background, for
smoke tests.

Deterministic (a fixed seed), needs no files, and has enough structure (a few colours, three
shape families, varied size and position) that a small GAN visibly learns it in minutes.
"""
from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

DEFAULT_COUNT = 512  # two batches of the d2l recipe's batch size (256)
MAX_COUNT = 100_000
_SEED = 20240611
_SUPERSAMPLE = 4  # draw 4x larger, then box-filter down: antialiased edges

# Saturated colours that all stand out from a white (or any light) background.
_PALETTE = np.array(
    [(220, 40, 40), (40, 120, 220), (40, 170, 70), (240, 170, 20), (150, 60, 200), (20, 170, 170)],
    dtype=np.float64,
)


def _draw_one(draw: ImageDraw.ImageDraw, rng: np.random.Generator, side: int) -> None:
    colour = _PALETTE[rng.integers(len(_PALETTE))] + rng.uniform(-20, 20, size=3)
    fill = tuple(int(c) for c in np.clip(colour, 0, 255))
    radius = side * rng.uniform(0.18, 0.34)
    cx, cy = side * rng.uniform(0.35, 0.65, size=2)
    kind = rng.integers(3)
    if kind == 0:
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=fill)
    elif kind == 1:
        draw.rectangle((cx - radius, cy - radius, cx + radius, cy + radius), fill=fill)
    else:
        turn = rng.uniform(0, 2 * math.pi / 3)
        corners = [
            (cx + radius * math.cos(turn + k * 2 * math.pi / 3),
             cy + radius * math.sin(turn + k * 2 * math.pi / 3))
            for k in range(3)
        ]
        draw.polygon(corners, fill=fill)


def fake_images(count: int, size: int, background: tuple[int, int, int],
                channels: int = 3) -> np.ndarray:
    """``count`` images, uint8 (count, size, size, channels); image i is the same on every
    call.  3 channels: shapes on ``background``; 1: the same in grey; 4: opaque shapes on a
    transparent background, premultiplied, as decode.py makes RGBA images."""
    rng = np.random.default_rng(_SEED)
    out = np.empty((count, size, size, channels), dtype=np.uint8)
    big = size * _SUPERSAMPLE
    for i in range(count):
        if channels == 4:  # drawn straight, box-filtered premultiplied: exact antialiasing
            canvas = Image.new("RGBA", (big, big), (0, 0, 0, 0))
            _draw_one(ImageDraw.Draw(canvas), rng, big)
            small = canvas.convert("RGBa").resize((size, size), Image.Resampling.BOX)
        else:
            canvas = Image.new("RGB", (big, big), background)
            _draw_one(ImageDraw.Draw(canvas), rng, big)
            small = canvas.resize((size, size), Image.Resampling.BOX)
            small = small.convert("L") if channels == 1 else small
        out[i] = np.asarray(small).reshape(size, size, channels)
    return out
