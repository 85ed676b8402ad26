"""The options a run stored (config.json, the checkpoint) are checked as the command line's
are, and must belong to the run folder they are in."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from test_train_cli import SMALL, _image_folder, assert_one_line_error, invoke, without

TINY = [*without(SMALL, "--data"), "--data", "fake:64", "--eval-every", "0"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[int, Path]:
    """One epoch of two runs that differ only in their --seed."""
    base = tmp_path_factory.mktemp("stored")
    runs = {}
    for seed in (3, 4):
        runs[seed] = base / f"seed{seed}"
        result = invoke(*without(TINY, "--seed"), "--seed", seed, "--epochs", "1",
                        "--out", runs[seed])
        assert result.exit_code == 0, result.output
    return runs


def files_of(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}


def with_option(out: Path, name: str, json_text: str) -> None:
    """Set one option of config.json to ``json_text``, as written (1e400, NaN...)."""
    config = json.loads((out / "config.json").read_text())
    text = json.dumps({**config, name: "<value>"}, indent=2)
    (out / "config.json").write_text(text.replace('"<value>"', json_text))


@pytest.mark.parametrize("name, text, fragment", [
    ("epochs", "1e400", "--epochs must be a whole number, got inf"),
    ("epochs", "2.5", "--epochs must be a whole number, got 2.5"),
    ("epochs", "true", "--epochs must be a whole number, got true"),
    ("epochs", '"3"', "--epochs must be a whole number"),
    ("lr", "NaN", "--lr must be a finite number"),
    ("flip", "1", "--flip must be true or false"),
    ("fit", '"zoom"', "--fit must be one of stretch, pad"),
    ("seed", "-1", "--seed must be at least 0"),
    ("background", "[255, 255]", "--background must be three whole numbers"),
    ("epochs", "[" * 100_000 + "]" * 100_000, "nested too deeply"),
])
@pytest.mark.parametrize("with_checkpoint", [True, False])
def test_resume_refuses_a_malformed_stored_option(trained, tmp_path, name, text, fragment,
                                                  with_checkpoint):
    out = tmp_path / "run"
    shutil.copytree(trained[3], out)
    if not with_checkpoint:  # a run stopped before its first one: config.json alone
        (out / "checkpoint.pt").unlink()
    with_option(out, name, text)
    before = files_of(out)
    result = invoke("--resume", "--out", out, "--threads", "1")
    assert_one_line_error(result, str(out / "config.json"), fragment)
    assert files_of(out) == before


def test_resume_refuses_an_unknown_stored_option(trained, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(trained[3], out)
    config = json.loads((out / "config.json").read_text())
    (out / "config.json").write_text(json.dumps({**config, "epoch_count": 5}))
    assert_one_line_error(invoke("--resume", "--out", out), str(out / "config.json"),
                          "unknown option 'epoch_count'")


def test_resume_refuses_a_malformed_option_inside_the_checkpoint(trained, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(trained[3], out)
    ckpt = torch.load(out / "checkpoint.pt", weights_only=True)
    ckpt["config"]["batch_size"] = 8.0
    torch.save(ckpt, out / "checkpoint.pt")
    assert_one_line_error(invoke("--resume", "--out", out, "--epochs", "2"),
                          str(out / "checkpoint.pt"), "--batch-size must be a whole number")


def test_resume_refuses_a_checkpoint_copied_from_another_run(trained, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(trained[3], out)
    shutil.copy(trained[4] / "checkpoint.pt", out / "checkpoint.pt")
    before = files_of(out)
    result = invoke("--resume", "--out", out, "--epochs", "2")
    assert_one_line_error(result, str(out / "checkpoint.pt"), "not the checkpoint of the run",
                          "--seed 4 vs 3")
    assert files_of(out) == before


def test_a_relative_data_folder_resumes_from_another_working_folder(tmp_path, monkeypatch):
    _image_folder(tmp_path / "work" / "sprites", count=16)
    (tmp_path / "elsewhere").mkdir()
    args = [*without(TINY, "--data"), "--cache-dir", tmp_path / "cache"]
    monkeypatch.chdir(tmp_path / "work")
    first = invoke(*args, "--data", "sprites", "--epochs", "1", "--out", tmp_path / "run")
    assert first.exit_code == 0, first.output
    stored = json.loads((tmp_path / "run" / "config.json").read_text())["data"]
    assert stored == str((tmp_path / "work" / "sprites").resolve())

    monkeypatch.chdir(tmp_path / "elsewhere")
    resumed = invoke("--resume", "--out", tmp_path / "run", "--epochs", "2")
    assert resumed.exit_code == 0, resumed.output
    assert json.loads((tmp_path / "run" / "config.json").read_text())["data"] == stored


def test_a_keyword_data_spec_is_stored_as_given(trained):
    assert json.loads((trained[3] / "config.json").read_text())["data"] == "fake:64"
