"""Images as uint8 arrays: the conversion from network outputs, grids, and PNG encoding.

Every part of dcgan-edge that turns a network's floats into pixels, or pixels back into a
network's input, does it here, so training samples, exported models and the runtimes round
alike. Arrays are (N, H, W, C) uint8, C in 1-4; network tensors are (N, C, H, W) floats.

Four channels are RGBA with premultiplied alpha (PREMULTIPLIED) in arrays and tensors alike:
colour = straight colour x alpha, so every fully transparent pixel is (0, 0, 0, 0) and
compositing over a background is exact, out = colour + background x (1 - alpha). Picture
files hold straight alpha, as PNG defines it: ``unpremultiply`` on the way out.
"""
from __future__ import annotations

import os
import struct
import zlib

import numpy as np

from .errors import NonFiniteError

DEFAULT_RANGE = (-1.0, 1.0)


def to_uint8(x: np.ndarray, output_range: tuple[float, float] = DEFAULT_RANGE) -> np.ndarray:
    """(N, C, H, W) floats in ``output_range`` -> (N, H, W, C) uint8, rounded to nearest (ties
    to even) and clipped, as image writers do. NaN or infinite values raise NonFiniteError:
    cast to uint8 they would become black or arbitrary pixels, silently."""
    lo, hi = output_range
    y = np.asarray(x).astype(np.float32, copy=True)
    finite = np.isfinite(y).reshape(len(y), -1).all(axis=1)
    if not finite.all():
        raise NonFiniteError(f"the network computed NaN or infinite values for {int((~finite).sum())} "
                             f"of {len(y)} images; its weights are damaged or diverged")
    y -= lo
    y *= 255.0 / (hi - lo)
    np.rint(y, out=y)
    np.clip(y, 0.0, 255.0, out=y)
    return np.ascontiguousarray(y.transpose(0, 2, 3, 1)).astype(np.uint8)


def from_uint8(images: np.ndarray, dtype=np.float32) -> np.ndarray:
    """(N, H, W, C) uint8 -> (N, C, H, W) floats in [-1, 1]: what a discriminator scores."""
    x = np.asarray(images).transpose(0, 3, 1, 2).astype(np.float32) * (2.0 / 255.0) - 1.0
    return x.astype(dtype, copy=False)


# -- alpha ------------------------------------------------------------------------------------

IMAGE_SIZES = (32, 64, 128, 256)  # the sides dcgan-train builds networks for
CHANNELS = (1, 3, 4)  # the images dcgan-edge trains on: grey, RGB, RGBA (premultiplied)
PREMULTIPLIED = "premultiplied"  # the name of the convention, as configs and metadata record it
CHECKER = ((255, 255, 255), (204, 204, 204))  # the light and dark squares of a preview
CHECKER_SQUARE = 8


def _colour_alpha(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8 or pixels.ndim < 1 or pixels.shape[-1] != 4:
        raise ValueError(f"expected uint8 RGBA (..., 4) pixels, got {pixels.dtype} {pixels.shape}")
    return pixels[..., :3].astype(np.int32), pixels[..., 3:].astype(np.int32)


def premultiply(straight: np.ndarray) -> np.ndarray:
    """uint8 straight-alpha RGBA -> premultiplied: colour x alpha / 255 rounded to nearest,
    exactly as Pillow converts RGBA to RGBa."""
    colour, alpha = _colour_alpha(straight)
    out = np.asarray(straight).copy()
    out[..., :3] = (2 * colour * alpha + 255) // 510
    return out


def clamp_to_alpha(premultiplied: np.ndarray) -> np.ndarray:
    """Colour limited to its alpha, the most a premultiplied pixel holds: a network's output
    or a resampled image (filter overshoot at edges) can exceed it."""
    _colour_alpha(premultiplied)
    out = np.array(premultiplied, copy=True)
    np.minimum(out[..., :3], out[..., 3:], out=out[..., :3])
    return out


def unpremultiply(premultiplied: np.ndarray) -> np.ndarray:
    """uint8 premultiplied RGBA -> straight alpha, as PNG stores it: colour x 255 / alpha
    rounded to nearest and clipped to 255 (a colour above its alpha); a pixel of alpha 0
    becomes (0, 0, 0, 0)."""
    colour, alpha = _colour_alpha(premultiplied)
    straight = (2 * 255 * colour + alpha) // (2 * np.maximum(alpha, 1))
    straight *= alpha > 0
    out = np.asarray(premultiplied).copy()
    out[..., :3] = np.minimum(straight, 255)
    return out


def composite(premultiplied: np.ndarray, background) -> np.ndarray:
    """uint8 premultiplied RGBA over an opaque ``background`` (an RGB colour, or uint8 pixels
    that broadcast to the image's) -> uint8 RGB: colour + background x (255 - alpha) / 255,
    rounded to nearest and clipped."""
    colour, alpha = _colour_alpha(premultiplied)
    bg = np.asarray(background, dtype=np.int32)
    out = colour + (2 * bg * (255 - alpha) + 255) // 510
    return np.minimum(out, 255).astype(np.uint8)


def generated_images(y: np.ndarray, output_range: tuple[float, float] = (-1.0, 1.0)) -> np.ndarray:
    """A generator's (N, C, H, W) output -> the uint8 (N, H, W, C) images a user gets: rounded
    (to_uint8), and for RGBA each colour clamped to its alpha, the most a premultiplied pixel
    holds (the network's colour can exceed it)."""
    images = to_uint8(y, output_range)
    return clamp_to_alpha(images) if images.shape[-1] == 4 else images


def checkerboard(height: int, width: int, square: int = CHECKER_SQUARE) -> np.ndarray:
    """uint8 (height, width, 3) squares of CHECKER, the usual backdrop that shows transparency."""
    ys, xs = np.arange(height) // square, np.arange(width) // square
    dark = (ys[:, None] + xs[None, :]) % 2
    return np.asarray(CHECKER, dtype=np.uint8)[dark]


def over_checkerboard(premultiplied: np.ndarray, square: int = CHECKER_SQUARE) -> np.ndarray:
    """An (H, W, 4) premultiplied image shown over a checkerboard: opaque (H, W, 3) uint8."""
    h, w = np.asarray(premultiplied).shape[:2]
    return composite(premultiplied, checkerboard(h, w, square))


# -- grids ------------------------------------------------------------------------------------
# Laid out like torchvision's make_grid: ``nrow`` images per row, ``padding`` pixels around
# every tile.

def grid_size(n: int, tile: tuple[int, int], nrow: int, padding: int) -> tuple[int, int]:
    """(height, width) in pixels of a grid of n tiles of (h, w)."""
    cols = min(nrow, n)
    rows = -(-n // nrow)
    h, w = tile
    return rows * (h + padding) + padding, cols * (w + padding) + padding


class GridCanvas:
    """A grid filled tile by tile, so images can arrive in chunks and be dropped after pasting."""

    def __init__(self, n: int, tile_shape: tuple[int, int, int], nrow: int = 7, padding: int = 2,
                 pad_value: int = 0):
        if n < 1 or nrow < 1 or padding < 0:
            raise ValueError("a grid needs n >= 1, nrow >= 1 and padding >= 0")
        self.n, self.nrow, self.padding = n, nrow, padding
        self.tile_shape = tile_shape
        gh, gw = grid_size(n, tile_shape[:2], nrow, padding)
        self.pixels = np.full((gh, gw, tile_shape[2]), pad_value, dtype=np.uint8)
        self.filled = 0

    def paste(self, images: np.ndarray) -> None:
        h, w = self.tile_shape[:2]
        p = self.padding
        for img in images:
            if self.filled >= self.n:
                raise ValueError("more images than the grid has tiles")
            r, c = divmod(self.filled, self.nrow)
            y, x = p + r * (h + p), p + c * (w + p)
            self.pixels[y : y + h, x : x + w] = img
            self.filled += 1


def make_grid(images: np.ndarray, nrow: int = 7, padding: int = 2, pad_value: int = 0) -> np.ndarray:
    """uint8 (H, W, C) grid of uint8 (n, h, w, C) images."""
    images = np.asarray(images)
    canvas = GridCanvas(len(images), images.shape[1:], nrow, padding, pad_value)
    canvas.paste(images)
    return canvas.pixels


def picture_grid(images: np.ndarray, nrow: int = 7, padding: int = 2,
                 pad_value: int = 0) -> np.ndarray:
    """The grid a picture file holds of uint8 (n, h, w, C) images: for 1 or 3 channels,
    make_grid's; for 4 (premultiplied), transparent gaps and straight alpha, as PNG stores it."""
    images = np.asarray(images)
    if images.shape[-1] != 4:
        return make_grid(images, nrow, padding, pad_value)
    return unpremultiply(make_grid(images, nrow, padding, 0))


# -- PNG --------------------------------------------------------------------------------------
# Written here, not by Pillow: importing Pillow and its format plugins took ~20 ms of
# dcgan-gen's ~220 ms cold start.

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# PNG colour type per channel count: grey, grey+alpha, RGB, RGBA.
_PNG_COLOUR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


_PNG_END = _png_chunk(b"IEND", b"")


def encode_png(pixels: np.ndarray, level: int = 3) -> bytes:
    """A PNG file of one uint8 (H, W, C) image, C in 1-4, with the standard library's zlib.

    Every row uses the "Up" filter (difference to the row above), vectorised: ~1% smaller
    files than no filtering on a 21-image grid. zlib level 3: 3-5 ms for that grid, where
    level 6 took 4-20 ms (smooth images are the slow case) for files 2-8% smaller.
    """
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] not in _PNG_COLOUR_TYPE:
        raise ValueError(f"expected a uint8 (H, W, 1-4) image, got {pixels.dtype} {pixels.shape}")
    h, w, c = pixels.shape
    if h == 0 or w == 0:
        raise ValueError(f"a PNG needs at least one pixel, got {h}x{w}")
    rows = np.ascontiguousarray(pixels).reshape(h, w * c)
    raw = np.empty((h, w * c + 1), dtype=np.uint8)
    raw[:, 0] = 2  # filter type Up; the first row is filtered against zeros
    raw[:, 1:] = rows
    raw[1:, 1:] -= rows[:-1]  # uint8 arithmetic wraps modulo 256, as PNG's filters do
    header = struct.pack(">IIBBBBB", w, h, 8, _PNG_COLOUR_TYPE[c], 0, 0, 0)
    return b"".join((
        PNG_SIGNATURE,
        _png_chunk(b"IHDR", header),
        _png_chunk(b"IDAT", zlib.compress(raw.tobytes(), level)),
        _PNG_END,
    ))


def is_whole_png(path: str | os.PathLike, max_bytes: int = 64 << 20) -> bool:
    """True when the file is a whole PNG: its signature, then chunks whose CRCs all match,
    ending with IEND.

    Files written by dcgan-edge are whole (temp file, then rename), but a folder merged by
    copying can hold truncated, empty or damaged ones; a resumed job rewrites those instead of
    counting them done. Checking every chunk's CRC reads the file once (~12 KB for a 64x64
    sprite); a file over ``max_bytes`` is not one of ours."""
    try:
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
    except OSError:
        return False
    if len(data) > max_bytes or not data.startswith(PNG_SIGNATURE):
        return False
    pos = len(PNG_SIGNATURE)
    while pos + 12 <= len(data):
        (length,) = struct.unpack_from(">I", data, pos)
        end = pos + 12 + length
        if end > len(data):
            return False
        kind = data[pos + 4 : pos + 8]
        (crc,) = struct.unpack_from(">I", data, end - 4)
        if zlib.crc32(data[pos + 4 : end - 4]) != crc:
            return False
        if kind == b"IEND":
            return end == len(data)
        pos = end
    return False
