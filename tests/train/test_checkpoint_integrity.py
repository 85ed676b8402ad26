"""A checkpoint whose bytes were damaged on disk is refused, never trained on or exported."""
from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from dcgan.train.checkpoint import CheckpointError, load_checkpoint, load_generator
from test_train_cli import SMALL, assert_one_line_error, invoke


def flip_bytes_inside_a_tensor(path: Path) -> str:
    """Invert a few bytes in the middle of the largest tensor's data; the name of its member."""
    with zipfile.ZipFile(path) as z:
        info = max((i for i in z.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
    data = bytearray(path.read_bytes())
    # Stored (uncompressed) members: the data follows the 30-byte local header, name and extra.
    name_len = int.from_bytes(data[info.header_offset + 26:info.header_offset + 28], "little")
    extra_len = int.from_bytes(data[info.header_offset + 28:info.header_offset + 30], "little")
    start = info.header_offset + 30 + name_len + extra_len + info.file_size // 2
    for i in range(start, start + 4):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    return info.filename


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("integrity") / "run"
    result = invoke(*SMALL, "--epochs", "1", "--out", out)
    assert result.exit_code == 0, result.output
    return out


def test_load_checkpoint_refuses_a_flipped_tensor_byte(trained_run, tmp_path):
    path = tmp_path / "checkpoint.pt"
    path.write_bytes((trained_run / "checkpoint.pt").read_bytes())
    assert load_checkpoint(path)["epoch"] == 1  # whole, it loads
    member = flip_bytes_inside_a_tensor(path)
    for load in (load_checkpoint, load_generator):
        with pytest.raises(CheckpointError) as e:
            load(path)
        message = str(e.value)
        assert str(path) in message and "damaged" in message and member in message
        assert "\n" not in message


def test_resume_refuses_a_damaged_checkpoint_and_leaves_the_folder_alone(trained_run, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    for p in trained_run.rglob("*"):
        if p.is_file():
            (out / p.relative_to(trained_run)).parent.mkdir(parents=True, exist_ok=True)
            (out / p.relative_to(trained_run)).write_bytes(p.read_bytes())
    flip_bytes_inside_a_tensor(out / "checkpoint.pt")
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}

    result = invoke("--resume", "--out", out, "--epochs", "2")
    assert_one_line_error(result, str(out / "checkpoint.pt"), "damaged", "cannot be recovered")
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_export_refuses_a_damaged_checkpoint(trained_run, tmp_path):
    from dcgan.export.cli import main as export_main

    path = tmp_path / "checkpoint.pt"
    path.write_bytes((trained_run / "checkpoint.pt").read_bytes())
    flip_bytes_inside_a_tensor(path)
    result = CliRunner().invoke(export_main, [str(tmp_path / "g.onnx"), "--checkpoint", str(path)])
    assert result.exit_code != 0, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dcgan-export: error: "), result.stderr
    assert "damaged" in lines[0] and str(path) in lines[0]
    assert not (tmp_path / "g.onnx").exists()
