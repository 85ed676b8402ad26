"""Decode one image file's bytes into a square uint8 array of 1, 3 or 4 channels.

Pure Pillow + numpy (no torch), so decoding can run anywhere and is easy to test.
For 1 and 3 channels every input ends up opaque: transparency is composited over a background
colour first, then the picture is stretched or padded to a square, resized, and for 1 channel
turned to grey (ITU-R 601 luma, as Pillow's "L"). For 4 channels transparency is kept:
palette transparency and colour keys become alpha, an image without alpha gets an opaque one,
padding is transparent, and the result is RGBA with premultiplied alpha (dcgan.core.images):
Pillow converts to "RGBa" (colour x alpha / 255, rounded to nearest) before resizing, so
resampling mixes colours weighted by their alpha, and the colour is then clamped to the alpha
where the filter's overshoot exceeded it. Every fully transparent pixel is (0, 0, 0, 0).
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

from dcgan.core.images import CHANNELS, clamp_to_alpha

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
    background: tuple[int, int, int] = (255, 255, 255)  # unused by 4 channels
    channels: int = 3

    def key(self) -> dict:
        """Plain-JSON form, hashed into the dataset fingerprint.  RGB has the key of the
        versions before grey and RGBA (no "channels"), so the fingerprints stored in their
        checkpoints still match; 4 channels have no background to name."""
        key = {"decoder": DECODER_VERSION, "size": self.size, "fit": self.fit}
        if self.channels != 4:
            key["background"] = list(self.background)
        if self.channels != 3:
            key["channels"] = self.channels
        return key


def _wide_grey_to_8_bits(im: Image.Image) -> Image.Image:
    if im.mode not in _WIDE_GREY_MODES:
        return im
    # 16-bit grey PNGs: scaled to 8 bits by the format's range, never by the image's own
    # maximum (a dark image would come out up to 257x too bright); convert() would clip.
    grey = np.asarray(im, dtype=np.float64)
    return Image.fromarray(np.clip(grey * _16_TO_8 + 0.5, 0, 255).astype(np.uint8), "L")


def _flatten(im: Image.Image) -> tuple[Image.Image, Image.Image | None]:
    """Return (RGB image, alpha mask or None). Handles palette/grey/RGB colour keys too."""
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


def _open(data: bytes, size: int) -> Image.Image:
    with Image.open(io.BytesIO(data), formats=_FORMATS) as im:
        # Animated GIF/WebP: Image.open is positioned on the first frame already.
        if im.format in ("JPEG", "MPO"):
            # DCT-domain downscale while decoding big photos; never below ``size`` per side.
            im.draft(None, (size, size))
        if im.format in ("JPEG", "MPO", "WEBP"):
            im = ImageOps.exif_transpose(im)
        im.load()
        return _wide_grey_to_8_bits(im)


def _resized(im: Image.Image, size: int) -> Image.Image:
    if im.size == (size, size):
        return im
    # reducing_gap: a cheap integer box reduction first for huge photos; at 3.0 the result
    # is indistinguishable from a full Lanczos pass (Pillow's documentation).
    return im.resize((size, size), _resample_filter(im.size, size), reducing_gap=3.0)


def _decode_rgba(im: Image.Image, opts: DecodeOptions) -> np.ndarray:
    rgba = im.convert("RGBA")  # palette transparency and colour keys included
    w, h = rgba.size
    if opts.fit == "pad" and w != h:
        side = max(w, h)
        canvas = Image.new("RGBA", (side, side), (0, 0, 0, 0))
        canvas.paste(rgba, ((side - w) // 2, (side - h) // 2))  # a copy, alpha included
        rgba = canvas
    premultiplied = _resized(rgba.convert("RGBa"), opts.size)
    return clamp_to_alpha(np.asarray(premultiplied, dtype=np.uint8))


def decode_image(data: bytes, opts: DecodeOptions) -> np.ndarray:
    """Decode ``data`` (one image file) into a C-contiguous uint8 array (size, size, channels).

    Raises whatever Pillow raises for a bad file (OSError, SyntaxError, ValueError, ...);
    the caller decides that the file is unreadable and skips it.
    """
    im = _open(data, opts.size)
    if opts.channels == 4:
        return np.ascontiguousarray(_decode_rgba(im, opts))
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

    if opts.channels == 1:
        return np.ascontiguousarray(np.asarray(_resized(rgb.convert("L"), opts.size))[..., None])
    return np.ascontiguousarray(np.asarray(_resized(rgb, opts.size), dtype=np.uint8))
