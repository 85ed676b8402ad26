"""Training data: any supported source decoded once into a uint8 array, cached on disk.

    ds = load_dataset("pokemon")          # or a folder, a .zip, "fake", "fake:N"
    ds.images                             # uint8 (N, 64, 64, C), C-contiguous (C: 1, 3 or 4)
    ds.fingerprint                        # sha256 hex of the content + decoding options

The array is what every epoch reads: no PIL work after the first load. Normalising to
[-1, 1] is left to the training device (uint8 is 4x less to move than float32).

The fingerprint hashes the ordered per-file content hashes and the decoding options, never
paths or names, so the same images in the same order give the same fingerprint on any machine
and in any folder or zip. It also names the decoded cache file:
``<cache>/decoded/<fingerprint>.npz``. The cache folder is ``cache_dir``, else $DCGAN_CACHE,
else $XDG_CACHE_HOME/dcgan-edge, else ~/.cache/dcgan-edge.

Problems the user must fix raise DataError (one line). Files that cannot be decoded are
skipped and reported in ONE warning through the ``logging`` module (logger
``dcgan.data.dataset``; Python prints warnings to stderr even when logging is not configured),
so a CLI shows one clean line and tests can read it with caplog. A cache that cannot be
written is also a logged warning: loading never fails because of the cache.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from dcgan.core.atomic import atomic_write
from dcgan.core.errors import OutputError

from .decode import CHANNELS, FITS, DecodeOptions, decode_image
from .sources import (
    POKEMON_SHA1,
    POKEMON_URL,
    DataError,
    ImageFiles,
    UnreadableFile,
    fetch_pokemon,
    list_folder,
    list_zip,
)
from .synthetic import DEFAULT_COUNT, MAX_COUNT, fake_images

__all__ = ["DataError", "ImageSet", "load_dataset", "data_folder", "default_cache_dir"]

log = logging.getLogger(__name__)

_CACHE_FORMAT = 2  # 2: 16-bit grey PNGs scaled by the format's range
_UNREADABLE = b"\0unreadable"  # stands in for a file whose bytes could not be read
_NAMES_IN_WARNING = 3


@dataclass(frozen=True, eq=False)  # eq=False: comparing arrays with == is not a bool
class ImageSet:
    images: np.ndarray  # uint8 (N, size, size, channels), C-contiguous; 4: premultiplied RGBA
    # "pokemon", "folder:<folder name>", "zip:<file name>", "fake", "fake:N": never a whole
    # path, since the name travels into checkpoints and exported models that others receive
    name: str
    fingerprint: str  # sha256 hex of content + decoding options
    skipped: tuple[str, ...] = ()  # names of files that could not be decoded
    source: str = ""  # the folder, zip or URL the images came from

    def __len__(self) -> int:
        return len(self.images)


def default_cache_dir() -> Path:
    if os.environ.get("DCGAN_CACHE"):
        return Path(os.environ["DCGAN_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "dcgan-edge"


def _options(image_size, fit, background, channels) -> DecodeOptions:
    if channels not in CHANNELS:
        raise DataError(f"channels must be one of {', '.join(map(str, CHANNELS))}, "
                        f"not {channels!r}")
    if fit not in FITS:
        raise DataError(f"fit must be one of {', '.join(FITS)}, not {fit!r}")
    if not isinstance(image_size, int) or not 4 <= image_size <= 1024:
        raise DataError(f"image size must be an integer from 4 to 1024, not {image_size!r}")
    try:
        bg = tuple(int(c) for c in background)
    except (TypeError, ValueError):
        bg = ()
    if len(bg) != 3 or not all(0 <= c <= 255 for c in bg):
        raise DataError(f"background must be three integers 0-255 (R, G, B), not {background!r}")
    return DecodeOptions(size=image_size, fit=fit, background=bg, channels=channels)


def _fake(spec: str, opts: DecodeOptions) -> ImageSet:
    count_text = spec.partition(":")[2] or str(DEFAULT_COUNT)
    if not count_text.isdigit() or not 1 <= int(count_text) <= MAX_COUNT:
        raise DataError(f"fake:N needs N from 1 to {MAX_COUNT}, not {count_text!r}")
    count = int(count_text)
    images = fake_images(count, opts.size, opts.background, opts.channels)
    # Hash the pixels themselves: honest even if the drawing code changes.
    key = {k: v for k, v in opts.key().items() if k != "fit"}  # fit does not apply to shapes
    digest = hashlib.sha256(b"fake\0" + json.dumps(key, sort_keys=True).encode())
    digest.update(images.tobytes())
    return ImageSet(images, spec, digest.hexdigest(), (), f"synthetic: {count} shapes")


def _bar(names, desc: str, unit: str, progress: bool):
    # disable=None: a bar only on a terminal; in a log each update would be another line.
    return tqdm(names, desc=desc, unit=unit, delay=1.0, disable=None if progress else True,
                leave=False)


def _fingerprint(files: ImageFiles, opts: DecodeOptions,
                 progress: bool) -> tuple[str, list[str | None]]:
    """sha256 over the options and each file's sha256, in array order; also, per file, why it
    could not be read (None: it was read)."""
    digest = hashlib.sha256(json.dumps(opts.key(), sort_keys=True).encode())
    unreadable: list[str | None] = []
    with files.reader() as read, _bar(files.names, "hashing images", "file", progress) as names:
        for i, _ in enumerate(names):
            try:
                digest.update(hashlib.sha256(read(i)).digest())
                unreadable.append(None)
            except UnreadableFile as e:
                digest.update(hashlib.sha256(_UNREADABLE).digest())
                unreadable.append(str(e))
    return digest.hexdigest(), unreadable


def _decode_all(files: ImageFiles, unreadable: list[str | None], opts: DecodeOptions,
                progress: bool) -> tuple[np.ndarray, list[int]]:
    """Decode every file; return the images that decoded and the indices of those that did not."""
    out = np.empty((len(files.names), opts.size, opts.size, opts.channels), dtype=np.uint8)
    ok = np.zeros(len(files.names), dtype=bool)
    with files.reader() as read, _bar(files.names, "decoding images", "img", progress) as names:
        for i, _ in enumerate(names):
            if unreadable[i] is not None:
                continue
            try:
                out[i] = decode_image(read(i), opts)
                ok[i] = True
            except Exception:  # noqa: BLE001  Pillow raises many types for a bad file: skip it
                pass
    return np.ascontiguousarray(out[ok]), np.flatnonzero(~ok).tolist()


def _cache_path(cache_dir: Path, fingerprint: str) -> Path:
    return cache_dir / "decoded" / f"{fingerprint}.npz"


def _read_cache(path: Path, files: ImageFiles, opts: DecodeOptions):
    """(images, skipped indices) from a cache file, or None when absent or not usable."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            if int(npz["format"]) != _CACHE_FORMAT:
                return None
            images, skipped = npz["images"], npz["skipped"].tolist()
    except FileNotFoundError:
        return None
    except Exception as e:  # noqa: BLE001  torn/foreign file: decode again and overwrite it
        log.debug("ignoring unusable cache file %s: %s", path, e)
        return None
    expected = (len(files.names) - len(skipped), opts.size, opts.size, opts.channels)
    if images.dtype != np.uint8 or images.shape != expected:
        return None
    if not all(0 <= i < len(files.names) for i in skipped):
        return None
    return np.ascontiguousarray(images), skipped


def _write_cache(path: Path, images: np.ndarray, skipped: list[int]) -> None:
    """Atomic write (temp file + rename); a failure is a warning, never an error."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda f: np.savez(f, format=np.int64(_CACHE_FORMAT), images=images,
                                              skipped=np.asarray(skipped, dtype=np.int64)))
    except (OSError, OutputError) as e:
        log.warning("could not write the decoded-image cache %s (%s); continuing without it",
                    path.parent, e.strerror or e)


def _load_files(files: ImageFiles, where: str, opts: DecodeOptions, cache_dir: Path,
                progress: bool) -> tuple[np.ndarray, str, tuple[str, ...]]:
    if not files.names:
        suffixes = "png, jpg, jpeg, gif, webp, bmp"
        raise DataError(f"no image files ({suffixes}) in {where}")
    fingerprint, unreadable = _fingerprint(files, opts, progress)
    path = _cache_path(cache_dir, fingerprint)
    cached = _read_cache(path, files, opts)
    if cached is not None:
        images, skipped_idx = cached
    else:
        images, skipped_idx = _decode_all(files, unreadable, opts, progress)
        if len(images):
            _write_cache(path, images, skipped_idx)
    skipped = tuple(files.names[i] for i in skipped_idx)
    if not len(images):
        examples = ", ".join(skipped[:_NAMES_IN_WARNING])
        raise DataError(f"none of the {len(skipped)} image files in {where} could be read "
                        f"(e.g. {examples})")
    if skipped:
        reasons = [unreadable[i] or "not a decodable image" for i in skipped_idx]
        log.warning("skipped %d of %d image files in %s: %s", len(skipped), len(files.names),
                    where, _skip_summary(skipped, reasons))
    return images, fingerprint, skipped


def _skip_summary(names: tuple[str, ...], reasons: list[str]) -> str:
    """"2 not a regular file (a.png, b.png); 1 not a decodable image (c.png)", most first."""
    by_reason: dict[str, list[str]] = {}
    for name, reason in zip(names, reasons):
        by_reason.setdefault(reason, []).append(name)
    parts = []
    for reason, group in sorted(by_reason.items(), key=lambda kv: -len(kv[1])):
        more = ", ..." if len(group) > _NAMES_IN_WARNING else ""
        parts.append(f"{len(group)} {reason} ({', '.join(group[:_NAMES_IN_WARNING])}{more})")
    return "; ".join(parts)


def data_folder(spec: str) -> Path | None:
    """The folder, resolved, that ``spec`` names as load_dataset reads it; None for 'pokemon',
    'fake[:N]', a .zip or a path that is not a folder."""
    spec = str(spec).strip()
    if not spec or spec in ("pokemon", "fake") or spec.startswith("fake:"):
        return None
    path = Path(spec).expanduser()
    return path.resolve() if path.is_dir() else None


def load_dataset(
    spec: str = "pokemon",
    *,
    cache_dir: str | os.PathLike | None = None,
    background: tuple[int, int, int] = (255, 255, 255),
    fit: str = "stretch",
    image_size: int = 64,
    channels: int = 3,
    url: str | None = None,
    sha1: str | None = None,
    progress: bool = True,
) -> ImageSet:
    """Load ``spec`` (a folder, a .zip, "pokemon", "fake" or "fake:N") as an ImageSet.

    The keywords "pokemon" and "fake" win over a folder of the same name: write
    ``./pokemon`` for that. ``url``/``sha1`` (else $DCGAN_POKEMON_URL/$DCGAN_POKEMON_SHA1)
    replace the pokemon download's address and checksum. ``fit``: "stretch" (what the d2l
    chapter does) or "pad" (pad to a square with ``background``, keeping the aspect ratio).
    ``channels``: 3 (RGB), 1 (grey) or 4 (RGBA, premultiplied; transparency and padding stay
    transparent and ``background`` is unused: see decode.py).
    """
    opts = _options(image_size, fit, background, channels)
    spec = str(spec).strip()
    if not spec:
        raise DataError("no dataset given: use a folder, a .zip, 'pokemon' or 'fake'")
    if spec == "fake" or spec.startswith("fake:"):
        return _fake(spec, opts)

    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    if spec == "pokemon":
        url = url or os.environ.get("DCGAN_POKEMON_URL") or POKEMON_URL
        sha1 = sha1 or os.environ.get("DCGAN_POKEMON_SHA1") or POKEMON_SHA1
        zip_path = fetch_pokemon(cache, url, sha1, progress=progress)
        files, name, where, source = list_zip(zip_path), "pokemon", "the pokemon dataset", url
    else:
        path = Path(spec).expanduser()
        if path.is_dir():
            path = path.resolve()
            files, name = list_folder(path), f"folder:{path.name}"
        elif path.is_file() and path.suffix.lower() == ".zip":
            path = path.resolve()
            files, name = list_zip(path), f"zip:{path.name}"
        elif path.exists():
            raise DataError(f"{spec} is neither a folder nor a .zip file")
        else:
            raise DataError(f"no such folder or .zip: {spec} (or use 'pokemon' or 'fake')")
        where, source = str(path), str(path)

    images, fingerprint, skipped = _load_files(files, where, opts, cache, progress)
    return ImageSet(images, name, fingerprint, skipped, source)
