"""dcgan-train as a user meets it: one-line errors, the run folder, resume, signals."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from PIL import Image

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
    assert len(lines) == 1 and lines[0].startswith("dcgan-train: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.mark.parametrize("args, fragment", [
    (["--batch-size", "0"], "--batch-size"),
    (["--lr", "-1"], "--lr"),
    (["--lr", "inf"], "lr"),
    (["--epochs", "two"], "--epochs"),
    (["--preset", "fast"], "--preset"),
    (["--preset", "seed"], "--preset"),  # "seed" is the random seed; the recipe is "d2l"
    (["--init", "seed"], "--init"),
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
    # the d2l chapter's closing line
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


def test_preset_d2l_is_the_d2l_recipe(tmp_path):
    out = tmp_path / "run"
    result = invoke(*SMALL, "--preset", "d2l", "--epochs", "1", "--out", out)
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert (config["preset"], config["lr"], config["init"], config["flip"], config["ema"],
            config["diffaugment"]) == ("d2l", 0.005, "d2l", False, False, "")


def _call_the_recipe_seed(out: Path) -> None:
    """Rewrite a d2l run as earlier versions stored it: "seed" as preset and init."""
    config = json.loads((out / "config.json").read_text())
    (out / "config.json").write_text(json.dumps({**config, "preset": "seed", "init": "seed"}))
    if (out / "checkpoint.pt").exists():
        ckpt = torch.load(out / "checkpoint.pt", weights_only=True)
        ckpt["config"].update(preset="seed", init="seed")
        torch.save(ckpt, out / "checkpoint.pt")


@pytest.mark.parametrize("with_checkpoint", [True, False])
def test_a_run_whose_options_call_the_d2l_recipe_seed_resumes(tmp_path, with_checkpoint):
    out = tmp_path / "run"
    assert invoke(*SMALL, "--preset", "d2l", "--epochs", "1", "--out", out).exit_code == 0
    first = json.loads((out / "metrics.jsonl").read_text())
    if not with_checkpoint:  # a run stopped before its first step: config.json alone
        for p in [out / "checkpoint.pt", out / "metrics.jsonl", out / "loss.png",
                  *(out / "samples").iterdir()]:
            p.unlink()
    _call_the_recipe_seed(out)

    assert_one_line_error(invoke("--resume", "--out", out, "--epochs", "2", "--preset", "dcgan"),
                          "--preset dcgan", "trained with d2l")
    resumed = invoke("--resume", "--out", out, "--epochs", "2", "--preset", "d2l", "--init", "d2l")
    assert resumed.exit_code == 0, resumed.output
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]
    # Kept from the checkpoint, or trained again with the same seed and the same d2l init.
    assert (rows[0]["loss_D"], rows[0]["loss_G"]) == (first["loss_D"], first["loss_G"])
    config = json.loads((out / "config.json").read_text())
    assert (config["preset"], config["init"], config["lr"]) == ("d2l", "d2l", 0.005)
    assert torch.load(out / "checkpoint.pt", weights_only=True)["config"]["init"] == "d2l"


def test_preset_dcgan_sets_its_recipe(tmp_path):
    out = tmp_path / "run"
    result = invoke(*without(SMALL, "--batch-size"), "--preset", "dcgan", "--batch-size", "8", "--epochs", "1", "--out", out)
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert (config["lr"], config["init"], config["batch_size"]) == (2e-4, "dcgan", 8)


def test_non_finite_loss_exits_non_zero_with_one_line(tmp_path):
    result = invoke(*SMALL, "--epochs", "2", "--lr", "1e30", "--out", tmp_path / "run")
    assert_one_line_error(result, "non-finite")
    # Nothing was saved, so nothing is kept: the same --out takes the lower --lr it suggests.
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("existed", [False, True])
def test_networks_too_large_for_memory_are_one_line_and_the_out_can_be_reused(tmp_path, existed):
    out = tmp_path / "run"
    if existed:
        out.mkdir()
    # The discriminator's second layer would need 2**47 bytes: more than any address space,
    # so the allocation fails at once even where memory is overcommitted.
    result = invoke(*without(SMALL, "--d-width"), "--d-width", 2**20, "--epochs", "1",
                    "--out", out)
    assert_one_line_error(result, "out of memory", "--d-width")
    assert out.exists() == existed and not (existed and any(out.iterdir()))
    retry = invoke(*SMALL, "--epochs", "1", "--out", out)
    assert retry.exit_code == 0, retry.output


@pytest.mark.parametrize("text, kind", [("[1, 2]", "array"), ("null", "null"), ('"x"', "string"),
                                        ("{}", "no 'data'")])
def test_resume_refuses_a_config_that_is_not_an_object(tmp_path, text, kind):
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.json").write_text(text)
    result = invoke(*SMALL, "--epochs", "1", "--resume", "--out", out)
    assert_one_line_error(result, str(out / "config.json"), kind)
    assert [p.name for p in out.iterdir()] == ["config.json"]  # no new run started there


def test_resume_compares_diffaugment_policies_not_spellings(tmp_path):
    off, full = tmp_path / "off", tmp_path / "full"
    assert invoke(*SMALL, "--epochs", "1", "--diffaugment", "none", "--out", off).exit_code == 0
    assert invoke(*SMALL, "--epochs", "1", "--out", full).exit_code == 0  # the preset's policy

    same = invoke("--resume", "--out", off, "--epochs", "2", "--diffaugment", "none")
    assert same.exit_code == 0, same.output
    same = invoke("--resume", "--out", full, "--epochs", "2",
                  "--diffaugment", "color, translation, cutout")
    assert same.exit_code == 0, same.output

    other = invoke("--resume", "--out", off, "--epochs", "3", "--diffaugment", "color")
    assert_one_line_error(other, "--diffaugment color", "trained with none")
    other = invoke("--resume", "--out", full, "--epochs", "3", "--diffaugment", "none")
    assert_one_line_error(other, "--diffaugment none", "trained with color,translation,cutout")


def _image_folder(folder: Path, count: int = 8) -> Path:
    folder.mkdir(parents=True)
    for i in range(count):
        Image.new("RGB", (16, 16), (30 * i, 100, 200)).save(folder / f"{i}.png")
    return folder


def test_out_inside_the_data_folder_is_refused(tmp_path, monkeypatch):
    sprites = _image_folder(tmp_path / "sprites")
    cache = ["--cache-dir", tmp_path / "cache"]
    args = [*without(SMALL, "--data"), *cache, "--epochs", "1"]
    before = sorted(sprites.rglob("*"))

    result = invoke(*args, "--data", sprites, "--out", sprites / "runs" / "a")
    assert_one_line_error(result, "inside the --data folder", "choose an --out outside it")
    monkeypatch.chdir(sprites)  # the default --out, runs/<date-time>, is inside too
    assert_one_line_error(invoke(*args, "--data", "."), "inside the --data folder")
    (tmp_path / "link").symlink_to(sprites)
    assert_one_line_error(invoke(*args, "--data", tmp_path / "link", "--out", sprites / "b"),
                          "inside the --data folder")
    assert sorted(sprites.rglob("*")) == before  # refused before anything was written

    beside = invoke(*args, "--data", sprites, "--out", tmp_path / "sprites-run")
    assert beside.exit_code == 0, beside.output  # a name that only starts like the folder's
    hidden = invoke(*args, "--data", sprites, "--out", sprites / ".runs" / "c")
    assert hidden.exit_code == 0, hidden.output  # hidden folders are never read as images


def test_a_folder_left_with_an_empty_samples_folder_takes_a_new_run(tmp_path):
    """What a start stopped between making the folder and writing config.json leaves."""
    (tmp_path / "run" / "samples").mkdir(parents=True)
    result = invoke(*SMALL, "--epochs", "1", "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    (tmp_path / "other" / "samples").mkdir(parents=True)
    (tmp_path / "other" / "samples" / "mine.png").write_bytes(b"x")
    assert_one_line_error(invoke(*SMALL, "--epochs", "1", "--out", tmp_path / "other"),
                          "not empty and is not a run folder")


def test_out_of_memory_advice_fits_a_new_run_and_a_resumed_one():
    from dcgan.train.session import out_of_memory

    e = RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate "
                     "140737488355328 bytes. Error code 12 (Cannot allocate memory)")
    new = str(out_of_memory(e, "cpu"))
    assert new == ("out of memory on cpu (tried to allocate 128.0 TiB): lower --g-width, "
                   "--d-width or --batch-size")
    resumed = str(out_of_memory(e, "cpu", resume=True))
    assert "resume it on a device with more memory" in resumed and "another --out" in resumed
    cuda = RuntimeError("CUDA out of memory. Tried to allocate 20.00 MiB (GPU 0; 1.95 GiB total)")
    assert "(tried to allocate 20.0 MiB)" in str(out_of_memory(cuda, "cuda:0"))
    assert out_of_memory(RuntimeError("shape mismatch"), "cpu") is None


def test_files_get_the_permissions_the_umask_allows(tmp_path):
    sprites = _image_folder(tmp_path / "sprites")
    out, cache = tmp_path / "run", tmp_path / "cache"
    previous = os.umask(0o027)
    try:
        result = invoke(*without(SMALL, "--data"), "--data", sprites, "--cache-dir", cache,
                        "--epochs", "1", "--out", out)
    finally:
        os.umask(previous)
    assert result.exit_code == 0, result.output
    written = [p for p in [*out.rglob("*"), *cache.rglob("*")] if p.is_file()]
    names = {p.relative_to(tmp_path).as_posix() for p in written}
    assert {"run/checkpoint.pt", "run/config.json", "run/metrics.jsonl", "run/loss.png",
            "run/samples/epoch_0001.png"} <= names
    assert any(n.startswith("cache/decoded/") for n in names)
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in written} \
        == {p.name: oct(0o640) for p in written}


def _train_process(out: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-c", "from dcgan.train.entry import main; main()",
           *without(SMALL, "--data"), "--data", "fake:64",
           "--out", str(out), *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_sigterm_saves_a_resumable_checkpoint_and_exits_143(tmp_path):
    out = tmp_path / "run"
    proc = _train_process(out, "--epochs", "100000")
    deadline = time.monotonic() + 60
    while not (out / "samples" / "epoch_0001.png").exists():  # training is under way
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr  # preempted, not finished: a scheduler can tell
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


# The signal arrives inside the wrapped function: while the data loads, or once config.json is
# written but before the training loop has installed its handler.
_SIGNAL_INSIDE = """
import os, signal, sys
import dcgan.data, dcgan.train.loop
name, signum = sys.argv[1], getattr(signal, sys.argv[2])
module = {"load_dataset": dcgan.data, "train": dcgan.train.loop}[name]
real = getattr(module, name)
def signalled(*args, **kwargs):
    os.kill(os.getpid(), signum)
    return real(*args, **kwargs)
setattr(module, name, signalled)
sys.argv[1:3] = []
from dcgan.train.entry import main
main()
"""


def _signal_inside(inside: str, signame: str, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _SIGNAL_INSIDE, inside, signame, *SMALL,
                           "--epochs", "1", "--out", str(out)],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("inside, says", [
    ("load_dataset", "nothing resumable was written"),
    ("train", "dcgan-train --out {out} --resume"),
])
def test_sigterm_before_the_training_loop_is_a_clear_stop(tmp_path, inside, says):
    out = tmp_path / "run"
    proc = _signal_inside(inside, "SIGTERM", out)
    assert proc.returncode == 143, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "stopped by SIGTERM" in lines[0], proc.stderr
    assert says.format(out=out) in lines[0]
    if inside == "load_dataset":
        assert not out.exists()
        again = invoke(*SMALL, "--epochs", "1", "--out", out)  # "the same command"
    else:
        assert not (out / "checkpoint.pt").exists()
        again = invoke("--resume", "--out", out)
    assert again.exit_code == 0, again.output
    assert torch.load(out / "checkpoint.pt", weights_only=True)["epoch"] == 1


def test_ctrl_c_before_the_training_loop_exits_130_with_one_line(tmp_path):
    proc = _signal_inside("load_dataset", "SIGINT", tmp_path / "run")
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "dcgan-train: interrupted; files already in the run folder are whole"]
    assert not (tmp_path / "run").exists()
