"""Files that appear whole or not at all: a temp file beside the target, written, synced to disk
and renamed over the target. A reader, a resumed job or a kill at any moment sees the old file
or the new one, never a torn one; a failure leaves whatever was at the path untouched.

    atomic_write_bytes(path, data)
    atomic_write(path, lambda f: torch.save(obj, f))
    with atomic_path(path) as tmp: image.save(tmp, format="WEBP")
    pending = PendingFile(path); ...; pending.commit()   # several files made to appear together

Every failure to write is an OutputError (also an OSError) that names the target, not the temp.

A writer killed outright (kill -9, a power cut) cannot remove its temp file. Temp names carry
the host and process that made them, so the next write into the same folder removes those of
this host whose process is gone: leftovers never pile up, and a writer alive on this or
another host (a folder shared over the network) keeps its own.
"""
from __future__ import annotations

import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator

from .errors import OutputError
from .text import format_size

# Temp names are made here rather than with tempfile.mkstemp: mkstemp creates every file 0600
# (checkpoints, grids and the shared decoded cache would be private to their writer whatever
# the umask), and importing tempfile took ~3 ms of dcgan-gen's cold start. Mode 0o666 lets the
# umask decide, as for open(); O_EXCL makes the name ours.
_TMP_FLAGS = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
              | getattr(os, "O_BINARY", 0))


_HOST = re.sub(r"[^A-Za-z0-9-]", "-", os.uname().nodename)[:40] if hasattr(os, "uname") else "host"
_TEMP_NAME = re.compile(r"^\..+\.(?P<host>[A-Za-z0-9-]+)\.(?P<pid>[0-9]+)\.[0-9a-f]{8}\.(?:tmp|part)$")
_swept: set[str] = set()  # folders already swept by this process


def _process_is_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: nothing is sent, only the pid is looked up
    except ProcessLookupError:
        return True
    except OSError:  # alive, under another user
        return False
    return False


def remove_stale_temps(folder: str | os.PathLike) -> int:
    """Remove the temp files in ``folder`` left by writers of this host that no longer run;
    the number removed. Once per folder and process: a job writing 10^5 files into one folder
    lists it once."""
    key = os.path.abspath(folder)
    if key in _swept or os.name != "posix":  # os.kill(pid, 0) is no lookup on Windows
        return 0
    _swept.add(key)
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        m = _TEMP_NAME.match(entry.name)
        if m and m["host"] == _HOST and int(m["pid"]) != os.getpid() and _process_is_gone(int(m["pid"])):
            try:
                os.unlink(entry.path)
                removed += 1
            except OSError:
                pass
    return removed


def cannot_write(path: str | os.PathLike, e: OSError) -> OutputError:
    """The one wording of a failed write: the target named, the operating system's reason."""
    return OutputError(f"cannot write {path}: {e.strerror or e}")


def create_temp(final: str | os.PathLike, suffix: str = ".tmp") -> tuple[int, Path]:
    """A new empty file beside ``final``, open for writing: (descriptor, path)."""
    final = Path(final)
    remove_stale_temps(final.parent if str(final.parent) else ".")
    for _ in range(100):
        tmp = final.parent / f".{final.name}.{_HOST}.{os.getpid()}.{os.urandom(4).hex()}{suffix}"
        try:
            return os.open(tmp, _TMP_FLAGS, 0o666), tmp
        except FileExistsError:
            continue
        except OSError as e:
            raise cannot_write(final, e) from None
    raise OutputError(f"cannot write {final}: no free temp file name beside it")


def _sync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class PendingFile:
    """A temp file beside ``path`` that becomes ``path`` on commit() or disappears on discard()."""

    def __init__(self, path: str | os.PathLike, suffix: str = ".tmp"):
        self.final = Path(path)
        fd, self.tmp = create_temp(self.final, suffix)
        os.close(fd)

    def commit(self) -> None:
        """Sync the temp file to disk, then rename it over the target."""
        try:
            _sync(self.tmp)
            os.replace(self.tmp, self.final)
        except BaseException as e:  # a signal during a long sync included: the temp goes
            self.discard()
            if isinstance(e, OSError) and not isinstance(e, OutputError):
                # e.g. a folder where the file should go: name the file, not the temp
                raise cannot_write(self.final, e) from None
            raise

    def discard(self) -> None:
        try:
            os.unlink(self.tmp)
        except FileNotFoundError:
            pass


def commit_together(pending: "list[PendingFile]") -> None:
    """Commit several files so that all of them appear or none does (the generator and its
    discriminator, say): each file already at a target is first moved aside, and if any commit
    fails, the ones made are undone and the old files put back. Not atomic against a kill
    between the renames (no file system offers that for two names), only against failures."""
    aside: list[tuple[Path, Path]] = []  # (target, where its old file waits)
    done: list[PendingFile] = []
    try:
        for p in pending:
            _sync(p.tmp)  # the slow part, before any old file moves
        for p in pending:
            if os.path.lexists(p.final):
                keep = PendingFile(p.final, suffix=".old").tmp  # never swept: it is the user's file
                os.replace(p.final, keep)
                aside.append((p.final, keep))
        for p in pending:
            os.replace(p.tmp, p.final)
            done.append(p)
    except BaseException as e:
        for p in done:
            _unlink_quietly(p.final)
        for target, keep in aside:
            os.replace(keep, target)
        for p in pending:
            p.discard()
        if isinstance(e, OSError) and not isinstance(e, OutputError):
            failed = next((p.final for p in pending if p not in done), pending[-1].final)
            raise cannot_write(failed, e) from None
        raise
    for _, keep in aside:
        _unlink_quietly(keep)


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path beside ``path``; on a clean exit it replaces ``path``, else it is removed."""
    pending = PendingFile(path)
    try:
        yield pending.tmp
    except BaseException as e:
        pending.discard()
        if isinstance(e, OSError) and not isinstance(e, OutputError):
            raise cannot_write(pending.final, e) from None
        raise
    pending.commit()


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], Any]) -> None:
    """Call ``write`` on the open temp file, then sync and rename it over ``path``."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        write(f)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    atomic_write(path, lambda f: f.write(data))


def check_writable_file(path: str | os.PathLike) -> Path:
    """Refuse, before any work, a path whose file could not be written."""
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        raise OutputError(f"{p} is a folder; give a file name")
    if not parent.is_dir():
        what = "is not a folder" if parent.exists() else "does not exist"
        raise OutputError(f"cannot write {p}: folder {parent} {what}")
    # Probe by creating a file: os.access says yes to root on a read-only file system.
    PendingFile(p).discard()
    return p


def check_free_space(path: str | os.PathLike, size: int) -> None:
    """Refuse, before writing, a file of ``size`` bytes that the disk under ``path`` cannot hold."""
    folder = Path(path).parent if str(Path(path).parent) else Path(".")
    try:
        st = os.statvfs(folder)
    except (AttributeError, OSError):  # no statvfs (Windows) or no folder: the write will say
        return
    free = st.f_bavail * st.f_frsize
    if size > free:
        raise OutputError(f"{path} would take {format_size(size)}; the disk under {folder} has "
                          f"{format_size(free)} free")
