"""dcgan-train as a user meets it: one-line errors, the run folder, resume, signals."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from dcgan.train.cli import main

SMALL = ["--data", "fake:40", "--batch-size", "8", "--g-width", "4", "--d-width", "4",
         "--latent-dim", "8", "--device", "cpu", "--threads", "1", "--seed", "3"]


def without(args: list[str], *options: str) -> list[str]:
    """``args`` minus the given options and their values."""
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
        elif a in options:
            skip = True
        else:
            out.append(a)
    return out


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_one_line_error(result, *fragments):
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.mark.parametrize("args, fragment", [
    (["--batch-size", "0"], "--batch-size"),
    (["--lr", "-1"], "--lr"),
    (["--lr", "inf"], "lr"),
    (["--epochs", "two"], "--epochs"),
    (["--preset", "fast"], "--preset"),
    (["--background", "red"], "--background"),
    (["--ema-decay", "1"], "--ema-decay"),
    (["--device", "tpu"], "tpu"),
    (["--device", "cuda:7"] if not torch.cuda.is_available() else ["--device", "cuda:99"], "cuda"),
    (["--batch-size", "64"], "fewer than one batch"),
])
def test_bad_values_are_one_line_errors(tmp_path, args, fragment):
    base = without(SMALL, *[a for a in args if a in SMALL])  # the option under test replaces
    result = invoke(*base, *args, "--out", tmp_path / "run")
    assert_one_line_error(result, fragment)
    assert not (tmp_path / "run").exists()  # a failed start leaves nothing behind


def test_missing_data_is_one_line_error(tmp_path):
    result = invoke(*without(SMALL, "--data"), "--data", tmp_path / "nowhere", "--out", tmp_path / "run")
    assert_one_line_error(result, "nowhere")
    assert not (tmp_path / "run").exists()


def test_unusable_out_folders_are_refused(tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    assert_one_line_error(invoke(*SMALL, "--out", a_file), "file")
    assert_one_line_error(invoke(*SMALL, "--out", a_file / "run"), "cannot write")
    assert_one_line_error(invoke(*SMALL, "--out", tmp_path), "not empty")
    assert_one_line_error(invoke(*SMALL, "--resume"), "--resume needs --out")
    assert_one_line_error(invoke(*SMALL, "--resume", "--out", tmp_path / "new"), "nothing to resume")


def test_a_run_then_resume_to_a_larger_total(tmp_path):
    out = tmp_path / "run"
    first = invoke(*SMALL, "--epochs", "1", "--out", out)
    assert first.exit_code == 0, first.output
    # the seed's closing line
    assert first.stdout.strip().splitlines()[-1].endswith("examples/sec on cpu")
    config = json.loads((out / "config.json").read_text())
    assert config["seed"] == 3 and config["epochs"] == 1
    # the default recipe: the best-scoring one on the sprites (docs/results.md)
    assert config["preset"] == "small-data" and config["lr"] == 2e-4 and config["init"] == "dcgan"
    assert config["flip"] and config["ema"] and config["diffaugment"] == "color,translation,cutout"

    assert_one_line_error(invoke(*SMALL, "--epochs", "2", "--out", out), "--resume")
    assert_one_line_error(invoke("--resume", "--out", out, "--epochs", "2", "--g-width", "8"),
                          "--g-width 8", "architecture")
    assert_one_line_error(invoke("--resume", "--out", out, "--epochs", "2", "--lr", "0.1"),
                          "--lr")
    assert_one_line_error(invoke("--resume", "--out", out, "--epochs", "2", "--no-flip"),
                          "--flip False", "training recipe")

    again = invoke("--resume", "--out", out, "--epochs", "2", "--threads", "1")
    assert again.exit_code == 0, again.output
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]
    assert json.loads((out / "config.json").read_text())["epochs"] == 2

    done = invoke("--resume", "--out", out, "--threads", "1")
    assert done.exit_code == 0 and "nothing to train" in done.stdout


def test_resume_refuses_other_images(tmp_path):
    out = tmp_path / "run"
    assert invoke(*SMALL, "--epochs", "1", "--out", out).exit_code == 0
    result = invoke("--resume", "--out", out, "--epochs", "2", "--data", "fake:48")
    assert_one_line_error(result, "differs")


def test_options_switch_off_what_the_default_preset_switches_on(tmp_path):
    out = tmp_path / "run"
    result = invoke(*SMALL, "--epochs", "1", "--no-flip", "--no-ema", "--diffaugment", "none",
                    "--out", out)
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert (config["flip"], config["ema"], config["diffaugment"]) == (False, False, "")
    assert config["lr"] == 2e-4  # the rest of the preset stays


def test_preset_seed_is_the_d2l_recipe(tmp_path):
    out = tmp_path / "run"
    result = invoke(*SMALL, "--preset", "seed", "--epochs", "1", "--out", out)
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert (config["lr"], config["init"], config["flip"], config["ema"], config["diffaugment"]) \
        == (0.005, "seed", False, False, "")


def test_preset_dcgan_sets_its_recipe(tmp_path):
    out = tmp_path / "run"
    result = invoke(*without(SMALL, "--batch-size"), "--preset", "dcgan", "--batch-size", "8", "--epochs", "1", "--out", out)
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert (config["lr"], config["init"], config["batch_size"]) == (2e-4, "dcgan", 8)


def test_non_finite_loss_exits_non_zero_with_one_line(tmp_path):
    result = invoke(*SMALL, "--epochs", "2", "--lr", "1e30", "--out", tmp_path / "run")
    assert_one_line_error(result, "non-finite")
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def _train_process(out: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-c", "from dcgan.train.entry import main; main()",
           *without(SMALL, "--data"), "--data", "fake:64",
           "--out", str(out), *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_sigterm_saves_a_resumable_checkpoint_and_exits_zero(tmp_path):
    out = tmp_path / "run"
    proc = _train_process(out, "--epochs", "100000")
    deadline = time.monotonic() + 60
    while not (out / "samples" / "epoch_0001.png").exists():  # training is under way
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert "stopped by SIGTERM" in stderr and "--resume" in stderr
    assert "Traceback" not in stderr
    saved = torch.load(out / "checkpoint.pt", weights_only=True)
    assert saved["epoch"] >= 1
    resumed = invoke("--resume", "--out", out, "--epochs", saved["epoch"] + 1)
    assert resumed.exit_code == 0, resumed.output
    assert torch.load(out / "checkpoint.pt", weights_only=True)["epoch"] == saved["epoch"] + 1


def test_ctrl_c_exits_130(tmp_path):
    out = tmp_path / "run"
    proc = _train_process(out, "--epochs", "100000")
    deadline = time.monotonic() + 60
    while not (out / "samples" / "epoch_0001.png").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "stopped by SIGINT" in stderr
    assert torch.load(out / "checkpoint.pt", weights_only=True)["step"] > 0
