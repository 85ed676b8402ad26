"""What a data source may read: regular files of bounded size, each refusal skipped with its
reason; and pixels that are what the file says (16-bit grey scaled by its format's range)."""
from __future__ import annotations

import logging
import os
import threading

import numpy as np
import pytest
from PIL import Image

from dcgan.data import load_dataset
from dcgan.data import sources


def good(folder, name="good.png", colour=(200, 30, 30)):
    folder.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), colour).save(folder / name)


def load(folder, tmp_path, **kw):
    return load_dataset(str(folder), cache_dir=tmp_path / "cache", progress=False, **kw)


def in_thread_with_timeout(fn, seconds=20.0):
    """Run ``fn`` in a thread; fail instead of hanging the suite when it blocks."""
    result = {}
    t = threading.Thread(target=lambda: result.update(value=fn()), daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"{fn} did not return within {seconds} s"
    return result["value"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this OS")
def test_a_fifo_named_like_an_image_is_skipped_not_waited_on(tmp_path, caplog):
    folder = tmp_path / "data"
    good(folder)
    os.mkfifo(folder / "pipe.png")
    with caplog.at_level(logging.WARNING, logger="dcgan.data"):
        ds = in_thread_with_timeout(lambda: load(folder, tmp_path))
    assert len(ds) == 1 and ds.skipped == ("pipe.png",)
    assert "1 not a regular file (pipe.png)" in caplog.text


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_a_symlink_to_a_device_is_skipped_before_a_byte_is_read(tmp_path, caplog):
    folder = tmp_path / "data"
    good(folder)
    os.symlink("/dev/zero", folder / "endless.png")
    with caplog.at_level(logging.WARNING, logger="dcgan.data"):
        ds = in_thread_with_timeout(lambda: load(folder, tmp_path))
    assert ds.skipped == ("endless.png",) and "not a regular file" in caplog.text


def test_a_symlink_to_an_image_is_read(tmp_path):
    folder = tmp_path / "data"
    good(tmp_path / "elsewhere", "real.png", (10, 200, 10))
    good(folder)
    os.symlink(tmp_path / "elsewhere" / "real.png", folder / "linked.png")
    ds = load(folder, tmp_path)
    assert len(ds) == 2 and not ds.skipped


def test_a_file_over_the_cap_is_refused_from_its_size(tmp_path, caplog):
    folder = tmp_path / "data"
    good(folder)
    with open(folder / "huge.png", "wb") as f:  # sparse: takes no disk
        f.truncate(sources.MAX_FILE_BYTES + 1)
    with caplog.at_level(logging.WARNING, logger="dcgan.data"):
        ds = load(folder, tmp_path)
    assert ds.skipped == ("huge.png",) and "larger than 256.0 MiB" in caplog.text


def test_the_warning_counts_the_skipped_files_by_reason(tmp_path, caplog):
    folder = tmp_path / "data"
    good(folder)
    for name in ("a.png", "b.png", "c.png", "d.png"):
        (folder / name).write_bytes(b"not an image")
    (folder / "sub.png").mkdir()  # a folder named like an image is not listed at all
    os.symlink(tmp_path / "missing.png", folder / "dangling.png")
    with caplog.at_level(logging.WARNING, logger="dcgan.data"):
        load(folder, tmp_path)
    (message,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert "skipped 5 of 6 image files" in message
    assert "4 not a decodable image (a.png, b.png, c.png, ...)" in message
    assert "1 No such file or directory (dangling.png)" in message


@pytest.mark.parametrize("level", [200, 40_000, 65535])
def test_16_bit_grey_pngs_are_scaled_by_the_formats_range(tmp_path, level):
    folder = tmp_path / "data"
    folder.mkdir()
    Image.fromarray(np.full((64, 64), level, np.uint16)).save(folder / "grey16.png")
    pixels = load(folder, tmp_path).images[0]
    want = round(level * 255 / 65535)
    assert (pixels == want).all(), (pixels.min(), pixels.max(), want)
