"""dcgan-gen as a user runs it: outputs, --info, and every bad input as one line on stderr."""
from __future__ import annotations

import os

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from runtime_fixtures import DISC, FOREIGN, GEN, GEN_NOMETA

from dcgan.runtime.cli import main


def run(args, cwd=None):
    runner = CliRunner()
    if cwd is not None:
        old = os.getcwd()
        os.chdir(cwd)
    try:
        return runner.invoke(main, [str(a) for a in args])
    finally:
        if cwd is not None:
            os.chdir(old)


def test_default_command_writes_a_21_image_grid_from_the_bundled_model(tmp_path, bundled_is_fixture, gen):
    r = run([], cwd=tmp_path)
    assert r.exit_code == 0, r.stderr
    with Image.open(tmp_path / "grid.png") as im:
        assert im.size == (7 * 66 + 2, 3 * 66 + 2)
        grid = np.asarray(im)
    assert np.array_equal(grid[2:66, 2:66], gen.sample(1, seed=0)[0])
    assert "running on CPU" in r.stderr and "placeholder" in r.stderr


def test_options_shape_the_grid(tmp_path, gen):
    out = tmp_path / "g.png"
    r = run(["--model", GEN, "--n", 10, "--nrow", 5, "--padding", 0, "--seed", 40, "--out", out])
    assert r.exit_code == 0, r.stderr
    grid = np.asarray(Image.open(out))
    assert grid.shape == (128, 320, 3)
    assert np.array_equal(grid[64:, 256:], gen.sample(1, seed=49)[0])


def test_npy_output_is_exactly_the_api_result_and_batch_size_does_not_matter(tmp_path, gen):
    for bs in (3, 64):
        out = tmp_path / f"raw{bs}.npy"
        assert run(["--model", GEN, "--n", 7, "--seed", 5, "--batch-size", bs, "--out", out]).exit_code == 0
        assert np.array_equal(np.load(out), gen.sample(7, seed=5))


def test_quiet_and_threads(tmp_path):
    r = run(["--model", GEN, "--n", 2, "--threads", 1, "-q", "--out", tmp_path / "g.webp"])
    assert r.exit_code == 0 and r.stderr == "" and (tmp_path / "g.webp").is_file()


def test_info_prints_metadata_signature_and_the_placeholder_warning(bundled_is_fixture):
    r = run(["--info"])
    assert r.exit_code == 0, r.stderr
    assert "PLACEHOLDER" in r.stdout and "bundled" in r.stdout
    assert "z: float [batch, 8, 1, 1]" in r.stdout and '"latent_dim": 8' in r.stdout


def test_info_on_a_model_without_metadata_and_on_a_discriminator():
    bare = run(["--info", "--model", GEN_NOMETA])
    assert bare.exit_code == 0 and "metadata:   none" in bare.stdout and "PLACEHOLDER" not in bare.stdout
    disc = run(["--info", "--model", DISC])
    assert disc.exit_code == 0 and "usable as:  discriminator" in disc.stdout


def test_info_on_a_foreign_model_shows_it_then_fails():
    r = run(["--info", "--model", FOREIGN])
    assert r.exit_code != 0 and "x: float [batch, 8]" in r.stdout
    assert r.stderr.count("\n") == 1 and "not a DCGAN generator" in r.stderr


def corrupt_model(tmp_path):
    p = tmp_path / "corrupt.onnx"
    p.write_bytes(GEN.read_bytes()[:5000])
    return p


def a_file(tmp_path):
    p = tmp_path / "plain.txt"
    p.write_text("x")
    return p


BAD = {
    "n zero": (["--n", "0"], "--n"),
    "n negative": (["--n", "-3"], "--n"),
    "batch size zero": (["--batch-size", "0"], "--batch-size"),
    "threads zero": (["--threads", "0"], "--threads"),
    "missing model": (["--model", "{tmp}/absent.onnx"], "no model file"),
    "corrupt model": (["--model", "{corrupt}"], "not a readable ONNX model"),
    "foreign model": (["--model", str(FOREIGN)], "expected one float input"),
    "discriminator as generator": (["--model", str(DISC)], "not a generator"),
    "missing folder": (["--out", "{tmp}/no/such/dir/g.png"], "does not exist"),
    "parent is a file": (["--out", "{file}/g.png"], "is not a folder"),
    "out is a folder": (["--out", "{tmp}"], "folder"),
    "unknown extension": (["--out", "{tmp}/g.bmp"], "output type"),
    "gif without interpolation": (["--out", "{tmp}/g.gif"], "--interpolate"),
    "unknown provider": (["--provider", "warp-drive"], "unknown provider"),
    "cuda not installed": (["--provider", "cuda"], "not in this onnxruntime build"),
    "reversed seed range": (["--seeds", "9-2", "--out-dir", "{tmp}/d"], "ends before"),
    "garbled seed range": (["--seeds", "a-b", "--out-dir", "{tmp}/d"], "not a seed range"),
    "seeds and n": (["--seeds", "0-3", "--n", "4", "--out-dir", "{tmp}/d"], "drop --seed/--n"),
    "out and out-dir": (["--out", "{tmp}/g.png", "--out-dir", "{tmp}/d"], "not both"),
    "out-dir is a file": (["--out-dir", "{file}"], "not a folder"),
    "one seed to interpolate": (["--interpolate", "3"], "at least two"),
    "interpolate with n": (["--interpolate", "1,2", "--n", "5"], "drop --n"),
    "interpolate to bmp": (["--interpolate", "1,2", "--out", "{tmp}/w.bmp"], "output type"),
    "rank with a generator": (["--rank-with", str(GEN)], "not a discriminator"),
    "rank with seeds": (["--rank-with", str(DISC), "--seeds", "0-9"], "drop --seeds"),
    "grid too large": (["--n", "5000"], "at most 4096"),
    "n beyond one job": (["--n", "99999999999999999999999", "--out", "{tmp}/s.npy"], "1000000000"),
    "seed range beyond one job": (["--seeds", "0-99999999999999999999", "--out-dir", "{tmp}/d"],
                                  "split it into ranges"),
    "oversample beyond one job": (["--rank-with", str(DISC), "--oversample", "99999999999999999999"],
                                  "--oversample"),
    "ranking pool beyond one job": (["--rank-with", str(DISC), "--n", "4096", "--oversample",
                                     "300000"], "candidates"),
    "padding too large": (["--n", "2", "--padding", "40000"], "lower --padding"),
    "animation too long": (["--interpolate", "3,4", "--steps", "100000", "--out", "{tmp}/w.gif"],
                           "at most 4096 frames"),
    "interpolation grid too large": (["--interpolate", "3,4", "--steps", "5000", "--out",
                                      "{tmp}/w.png"], "at most 4096"),
    "interpolate with nrow": (["--interpolate", "1,2", "--nrow", "3"], "drop --nrow"),
    "threads beyond the cap": (["--threads", "99999"], "--threads"),
    "remote provider": (["--provider", "azure"], "remote endpoint"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_line_nonzero_and_leaves_nothing(tmp_path, case, bundled_is_fixture):
    args, needle = BAD[case]
    subs = {"tmp": str(tmp_path), "corrupt": str(corrupt_model(tmp_path)), "file": str(a_file(tmp_path))}
    args = [a.format(**subs) for a in args]
    if "--model" not in args:
        args = ["--model", str(GEN), *args]
    before = sorted(os.listdir(tmp_path))
    r = run(args, cwd=tmp_path)
    assert r.exit_code != 0
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("dcgan-gen: error:"), r.stderr
    assert needle in r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert isinstance(r.exception, SystemExit)  # a clean exit, not an escaped exception
    assert sorted(os.listdir(tmp_path)) == before  # no grid.png, no temp file, no folder


def test_failure_keeps_an_existing_output(tmp_path):
    out = tmp_path / "grid.png"
    out.write_bytes(b"yesterday's grid")
    r = run(["--model", corrupt_model(tmp_path), "--out", out])
    assert r.exit_code != 0 and out.read_bytes() == b"yesterday's grid"


def test_npy_larger_than_the_free_disk_is_refused_before_sampling(tmp_path, monkeypatch):
    class Full:
        f_bavail, f_frsize = 1000, 4096  # 4 MB free

    monkeypatch.setattr(os, "statvfs", lambda path: Full(), raising=False)
    r = run(["--model", GEN, "--n", "1000", "--out", tmp_path / "s.npy"])  # 12 MB
    assert r.exit_code == 1 and "would take 11.7 MiB" in r.stderr and "3.9 MiB free" in r.stderr
    assert r.stderr.count("\n") == 1 and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("sig, status, word", [("SIGTERM", 143, "terminated"), ("SIGINT", 130, "interrupted")])
def test_a_signal_mid_job_keeps_the_old_file_and_leaves_no_temp_file(tmp_path, sig, status, word):
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "x.npy"
    out.write_bytes(b"yesterday's samples")
    code = "from dcgan.runtime.cli import main; main()"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "--model", str(GEN), "--n", "100000", "--out", str(out)],
        stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )
    first = proc.stderr.readline()  # the provider line: sampling starts next
    time.sleep(0.5)
    proc.send_signal(getattr(signal, sig))
    rest = proc.stderr.read()
    proc.wait(timeout=60)
    assert "running on" in first
    assert proc.returncode == status, rest
    assert rest.endswith(f"dcgan-gen: {word}; no partial output was left\n") and "Traceback" not in rest
    assert "\n\n" not in first + rest  # no blank line before it
    assert out.read_bytes() == b"yesterday's samples"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy"]


def test_a_second_signal_cannot_interrupt_the_clean_up_of_the_first():
    import signal

    import click

    from dcgan.core.command import OneLineErrors

    cleaned = []

    @click.command("job", cls=OneLineErrors)
    def job():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            threading_wait()
        finally:
            os.kill(os.getpid(), signal.SIGTERM)  # the impatient second kill
            threading_wait()
            cleaned.append(True)

    before = signal.getsignal(signal.SIGTERM)
    r = CliRunner().invoke(job, [])
    assert r.exit_code == 143 and r.stderr == "job: terminated; no partial output was left\n"
    assert cleaned == [True]
    assert signal.getsignal(signal.SIGTERM) is before  # the caller's handler is back


def test_sigterm_while_the_options_are_read_is_still_a_sigterm():
    import signal

    import click

    from dcgan.core.command import OneLineErrors

    def kill_self(ctx, param, value):
        os.kill(os.getpid(), signal.SIGTERM)
        threading_wait()
        return value

    @click.command("job", cls=OneLineErrors)
    @click.option("--x", callback=kill_self)
    def job(x):
        raise AssertionError("not reached")

    r = CliRunner().invoke(job, ["--x", "1"])
    assert r.exit_code == 143 and r.stderr.endswith("job: terminated; no partial output was left\n")


def threading_wait():
    """Give a signal sent to this process the moment to be handled (between bytecodes)."""
    import time

    for _ in range(100):
        time.sleep(0.001)


def test_a_model_that_computes_nan_fails_in_one_line_and_writes_nothing(tmp_path, monkeypatch):
    from dcgan.runtime import model_file

    def nan_run(session, input_name, x, workers, post=None):
        return post(np.full((len(x), 3, 64, 64), np.nan, np.float32))

    monkeypatch.setattr(model_file, "run_split", nan_run)
    r = run(["--model", GEN, "--n", 4, "--out", tmp_path / "g.png"])
    assert r.exit_code == 1 and r.stderr.splitlines()[-1].startswith("dcgan-gen: error: the network "
                                                                      "computed NaN or infinite values for 4 of 4")
    assert not (tmp_path / "g.png").exists() and os.listdir(tmp_path) == []


def test_a_model_computing_another_size_than_it_declares_fails_in_one_line(tmp_path, monkeypatch):
    from dcgan.runtime import model_file

    def small_images(session, input_name, x, workers, post=None):
        return post(np.zeros((len(x), 3, 32, 32), np.float32))

    monkeypatch.setattr(model_file, "run_split", small_images)
    for out in ("g.png", "g.npy"):
        r = run(["--model", GEN, "--n", 4, "--out", tmp_path / out])
        assert r.exit_code == 1, r.stderr
        assert r.stderr.splitlines()[-1].endswith("computes 32x32 images with 3 channels where its "
                                                  "graph and metadata declare 64x64 with 3")
    assert os.listdir(tmp_path) == []


def test_a_latent_of_two_to_the_31_is_refused_before_any_allocation():
    from dcgan.runtime.errors import SignatureError
    from dcgan.runtime.generator import generator_info
    from dcgan.runtime.model_file import LoadedModel, TensorSpec

    model = LoadedModel(session=None, path="huge.onnx", bundled=False, size_bytes=1, choice=None,
                        inputs=(TensorSpec("z", ("batch", 2**31, 1, 1), "tensor(float)"),),
                        outputs=(TensorSpec("image", ("batch", 3, 64, 64), "tensor(float)"),),
                        metadata_text=None)
    with pytest.raises(SignatureError, match="a latent of 2147483648 numbers is not a DCGAN's"):
        generator_info(model)


@pytest.mark.parametrize("text", ["٣-٩", "３+2", "0-٣"])
def test_seed_ranges_take_ascii_digits_only(tmp_path, text):
    r = run(["--model", GEN, "--seeds", text, "--out-dir", tmp_path / "d"])
    assert r.exit_code == 2 and "not a seed range" in r.stderr and not (tmp_path / "d").exists()


@pytest.mark.parametrize("manifest", [
    '{"seeds": ' * 200_000 + "0" + "}" * 200_000,
    '{"format": "dcgan-edge-manifest", "seeds": {"first": 0, "last": 1e400}, "model": {"sha256": "x"}}',
    '{"format": "dcgan-edge-manifest", "seeds": {"first": true, "last": 2.5}, "model": {"sha256": "x"}}',
])
def test_a_manifest_that_is_not_ours_is_left_alone_not_a_traceback(tmp_path, manifest):
    out = tmp_path / "d"
    out.mkdir()
    (out / "manifest-seeds000000-000003.json").write_text(manifest)
    r = run(["--model", GEN, "--seeds", "0-3", "--out-dir", out])
    assert r.exit_code == 0, r.stderr
    assert sorted(p.name for p in out.glob("seed*.png")) == [f"seed00000{i}.png" for i in range(4)]
