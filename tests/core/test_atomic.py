"""dcgan.core.atomic: files appear whole or not at all, failures name the target, and what a
killed writer left behind is removed by the next write into the folder."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from dcgan.core import atomic
from dcgan.core.errors import OutputError


@pytest.fixture(autouse=True)
def _fresh_sweep(monkeypatch):
    monkeypatch.setattr(atomic, "_swept", set())


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def temp_name(target: str, host: str, pid: int) -> str:
    return f".{target}.{host}.{pid}.0123abcd.tmp"


def test_a_write_replaces_the_file_whole_with_the_umask_s_permissions(tmp_path):
    path = tmp_path / "a.bin"
    path.write_bytes(b"old")
    atomic.atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"new" and os.listdir(tmp_path) == ["a.bin"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_failing_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "a.bin"
    path.write_bytes(b"old")

    def fails(f):
        f.write(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OutputError, match=r"cannot write .*a.bin: No space left on device"):
        atomic.atomic_write(path, fails)
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["a.bin"]


def test_a_folder_in_the_way_is_named_in_the_error(tmp_path):
    (tmp_path / "a.bin").mkdir()
    with pytest.raises(OutputError, match="a.bin"):
        atomic.atomic_write_bytes(tmp_path / "a.bin", b"x")
    assert os.listdir(tmp_path) == ["a.bin"]


@pytest.mark.skipif(os.name != "posix", reason="process lookup is POSIX")
def test_the_next_write_removes_what_a_killed_writer_of_this_host_left(tmp_path):
    stale = temp_name("checkpoint.pt", atomic._HOST, dead_pid())
    mine = temp_name("other.png", atomic._HOST, os.getpid())  # a write of ours in progress
    remote = temp_name("seed000001.png", "another-host", dead_pid())  # pid of another machine
    parent = temp_name("x.npy", atomic._HOST, os.getppid())  # a live process
    foreign = ".notes.txt.swp"
    for name in (stale, mine, remote, parent, foreign):
        (tmp_path / name).write_bytes(b"left over")
    atomic.atomic_write_bytes(tmp_path / "checkpoint.pt", b"new")
    assert sorted(os.listdir(tmp_path)) == sorted(["checkpoint.pt", mine, remote, parent, foreign])


def test_a_real_kill_9_mid_write_is_cleaned_by_the_next_run(tmp_path):
    code = ("import os, signal, sys\n"
            "from dcgan.core.atomic import atomic_write\n"
            "def write(f):\n"
            "    f.write(b'x' * 1000)\n"
            "    f.flush()\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n"
            f"atomic_write({str(tmp_path / 'big.npy')!r}, write)\n")
    r = subprocess.run([sys.executable, "-c", code])
    assert r.returncode == -9
    (left,) = os.listdir(tmp_path)
    assert left.startswith(".big.npy.")
    atomic.atomic_write_bytes(tmp_path / "big.npy", b"whole")
    assert os.listdir(tmp_path) == ["big.npy"]


def pending_with(path, data: bytes) -> atomic.PendingFile:
    p = atomic.PendingFile(path)
    p.tmp.write_bytes(data)
    return p


def test_files_committed_together_all_appear(tmp_path):
    (tmp_path / "g.onnx").write_bytes(b"old g")
    atomic.commit_together([pending_with(tmp_path / "g.onnx", b"new g"),
                            pending_with(tmp_path / "d.onnx", b"new d")])
    assert (tmp_path / "g.onnx").read_bytes() == b"new g"
    assert (tmp_path / "d.onnx").read_bytes() == b"new d"
    assert sorted(os.listdir(tmp_path)) == ["d.onnx", "g.onnx"]


def test_when_the_second_rename_fails_the_first_file_is_put_back(tmp_path, monkeypatch):
    (tmp_path / "g.onnx").write_bytes(b"old g")
    (tmp_path / "d.onnx").write_bytes(b"old d")
    files = [pending_with(tmp_path / "g.onnx", b"new g"), pending_with(tmp_path / "d.onnx", b"new d")]
    real_replace = os.replace

    def failing(src, dst):
        if str(src) == str(files[1].tmp):
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", failing)
    with pytest.raises(OutputError, match=r"d\.onnx: No space left on device"):
        atomic.commit_together(files)
    assert (tmp_path / "g.onnx").read_bytes() == b"old g"  # not a new generator beside an old one
    assert (tmp_path / "d.onnx").read_bytes() == b"old d"
    assert sorted(os.listdir(tmp_path)) == ["d.onnx", "g.onnx"]
