"""dcgan-export as a user runs it: what it writes and prints, and how it refuses bad input."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import onnx
import pytest
import torch
from click.testing import CliRunner

from dcgan.export.cli import main
from dcgan.core.metadata import METADATA_KEY
from dcgan.train.checkpoint import atomic_save, make_checkpoint
from dcgan.train.model import ModelConfig, build_models

from export_helpers import SMALL, files_in, write_run


def _invoke(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


def _meta(path) -> dict:
    return json.loads({p.key: p.value for p in onnx.load(str(path)).metadata_props}[METADATA_KEY])


def test_exports_both_networks_and_reports_what_it_wrote(small_run, tmp_path):
    out = tmp_path / "model.onnx"
    result = _invoke(out, "--checkpoint", small_run)
    assert result.exit_code == 0, result.output
    assert files_in(tmp_path) == ["model.discriminator.onnx", "model.onnx"]
    text = result.stdout
    assert f"generator: {out} (" in text and f"discriminator: {tmp_path / 'model.discriminator.onnx'} (" in text
    assert "z [batch, 100, 1, 1] -> image [batch, 3, 64, 64], opset 18" in text
    assert "image [batch, 3, 64, 64] -> logit [batch], opset 18" in text
    assert text.count("max |diff| batch 1: ") == 2 and "batch 5: " in text
    ops_line = next(line for line in text.splitlines() if line.strip().startswith("13 nodes: "))
    assert sorted(ops_line.split(": ", 1)[1].split(", ")) == [
        "Clip x1", "ConvTranspose x4", "Flatten x1", "Gemm x1", "Relu x4", "Reshape x1", "Tanh x1"]
    assert "KiB" in text and "EMA weights" in text and "epoch 3, step 42" in text
    assert result.stderr == ""


def test_options_name_the_discriminator_pick_raw_weights_and_the_opset(small_run, tmp_path):
    result = _invoke(tmp_path / "g.onnx", "--checkpoint", small_run / "checkpoint.pt", "--raw",
                     "--opset", 20, "--discriminator-out", tmp_path / "critic.onnx", "--no-check")
    assert result.exit_code == 0, result.output
    assert files_in(tmp_path) == ["critic.onnx", "g.onnx"]
    assert _meta(tmp_path / "g.onnx")["ema"] is False and "raw weights" in result.stdout
    assert onnx.load(str(tmp_path / "critic.onnx")).opset_import[0].version == 20
    assert "checks skipped" in result.stdout


def test_default_checkpoint_is_the_newest_run(tmp_path, monkeypatch):
    # Named so that alphabetical order would pick the wrong one.
    newest = write_run(tmp_path / "runs" / "a-new", seed=2)
    older = write_run(tmp_path / "runs" / "z-old", seed=3)
    past = time.time() - 3600
    os.utime(older / "checkpoint.pt", (past, past))
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "m.onnx"
    result = _invoke(out, "--no-discriminator")
    assert result.exit_code == 0, result.output
    assert files_in(tmp_path) == ["m.onnx", "runs"]
    sha = hashlib.sha256((newest / "checkpoint.pt").read_bytes()).hexdigest()
    assert _meta(out)["checkpoint_sha256"] == sha


# --- bad input: one line on stderr, non-zero exit, no traceback, nothing written ----------------


def _bad_checkpoints(folder):
    """name -> a checkpoint path that must be refused."""
    real = write_run(folder / "real") / "checkpoint.pt"
    paths = {"missing": folder / "nope" / "checkpoint.pt"}

    paths["corrupt"] = folder / "corrupt.pt"
    paths["corrupt"].write_bytes(os.urandom(4096))

    paths["truncated"] = folder / "truncated.pt"
    data = real.read_bytes()
    paths["truncated"].write_bytes(data[: len(data) // 2])

    paths["foreign-dict"] = folder / "foreign-dict.pt"
    torch.save({"state_dict": {"w": torch.zeros(2)}}, paths["foreign-dict"])

    paths["foreign-object"] = folder / "foreign-object.pt"
    torch.save(torch.nn.Linear(2, 2), paths["foreign-object"])

    # Claims widths 16 but holds width-8 weights.
    g, d = build_models(SMALL)
    paths["wrong-architecture"] = folder / "wrong-architecture.pt"
    atomic_save(make_checkpoint(ModelConfig(g_width=16, d_width=16), g, d), paths["wrong-architecture"])
    return paths


@pytest.fixture(scope="module")
def bad_checkpoints(tmp_path_factory):
    return _bad_checkpoints(tmp_path_factory.mktemp("bad"))


def _assert_refused(result, folder, before, *, says: str):
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit)  # no uncaught exception
    assert "Traceback" not in result.output
    err = result.stderr.strip()
    assert "\n" not in err and err.startswith("dcgan-export: error: "), result.stderr
    assert says.lower() in err.lower(), err
    assert result.stdout == ""
    assert files_in(folder) == before


@pytest.mark.parametrize(
    "name, says",
    [
        ("missing", "no checkpoint"),
        ("corrupt", "not a checkpoint file"),
        ("truncated", "not a"),
        ("foreign-dict", "not a dcgan-edge checkpoint"),
        ("foreign-object", "not a dcgan-edge checkpoint"),
        ("wrong-architecture", "do not fit the architecture"),
    ],
)
def test_bad_checkpoint_is_refused(bad_checkpoints, tmp_path, name, says):
    (tmp_path / "model.onnx").write_bytes(b"kept")
    result = _invoke(tmp_path / "model.onnx", "--checkpoint", bad_checkpoints[name])
    _assert_refused(result, tmp_path, ["model.onnx"], says=says)
    assert (tmp_path / "model.onnx").read_bytes() == b"kept"


def test_discriminator_failure_leaves_no_generator_behind(tmp_path):
    g, _ = build_models(SMALL)
    _, d_small = build_models(ModelConfig(d_width=4))
    ckpt = tmp_path / "mixed.pt"
    atomic_save(make_checkpoint(SMALL, g, d_small), ckpt)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    result = _invoke(out_dir / "model.onnx", "--checkpoint", ckpt)
    _assert_refused(result, out_dir, [], says="discriminator weights do not fit")


def test_no_runs_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = _invoke("model.onnx")
    _assert_refused(result, tmp_path, [], says="no run folder")


@pytest.mark.parametrize(
    "args, says",
    [
        (["{d}/model.png"], "must end in .onnx"),
        (["{d}/model.onnx", "--discriminator-out", "{d}/d.txt"], "must end in .onnx"),
        (["{d}/missing-folder/model.onnx"], "does not exist"),
        (["{d}/a-file/model.onnx"], "is not a folder"),
        (["{d}/model.onnx", "--atol", "0"], "--atol"),
        (["{d}/model.onnx", "--atol", "-1e-3"], "--atol"),
        (["{d}/model.onnx", "--atol", "tiny"], "--atol"),
        (["{d}/model.onnx", "--atol", "nan"], "--atol"),
        (["{d}/model.onnx", "--atol", "inf"], "--atol"),
        (["{d}/model.onnx", "--min-psnr", "nan"], "--min-psnr"),
        (["{d}/model.onnx", "--opset", "11"], "--opset"),
        (["{d}/model.onnx", "--bn-latents", "-1"], "--bn-latents"),
        (["{d}/model.onnx", "--no-discriminator", "--discriminator-out", "{d}/d.onnx"], "exclude each other"),
        (["{d}/model.onnx", "--discriminator-out", "{d}/model.onnx"], "same file"),
        ([], "missing argument"),
    ],
)
def test_bad_options_are_refused(small_run, tmp_path, args, says):
    (tmp_path / "a-file").write_text("not a folder")
    before = files_in(tmp_path)
    result = _invoke(*[a.format(d=tmp_path) for a in args], "--checkpoint", small_run)
    _assert_refused(result, tmp_path, before, says=says)


def _unwritable_folder(tmp_path):
    """A folder this process cannot create files in: read-only permissions for a normal user;
    for root (which ignores them) a read-only file system such as /sys, where there is one."""
    if os.geteuid() != 0:
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o555)
        return folder
    try:
        fd, name = tempfile.mkstemp(dir="/sys")
    except OSError:
        return Path("/sys")
    os.close(fd)
    os.unlink(name)
    pytest.skip("no read-only folder available to root here")


def test_unwritable_output_folder(small_run, tmp_path):
    folder = _unwritable_folder(tmp_path)
    before = files_in(folder)
    try:
        result = _invoke(folder / "model.onnx", "--checkpoint", small_run)
        _assert_refused(result, folder, before, says="writ")
    finally:
        if folder != Path("/sys"):
            folder.chmod(0o755)

def test_entry_point_explains_a_missing_torch_in_one_line():
    # The package root must stay importable without torch, and the console entry must say
    # what to install instead of failing with an ImportError.
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import dcgan.export, dcgan.export.entry\n"
        "dcgan.export.entry.main()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert proc.stderr.strip() == "dcgan-export needs torch: pip install 'dcgan-edge[export,cpu]'"
