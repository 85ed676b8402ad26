"""Atomic file output: a temp file in the destination folder, renamed over the target at the end.

A reader (or a resumed job) sees either no file or a whole one; a failure leaves whatever
was at the path before untouched.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import OutputError

# Temp names are made here rather than with tempfile.mkstemp: importing tempfile (and the
# random and hashlib modules it loads) took ~3 ms of dcgan-gen's cold start. O_EXCL makes the
# name ours; the mode 0o666 lets the umask give the file a normal open()'s permissions.
_TMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def _create_temp(final: Path) -> Path:
    for _ in range(100):
        tmp = final.parent / f".{final.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
        try:
            os.close(os.open(tmp, _TMP_FLAGS, 0o666))
            return tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temp file name beside {final}")


def check_writable_file(path: str | os.PathLike) -> Path:
    """Fail early (before any sampling) on a path whose file could not be written."""
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        raise OutputError(f"{p} is a folder; give a file name")
    if not parent.is_dir():
        raise OutputError(f"cannot write {p}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {p}: folder {parent} is not writable")
    return p


class PendingFile:
    """A temp file beside ``path`` that becomes ``path`` on commit() or disappears on discard()."""

    def __init__(self, path: str | os.PathLike):
        self.final = Path(path)
        try:
            self.tmp = _create_temp(self.final)
        except OSError as e:
            raise OutputError(f"cannot write {self.final}: {e.strerror or e}") from None

    def commit(self) -> None:
        try:
            os.replace(self.tmp, self.final)
        except OSError as e:  # e.g. a folder where the file should go: name the file, not the temp
            self.discard()
            raise OutputError(f"cannot write {self.final}: {e.strerror or e}") from None

    def discard(self) -> None:
        try:
            os.unlink(self.tmp)
        except FileNotFoundError:
            pass


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path beside ``path``; on a clean exit it replaces ``path``, else it is removed."""
    pending = PendingFile(path)
    try:
        yield pending.tmp
        pending.commit()
    except BaseException:
        pending.discard()
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
