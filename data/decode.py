"""Decode one image file's bytes into a square uint8 RGB array.

Pure Pillow + numpy (no torch), so decoding can run anywhere and is easy to test.
Every input ends up as an opaque (size, size, 3) array: transparency is composited over a
background colour first, then the picture is stretched or padded to a square and resized.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

# Bump when decoding changes the pixels of common files: it is part of the dataset's
# fingerprint, so a bump makes every run refuse to resume on the same images. A fix that
# changes rare files only (16-bit grey PNGs, no longer scaled by each image's maximum) bumps
# dataset.py's cache format instead: caches are decoded again, fingerprints stay.
DECODER_VERSION = 1

# Lower-case suffixes that count as images; anything else in a folder or zip is ignored.
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".gif", ".webp", ".bmp"})

# Only these Pillow plugins may open a file: a renamed TIFF/PSD/EPS is "unreadable", not
# silently decoded by a plugin nobody meant to expose. (The JPEG plugin also opens the
# multi-picture "MPO" JPEGs of many cameras, reporting format "MPO".)
_FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP")

FITS = ("stretch", "pad")

_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
# Of the formats above only PNG stores more than 8 bits per grey sample, and Pillow opens such
# a file (16 bits, by the PNG standard) as one of these modes.
_WIDE_GREY_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N"})
_16_TO_8 = 255.0 / 65535.0


@dataclass(frozen=True)
class DecodeOptions:
    """Everything besides the file bytes that decides the decoded pixels."""

    size: int = 64
    fit: str = "stretch"
    background: tuple[int, int, int] = (255, 255, 255)

    def key(self) -> dict:
        """Plain-JSON form, hashed into the dataset fingerprint."""
        return {
            "decoder": DECODER_VERSION,
            "size": self.size,
            "fit": self.fit,
            "background": list(self.background),
        }


def _flatten(im: Image.Image) -> tuple[Image.Image, Image.Image | None]:
    """Return (RGB image, alpha mask or None). Handles palette/grey/RGB colour keys too."""
    if im.mode in _WIDE_GREY_MODES:
        # 16-bit grey PNGs: scaled to 8 bits by the format's range, never by the image's own
        # maximum (a dark image would come out up to 257x too bright); convert() would clip.
        grey = np.asarray(im, dtype=np.float64)
        im = Image.fromarray(np.clip(grey * _16_TO_8 + 0.5, 0, 255).astype(np.uint8), "L")
    if im.mode in _ALPHA_MODES or "transparency" in im.info:
        # convert() turns a palette transparency index or an RGB/L colour key into alpha.
        rgba = im.convert("RGBA")
        alpha = rgba.getchannel("A")
        if alpha.getextrema() == (255, 255):
            return rgba.convert("RGB"), None
        return rgba.convert("RGB"), alpha
    return im.convert("RGB"), None


def _resample_filter(src: tuple[int, int], size: int) -> Image.Resampling:
    # Shrinking (photos, large sprites): Lanczos, the widest antialiasing window Pillow has,
    # keeps edges sharp without aliasing. Enlarging (small pixel-art sprites): bicubic, because
    # Lanczos' stronger negative lobes ring visibly around hard sprite/background edges.
    return Image.Resampling.LANCZOS if max(src) > size else Image.Resampling.BICUBIC


def decode_image(data: bytes, opts: DecodeOptions) -> np.ndarray:
    """Decode ``data`` (one image file) into a C-contiguous uint8 array (size, size, 3).

    Raises whatever Pillow raises for a bad file (OSError, SyntaxError, ValueError, ...);
    the caller decides that the file is unreadable and skips it.
    """
    size = opts.size
    with Image.open(io.BytesIO(data), formats=_FORMATS) as im:
        # Animated GIF/WebP: Image.open is positioned on the first frame already.
        if im.format in ("JPEG", "MPO"):
            # DCT-domain downscale while decoding big photos; never below ``size`` per side.
            im.draft(None, (size, size))
        if im.format in ("JPEG", "MPO", "WEBP"):
            im = ImageOps.exif_transpose(im)
        rgb, alpha = _flatten(im)

    w, h = rgb.size
    if opts.fit == "pad" and w != h:
        side = max(w, h)
        canvas = Image.new("RGB", (side, side), opts.background)
        canvas.paste(rgb, ((side - w) // 2, (side - h) // 2), alpha)
        rgb, alpha = canvas, None
    elif alpha is not None:
        canvas = Image.new("RGB", (w, h), opts.background)
        canvas.paste(rgb, (0, 0), alpha)  # straight-alpha blend: rgb * a + bg * (1 - a)
        rgb = canvas

    if rgb.size != (size, size):
        # reducing_gap: a cheap integer box reduction first for huge photos; at 3.0 the
        # result is indistinguishable from a full Lanczos pass (Pillow's documentation).
        rgb = rgb.resize((size, size), _resample_filter(rgb.size, size), reducing_gap=3.0)
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))
