"""Where image files come from: a folder, a .zip, or the pokemon download.

Each source becomes an ``ImageFiles``: the sorted names of its image files and a way to read
their bytes. Nothing here decodes pixels (see decode.py) or caches arrays (see dataset.py).

One rule for what a source may read, a folder's files and a zip's members alike: regular files
(a FIFO would block for ever, a device would read until memory runs out) of at most
MAX_FILE_BYTES, checked before a byte is read. Anything else is unreadable, with its reason,
and the loader skips it and says why.
"""
from __future__ import annotations

import hashlib
import http.client
import logging
import os
import stat
import urllib.error
import urllib.request
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator

from tqdm.auto import tqdm

from dcgan.core.atomic import PendingFile
from dcgan.core.errors import DcganError
from dcgan.core.text import format_size

from .decode import IMAGE_SUFFIXES

log = logging.getLogger(__name__)

# The d2l chapter's dataset (its DATA_HUB entry for "pokemon").
POKEMON_URL = "http://d2l-data.s3-accelerate.amazonaws.com/pokemon.zip"
POKEMON_SHA1 = "c065c0e2593b8b161a2d7873e42418bf6a21106c"

# Seconds to wait for the connection and for each read; a stalled mirror fails instead of hanging.
DOWNLOAD_TIMEOUT = 30.0
_CHUNK = 1 << 16

# A file or member whose size is beyond this is not a sprite; refusing it before reading bounds
# the memory a hostile zip (a "zip bomb") or a multi-GB sparse file can make us allocate.
MAX_FILE_BYTES = 256 << 20
_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
               | getattr(os, "O_BINARY", 0))

_NETWORK_ERRORS = (urllib.error.URLError, http.client.HTTPException, OSError, ValueError)


class DataError(DcganError):
    """A user-facing data problem; the message is one line, fit for the CLI."""


class UnreadableFile(DcganError):
    """One file's bytes could not be read; the message is the reason (permissions, not a
    regular file, too large, a bad zip member)."""


def _too_large() -> UnreadableFile:
    return UnreadableFile(f"larger than {format_size(MAX_FILE_BYTES)}")


def read_regular_file(path: Path) -> bytes:
    """The bytes of the regular file at ``path`` (symlinks followed), at most MAX_FILE_BYTES."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # before opening: opening a device can act
            raise UnreadableFile("not a regular file")
        # O_NONBLOCK: a FIFO swapped in since the stat opens at once instead of waiting for a
        # writer, and is refused by the fstat below.
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as e:
        raise UnreadableFile(e.strerror or str(e)) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnreadableFile("not a regular file")
        if st.st_size > MAX_FILE_BYTES:
            raise _too_large()
        with open(fd, "rb", closefd=False) as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise UnreadableFile(e.strerror or str(e)) from None
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:  # it grew while being read
        raise _too_large()
    return data


def is_hidden(part: str) -> bool:
    # Dotfiles (.DS_Store, macOS "._x.png" forks), dot-folders (.git) and macOS zip junk.
    return (part.startswith(".") and part not in (".", "..")) or part == "__MACOSX"


def _is_image_name(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in IMAGE_SUFFIXES


@dataclass(frozen=True)
class ImageFiles:
    """The image files of one source, in sorted name order (that order is the array order)."""

    kind: str  # "folder" | "zip"
    location: Path
    names: tuple[str, ...]  # relative POSIX paths, or zip member names
    _keys: tuple = ()  # zip: index into ZipFile.infolist() (names may repeat in a zip)

    @contextmanager
    def reader(self) -> Iterator[Callable[[int], bytes]]:
        """Yield ``read(i) -> bytes`` for the i-th file; raises UnreadableFile per file."""
        if self.kind == "folder":
            yield lambda i: read_regular_file(self.location / self.names[i])
            return
        with open_zip(self.location) as zf:
            infos = zf.infolist()

            def read(i: int) -> bytes:
                info = infos[self._keys[i]]
                if info.file_size > MAX_FILE_BYTES:
                    raise _too_large()
                try:
                    # In memory only: the member's name never becomes a path on disk, so a
                    # name like "../evil.png" cannot write anywhere.
                    return zf.read(info)
                except (zipfile.BadZipFile, RuntimeError, NotImplementedError, EOFError, OSError,
                        ValueError) as e:  # CRC mismatch, encrypted, unknown compression, zlib
                    raise UnreadableFile(str(e)) from None

            yield read


def list_folder(root: Path) -> ImageFiles:
    """All image files under ``root``, recursively (flat or ImageFolder layout)."""
    names = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not is_hidden(d)]
        rel = Path(dirpath).relative_to(root)
        for f in filenames:
            if not is_hidden(f) and _is_image_name(f):
                names.append((rel / f).as_posix())
    return ImageFiles("folder", root, tuple(sorted(names)))


@contextmanager
def open_zip(path: Path) -> Iterator[zipfile.ZipFile]:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise DataError(f"{path} is not a readable zip file ({e})") from None
    with zf:
        yield zf


def list_zip(path: Path) -> ImageFiles:
    """All image members of the zip at ``path``, read later straight from the archive."""
    with open_zip(path) as zf:
        found = []
        for index, info in enumerate(zf.infolist()):
            name = info.filename
            parts = name.replace("\\", "/").split("/")
            if info.is_dir() or any(is_hidden(p) for p in parts) or not _is_image_name(name):
                continue
            found.append((name, index))
    found.sort()
    return ImageFiles("zip", path, tuple(n for n, _ in found), tuple(i for _, i in found))


def sha1_of_file(path: Path) -> str:
    digest = hashlib.sha1()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_pokemon(cache_dir: Path, url: str, sha1: str, *, progress: bool = True) -> Path:
    """Path of the verified pokemon zip in ``cache_dir``; downloads it once if needed."""
    sha1 = sha1.strip().lower()
    dest = cache_dir / f"pokemon-{sha1[:12]}.zip"
    if dest.is_file():
        try:
            got = sha1_of_file(dest)
        except OSError as e:
            raise DataError(f"cannot read the cached {dest} ({e.strerror or e})") from None
        if got == sha1:
            return dest
        log.warning("cached %s has SHA-1 %s, expected %s: downloading it again", dest, got, sha1)
        dest.unlink(missing_ok=True)
    _download(url, dest, sha1, progress=progress)
    return dest


def _reason(e: BaseException) -> str:
    if isinstance(e, urllib.error.HTTPError):
        return f"HTTP {e.code} {e.reason}"
    if isinstance(e, urllib.error.URLError):
        return str(e.reason)
    return str(e) or type(e).__name__


def _download(url: str, dest: Path, sha1: str, *, progress: bool) -> None:
    """Stream ``url`` into a temp file next to ``dest``; rename it only once the SHA-1 matches."""

    def failed(e: BaseException) -> DataError:
        return DataError(
            f"could not download the pokemon dataset from {url} ({_reason(e)}); "
            f"check the network, or train on a local folder with --data DIR"
        )

    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        pending = PendingFile(dest, suffix=".part")
    except OSError as e:  # OutputError included
        raise DataError(
            f"cannot write the download cache {dest.parent} ({e.strerror or e}); "
            f"set DCGAN_CACHE to a writable folder"
        ) from None
    digest = hashlib.sha1()
    try:
        with open(pending.tmp, "wb") as out:
            try:
                response = urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT)
            except _NETWORK_ERRORS as e:
                raise failed(e) from None
            with response:
                total = int(response.headers.get("Content-Length") or 0) or None
                with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                          desc=f"downloading {dest.name}", disable=not progress) as bar:
                    while True:
                        try:
                            chunk = response.read(_CHUNK)
                        except _NETWORK_ERRORS as e:
                            raise failed(e) from None
                        if not chunk:
                            break
                        out.write(chunk)
                        digest.update(chunk)
                        bar.update(len(chunk))
        got = digest.hexdigest()
        if got != sha1:
            raise DataError(
                f"the file downloaded from {url} has SHA-1 {got}, expected {sha1}; "
                f"deleted it (set DCGAN_POKEMON_URL / DCGAN_POKEMON_SHA1 for another mirror)"
            )
        pending.commit()
    except OSError as e:  # the network's OSErrors became DataError above: this is the disk
        pending.discard()
        raise DataError(f"cannot write the download to {dest} ({e.strerror or e})") from None
    except BaseException:
        pending.discard()
        raise
