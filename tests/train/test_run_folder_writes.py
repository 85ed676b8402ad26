"""A write that fails (a full disk) leaves the run folder as the last checkpoint left it, and
the run goes on from there."""
from __future__ import annotations

import builtins
import errno
import json
from pathlib import Path

import pytest
import torch

from test_train_cli import SMALL, assert_one_line_error, invoke

TINY = [*SMALL[2:], "--data", "fake:64", "--eval-every", "0"]  # SMALL without its --data


def folder_state(out: Path) -> tuple[int, list[int], list[str]]:
    """(the checkpoint's epoch, the epochs metrics.jsonl claims, the sample grids)."""
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    return (torch.load(out / "checkpoint.pt", weights_only=True)["epoch"],
            [r["epoch"] for r in rows], sorted(p.name for p in (out / "samples").iterdir()))


@pytest.mark.parametrize("target", ["checkpoint.pt", "epoch_0002.png", "metrics.jsonl", "loss.png"])
def test_a_failed_write_at_a_later_epoch_keeps_the_folder_consistent(tmp_path, monkeypatch, target):
    out = tmp_path / "run"
    real_open, opened = builtins.open, []

    class FullDisk:
        def __init__(self, f):
            self._f = f

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name):
            return getattr(self._f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._f.close()

    def open_(file, mode="r", *args, **kwargs):
        f = real_open(file, mode, *args, **kwargs)
        if "w" in mode and Path(file).name.startswith(f".{target}."):
            opened.append(file)
            if len(opened) == (1 if target.startswith("epoch_") else 2):  # in epoch 2
                return FullDisk(f)
        return f

    monkeypatch.setattr(builtins, "open", open_)
    result = invoke(*TINY, "--epochs", "3", "--out", out)
    monkeypatch.undo()
    assert_one_line_error(result, "cannot write the run folder", "No space left", target)
    assert folder_state(out) == (1, [1], ["epoch_0001.png"])
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]  # no temp file left

    resumed = invoke("--resume", "--out", out)
    assert resumed.exit_code == 0, resumed.output
    assert folder_state(out) == (3, [1, 2, 3], [f"epoch_000{i}.png" for i in (1, 2, 3)])


def test_a_full_disk_at_a_later_epoch_keeps_the_folder_consistent(tiny_disk):
    out = tiny_disk / "run"
    # One epoch's files fit in the 1 MiB; the second checkpoint, written beside the first
    # before it replaces it, does not.
    result = invoke(*SMALL, "--epochs", "3", "--out", out)
    assert_one_line_error(result, "cannot write the run folder", "No space left")
    epoch, claimed, grids = folder_state(out)
    assert epoch >= 1 and claimed == list(range(1, epoch + 1))
    assert grids == [f"epoch_{i:04d}.png" for i in range(1, epoch + 1)]
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]


def test_the_same_command_starts_again_where_a_run_saved_no_checkpoint(tmp_path):
    """What a start killed (or out of disk) between config.json and its first checkpoint left."""
    out = tmp_path / "run"
    args = [*TINY, "--epochs", "1", "--out", out]
    assert invoke(*args).exit_code == 0
    for p in [out / "checkpoint.pt", out / "metrics.jsonl", out / "loss.png",
              *(out / "samples").iterdir()]:
        p.unlink()

    again = invoke(*args)
    assert again.exit_code == 0, again.output
    assert "replacing a run that had saved no checkpoint" in again.stdout
    assert folder_state(out) == (1, [1], ["epoch_0001.png"])
    assert_one_line_error(invoke(*args), "already holds a run")  # one with a checkpoint stays
