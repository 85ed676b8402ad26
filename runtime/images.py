"""The files dcgan-gen writes: grids, single images, raw .npy stacks and GIF animations, all
atomically (dcgan.core.atomic). The output type follows the file extension; the limits of each
format are checked before any sampling.

Every writer takes images as the Generator makes them, uint8 (..., H, W, C): grey, RGB, or
RGBA with premultiplied alpha. What each file holds of RGBA:
  PNG, WebP  straight alpha, as both formats define it (core.images.unpremultiply); a grid has
             transparent gaps (core.images.picture_grid)
  .npy       straight alpha too, like the picture files: (n, H, W, 4) that any image library
             reads as RGBA (core.images.premultiply gives back the network's values exactly)
  JPEG, GIF  composited over white (ALPHA_BACKGROUND): JPEG has no alpha, and GIF's one-bit
             transparency would cut every soft edge; white is dcgan-train's default background
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from dcgan.core.atomic import PendingFile, atomic_path, atomic_write_bytes, cannot_write
from dcgan.core.errors import OutputError
from dcgan.core.images import GridCanvas, composite, encode_png, grid_size, make_grid, unpremultiply

__all__ = ["save_grid", "save_image", "save_gif", "save_npy", "make_grid", "NpyWriter",
           "check_grid", "extension", "GridCanvas", "grid_size", "file_pixels", "alpha_note"]

# Format name and Pillow save options per extension. PNG is written by dcgan.core.images'
# encoder, not Pillow (see there).
IMAGE_FORMATS = {
    ".png": ("PNG", {}),
    ".jpg": ("JPEG", {"quality": 95}),
    ".jpeg": ("JPEG", {"quality": 95}),
    ".webp": ("WEBP", {"quality": 95}),
}
GRID_EXTENSIONS = (*IMAGE_FORMATS, ".npy")
ANIMATION_EXTENSIONS = (".gif",)
# Largest side each format can store (pixels).
MAX_SIDE = {"PNG": 2**31 - 1, "JPEG": 65_535, "WEBP": 16_383, "GIF": 65_535}
# A grid is built in memory before it is encoded: cap it (4096 tiles of 64x64 is ~54 MB), and
# cap its bytes too, which a large --padding can inflate. GIF frames are held the same way.
MAX_GRID_IMAGES = 4096
MAX_GRID_BYTES = 256 * 2**20
MAX_ANIMATION_FRAMES = 4096
# RGBA goes over this colour into the formats that cannot hold its alpha.
ALPHA_BACKGROUND = (255, 255, 255)
FLATTENED_FORMATS = ("JPEG", "GIF")
# Pixels converted at once: bounds the int32 temporaries of the alpha conversions.
_CONVERT_PIXELS = 1 << 20


def extension(path: str | os.PathLike, allowed: Sequence[str]) -> str:
    ext = Path(path).suffix.lower()
    if ext not in allowed:
        raise OutputError(
            f"cannot tell the output type of {path}: use one of {', '.join(allowed)}"
        )
    return ext


def check_grid(path: str | os.PathLike, n: int, tile: tuple[int, int], nrow: int, padding: int,
               channels: int = 3) -> None:
    """Refuse, before sampling, a grid this format or the memory cap cannot hold."""
    ext = extension(path, GRID_EXTENSIONS)
    if nrow < 1 or padding < 0:
        raise ValueError(f"a grid needs nrow >= 1 and padding >= 0, got {nrow} and {padding}")
    if ext == ".npy":
        return  # written chunk by chunk, any n
    if n > MAX_GRID_IMAGES:
        raise OutputError(
            f"a grid holds at most {MAX_GRID_IMAGES} images (asked {n}); "
            "use --out-dir, or a .npy file, for more"
        )
    fmt = IMAGE_FORMATS[ext][0]
    gh, gw = grid_size(n, tile, nrow, padding)
    if gh * gw * channels > MAX_GRID_BYTES:
        raise OutputError(
            f"a grid of {n} images with --padding {padding} would be {gw}x{gh} px, more than "
            f"the {MAX_GRID_BYTES >> 20} MiB a grid may take in memory; lower --padding"
        )
    if max(gh, gw) > MAX_SIDE[fmt]:
        raise OutputError(
            f"a grid of {n} images with --nrow {nrow} is {gw}x{gh} px, more than {fmt} "
            f"allows ({MAX_SIDE[fmt]} px); change --nrow or use .png"
        )


def file_pixels(images: np.ndarray, fmt: str) -> np.ndarray:
    """uint8 (..., H, W, C) images as a file of format ``fmt`` ("PNG", "JPEG", "WEBP", "GIF",
    "NPY") stores them: RGBA in straight alpha, or composited over ALPHA_BACKGROUND for the
    formats without alpha; grey and RGB as they are."""
    images = np.asarray(images)
    if images.shape[-1] != 4:
        return images
    flatten = fmt in FLATTENED_FORMATS
    out = np.empty((*images.shape[:-1], 3 if flatten else 4), np.uint8)
    flat_in, flat_out = images.reshape(-1, 4), out.reshape(-1, out.shape[-1])  # views
    for start in range(0, len(flat_in), _CONVERT_PIXELS):
        part = flat_in[start : start + _CONVERT_PIXELS]
        flat_out[start : start + _CONVERT_PIXELS] = (composite(part, ALPHA_BACKGROUND) if flatten
                                                     else unpremultiply(part))
    return out


def alpha_note(path: str | os.PathLike, channels: int) -> str:
    """What dcgan-gen adds to its summary when an RGBA image lost its alpha to the format."""
    fmt = {".gif": "GIF", **{k: v[0] for k, v in IMAGE_FORMATS.items()}}.get(Path(path).suffix.lower())
    if channels != 4 or fmt not in FLATTENED_FORMATS:
        return ""
    return f"; RGBA composited over white ({fmt} keeps no alpha: use .png or .webp)"


def save_image(pixels: np.ndarray, path: str | os.PathLike) -> None:
    """One uint8 (H, W, C) image (RGBA premultiplied), format by extension, written atomically."""
    ext = extension(path, tuple(IMAGE_FORMATS))
    fmt, options = IMAGE_FORMATS[ext]
    pixels = file_pixels(pixels, fmt)
    if ext == ".png":
        atomic_write_bytes(path, encode_png(pixels))
        return
    from PIL import Image

    arr = pixels[..., 0] if pixels.shape[-1] == 1 else pixels
    with atomic_path(path) as tmp:
        Image.fromarray(np.ascontiguousarray(arr)).save(tmp, format=fmt, **options)


def save_npy(images: np.ndarray, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, np.ascontiguousarray(file_pixels(images, "NPY"), dtype=np.uint8))


def save_grid(images: np.ndarray, path: str | os.PathLike, nrow: int = 7, padding: int = 2) -> None:
    """Write uint8 (n, h, w, C) images as one grid (.png/.jpg/.jpeg/.webp) or raw stack (.npy).
    A grid of RGBA has transparent gaps (the gaps of grey and RGB are black)."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError(f"expected uint8 (n, h, w, C) images, got {images.dtype} {images.shape}")
    check_grid(path, len(images), images.shape[1:3], nrow, padding, images.shape[3])
    if extension(path, GRID_EXTENSIONS) == ".npy":
        save_npy(images, path)
    else:
        save_image(make_grid(images, nrow, padding), path)


def save_gif(frames: np.ndarray, path: str | os.PathLike, frame_ms: int = 80) -> None:
    """An animated GIF that loops forever, one frame per uint8 (h, w, C) image (RGBA composited
    over white)."""
    from PIL import Image

    extension(path, ANIMATION_EXTENSIONS)
    if len(frames) > MAX_ANIMATION_FRAMES:
        raise OutputError(f"an animation holds at most {MAX_ANIMATION_FRAMES} frames (asked {len(frames)})")
    frames = file_pixels(frames, "GIF")
    pics = [Image.fromarray(f[..., 0] if f.shape[-1] == 1 else f) for f in frames]
    with atomic_path(path) as tmp:
        pics[0].save(tmp, format="GIF", save_all=True, append_images=pics[1:], duration=frame_ms,
                     loop=0, optimize=False)


class NpyWriter:
    """A .npy of known shape written chunk by chunk: bounded memory for any n. RGBA rows are
    stored in straight alpha, as save_npy stores them.

    Plain writes, not a memory map: a map over a file the disk can no longer hold fails with
    SIGBUS when a page is touched, which kills the process with no message and leaves its temp
    file; a write fails with ENOSPC, which becomes one line and removes it. The file appears
    only when every row was written and the block exits cleanly.
    """

    def __init__(self, path: str | os.PathLike, shape: tuple[int, ...]):
        self.path, self.shape = Path(path), tuple(shape)
        self.filled = 0

    def __enter__(self) -> "NpyWriter":
        self._pending = PendingFile(self.path)
        try:
            self._file = open(self._pending.tmp, "wb")
            header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)),
                      "fortran_order": False, "shape": self.shape}
            np.lib.format.write_array_header_1_0(self._file, header)
        except BaseException as e:
            self._close_and_discard()
            if isinstance(e, OSError) and not isinstance(e, OutputError):
                raise cannot_write(self.path, e) from None
            raise
        return self

    def write(self, images: np.ndarray) -> None:
        if self.filled + len(images) > self.shape[0] or images.shape[1:] != self.shape[1:]:
            raise ValueError(f"{len(images)} images of {images.shape[1:]} do not fit the rest of "
                             f"a .npy of {self.shape}")
        rows = np.ascontiguousarray(file_pixels(images, "NPY"), dtype=np.uint8)
        try:
            self._file.write(rows.data)
        except OSError as e:  # a full disk: ENOSPC (or EFBIG past a file size limit)
            raise cannot_write(self.path, e) from None
        self.filled += len(images)

    def __exit__(self, exc_type, exc, tb) -> None:
        committed = False
        try:
            if exc_type is None:
                if self.filled != self.shape[0]:
                    raise OutputError(f"{self.path}: only {self.filled} of {self.shape[0]} images written")
                try:
                    self._file.close()  # flushes: the last write can fail here
                except OSError as e:
                    raise cannot_write(self.path, e) from None
                self._pending.commit()
                committed = True
        finally:
            if not committed:
                self._close_and_discard()

    def _close_and_discard(self) -> None:
        f = self.__dict__.pop("_file", None)
        if f is not None:
            try:
                f.close()
            except OSError:  # the flush of a write that already failed
                pass
        self._pending.discard()
