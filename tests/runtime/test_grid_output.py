"""Grids and files: geometry, formats by extension, atomic writes, size caps."""
from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image
from runtime_fixtures import GEN

from dcgan.runtime import images as images_mod
from dcgan.runtime.errors import OutputError
from dcgan.runtime.images import NpyWriter, check_grid, make_grid, save_gif, save_grid


def tiles(n: int, size: int = 64) -> np.ndarray:
    rng = np.random.default_rng(n)
    return rng.integers(1, 256, size=(n, size, size, 3), dtype=np.uint8)


def test_grid_geometry_21_images_7_per_row():
    imgs = tiles(21)
    grid = make_grid(imgs, nrow=7, padding=2)
    assert grid.shape == (3 * 66 + 2, 7 * 66 + 2, 3)
    for i in (0, 6, 7, 20):
        r, c = divmod(i, 7)
        y, x = 2 + r * 66, 2 + c * 66
        assert np.array_equal(grid[y : y + 64, x : x + 64], imgs[i])
    # padding lines are black, tiles never touch
    assert grid[:2].max() == 0 and grid[:, 66:68].max() == 0


def test_a_short_last_row_and_fewer_images_than_a_row():
    assert make_grid(tiles(9), nrow=7).shape == (2 * 66 + 2, 7 * 66 + 2, 3)
    assert make_grid(tiles(3), nrow=7).shape == (66 + 2, 3 * 66 + 2, 3)
    assert make_grid(tiles(4), nrow=2, padding=0).shape == (128, 128, 3)


def test_png_round_trips_exactly(tmp_path):
    imgs = tiles(8)
    save_grid(imgs, tmp_path / "g.png", nrow=4)
    back = np.asarray(Image.open(tmp_path / "g.png"))
    assert np.array_equal(back, make_grid(imgs, nrow=4))


@pytest.mark.parametrize("ext", [".jpg", ".jpeg", ".webp"])
def test_lossy_formats_by_extension(tmp_path, ext):
    save_grid(tiles(5), tmp_path / f"g{ext}", nrow=5)
    with Image.open(tmp_path / f"g{ext}") as im:
        assert im.format == {".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}[ext]
        assert im.size == (5 * 66 + 2, 66 + 2)


def test_npy_holds_the_raw_images_not_a_grid(tmp_path):
    imgs = tiles(6)
    save_grid(imgs, tmp_path / "raw.npy")
    back = np.load(tmp_path / "raw.npy")
    assert back.dtype == np.uint8 and np.array_equal(back, imgs)


@pytest.mark.parametrize("name", ["g.bmp", "g", "g.gif", "g.PNG.txt"])
def test_unknown_grid_extensions_are_refused(tmp_path, name):
    with pytest.raises(OutputError, match="output type"):
        save_grid(tiles(2), tmp_path / name)
    assert not (tmp_path / name).exists()


def test_upper_case_extension_is_fine(tmp_path):
    save_grid(tiles(2), tmp_path / "G.PNG")
    assert Image.open(tmp_path / "G.PNG").format == "PNG"


@pytest.mark.parametrize("ext", [".png", ".jpg"])
def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch, ext):
    target = tmp_path / f"g{ext}"
    target.write_bytes(b"previous grid")

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    # PNG is encoded by the package itself, the other formats by Pillow
    monkeypatch.setattr(images_mod, "encode_png", boom)
    monkeypatch.setattr(Image.Image, "save", boom)
    with pytest.raises(OSError):
        save_grid(tiles(3), target)
    assert target.read_bytes() == b"previous grid"
    assert os.listdir(tmp_path) == [target.name]


@pytest.mark.parametrize("shape", [(1, 1, 1), (5, 3, 2), (7, 130, 3), (64, 9, 4)])
def test_png_encoder_round_trips_every_channel_count(shape):
    # extreme values next to each other exercise the filter's modulo-256 differences
    rng = np.random.default_rng(sum(shape))
    px = rng.choice(np.array([0, 1, 127, 128, 254, 255], dtype=np.uint8), size=shape)
    with Image.open(io.BytesIO(images_mod.encode_png(px))) as im:
        assert im.format == "PNG" and im.size == (shape[1], shape[0])
        assert im.mode == {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[shape[2]]
        back = np.asarray(im)
    assert np.array_equal(back.reshape(shape), px)


@pytest.mark.parametrize("bad", [np.zeros((4, 4, 3), np.float32), np.zeros((4, 4), np.uint8),
                                 np.zeros((4, 4, 5), np.uint8), np.zeros((0, 4, 3), np.uint8)])
def test_png_encoder_refuses_what_png_cannot_hold(bad):
    with pytest.raises(ValueError):
        images_mod.encode_png(bad)


def test_written_files_get_normal_permissions(tmp_path):
    # the result gets the permissions a plain open() would give under the umask, both ways
    for umask, mode in ((0o022, 0o644), (0o077, 0o600)):
        old = os.umask(umask)
        try:
            save_grid(tiles(1), tmp_path / f"g{umask}.png")
        finally:
            os.umask(old)
        assert stat.S_IMODE((tmp_path / f"g{umask}.png").stat().st_mode) == mode


def test_grid_caps(tmp_path):
    with pytest.raises(OutputError, match="at most"):
        check_grid(tmp_path / "g.png", images_mod.MAX_GRID_IMAGES + 1, (64, 64), 7, 2)
    with pytest.raises(OutputError, match="WEBP"):
        check_grid(tmp_path / "g.webp", 2000, (64, 64), 7, 2)  # 19 000 px tall
    check_grid(tmp_path / "g.npy", 10**6, (64, 64), 7, 2)  # streamed: no cap


def test_npy_writer_streams_chunks_and_refuses_a_short_file(tmp_path):
    imgs = tiles(5)
    with NpyWriter(tmp_path / "a.npy", imgs.shape) as w:
        w.write(imgs[:2])
        w.write(imgs[2:])
    assert np.array_equal(np.load(tmp_path / "a.npy"), imgs)
    with pytest.raises(OutputError, match="only 2 of 5"):
        with NpyWriter(tmp_path / "b.npy", imgs.shape) as w:
            w.write(imgs[:2])
    assert sorted(os.listdir(tmp_path)) == ["a.npy"]


def test_gif_is_an_endless_animation(tmp_path):
    save_gif(tiles(4), tmp_path / "a.gif", frame_ms=50)
    with Image.open(tmp_path / "a.gif") as im:
        assert im.n_frames == 4 and im.info.get("loop") == 0 and im.size == (64, 64)


def test_an_interrupted_npy_sync_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch):
    from dcgan.core import atomic

    out = tmp_path / "x.npy"
    out.write_bytes(b"yesterday's samples")

    def interrupted(path):
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic, "_sync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        with NpyWriter(out, (4, 2, 2, 3)) as w:
            w.write(np.zeros((4, 2, 2, 3), np.uint8))
    assert out.read_bytes() == b"yesterday's samples"
    assert [p.name for p in tmp_path.iterdir()] == ["x.npy"]


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
@pytest.mark.parametrize("out", ["s.npy", "g.png"])
def test_a_disk_that_fills_mid_job_is_one_line_and_leaves_no_temp_file(tmp_path, out):
    # A file size limit fails writes past 1 MiB with EFBIG, as a full disk fails them with
    # ENOSPC, after the free-space check has passed (the grid needs ~1.2 MiB at 289 images).
    code = textwrap.dedent(f"""
        import resource, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
        from dcgan.runtime.cli import main
        main(['--model', {str(GEN)!r}, '--n', '289', '--nrow', '17', '--out', {out!r}, '-q'])
    """)
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 1, r.stderr  # not SIGBUS (-7), not a traceback
    assert r.stderr.count("\n") == 1 and f"cannot write {out}: File too large" in r.stderr
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("out", ["s.npy", "g.png"])
def test_a_disk_that_fills_after_the_free_space_check_is_one_line_and_leaves_nothing(tiny_disk, out):
    # statvfs is told to report plenty of room, so the job starts and the 1 MiB disk fills
    # mid-write: a memory-mapped .npy would die of SIGBUS there.
    code = textwrap.dedent(f"""
        import os
        class Roomy:
            f_bavail, f_frsize = 1 << 30, 4096
        os.statvfs = lambda path: Roomy()
        from dcgan.runtime.cli import main
        main(['--model', {str(GEN)!r}, '--n', '289', '--nrow', '17', '--out', {out!r}, '-q'])
    """)
    r = subprocess.run([sys.executable, "-c", code], cwd=tiny_disk, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 1, r.stderr
    assert r.stderr.count("\n") == 1 and f"cannot write {out}: No space left on device" in r.stderr
    assert os.listdir(tiny_disk) == []
