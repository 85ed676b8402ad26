"""Atomic file output: a temp file in the destination folder, renamed over the target at the end.

A reader (or a resumed job) sees either no file or a whole one; a failure leaves whatever
was at the path before untouched.
"""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import OutputError

_UMASK: int | None = None


def _umask() -> int:
    # mkstemp creates files 0600; the final file should get the permissions of a normal open().
    global _UMASK
    if _UMASK is None:
        _UMASK = os.umask(0)
        os.umask(_UMASK)
    return _UMASK


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
            fd, tmp = tempfile.mkstemp(
                prefix=f".{self.final.name}.", suffix=".tmp", dir=self.final.parent
            )
        except OSError as e:
            raise OutputError(f"cannot write {self.final}: {e.strerror}") from None
        os.fchmod(fd, 0o666 & ~_umask())
        os.close(fd)
        self.tmp = Path(tmp)

    def commit(self) -> None:
        os.replace(self.tmp, self.final)

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
