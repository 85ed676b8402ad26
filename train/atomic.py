"""Files that appear whole or not at all, with the permissions a plain open() would give them.

A temp file beside the target is written, flushed to disk and renamed over the target, so a
kill at any point leaves the old file or the new one, never a torn one.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, BinaryIO, Callable

# Not tempfile.mkstemp: it creates every file 0600, so checkpoints, sample grids and the
# shared decoded cache would be private to their writer whatever the umask.  Mode 0o666 lets
# the umask decide, as for open(); O_EXCL makes the name ours.
_TMP_FLAGS = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
              | getattr(os, "O_BINARY", 0))


def create_temp(final: str | os.PathLike, suffix: str = ".tmp") -> tuple[int, Path]:
    """A new file beside ``final``, open for writing: (descriptor, path)."""
    final = Path(final)
    for _ in range(100):
        tmp = final.parent / f".{final.name}.{os.urandom(4).hex()}{suffix}"
        try:
            return os.open(tmp, _TMP_FLAGS, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temp file name beside {final}")


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], Any]) -> None:
    """Call ``write`` on a temp file in the same folder, fsync, then rename over ``path``."""
    path = Path(path)
    fd, tmp = create_temp(path)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
