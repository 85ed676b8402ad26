"""Faults injected into dcgan-gen: kill -9 mid-job then a resume, and damaged bytes in every
kind of file it reads. Whatever happens, the result is a whole output or one line and a
non-zero exit; never a traceback, a crash or a file that lies."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from click.testing import CliRunner
from runtime_fixtures import GEN

from dcgan.runtime.cli import main

SEEDS, N = "0-599", 600


def gen_process(out_dir, *extra) -> subprocess.Popen:
    code = "from dcgan.runtime.cli import main; main()"
    return subprocess.Popen([sys.executable, "-c", code, "--model", str(GEN), "--seeds", SEEDS,
                             "--out-dir", str(out_dir), "--batch-size", "8", "-q", *extra],
                            stderr=subprocess.PIPE, text=True)


def finished(out_dir) -> dict[str, bytes]:
    p = gen_process(out_dir)
    _, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    return {f.name: f.read_bytes() for f in sorted(out_dir.iterdir()) if f.name.startswith("seed")}


def manifest_files(out_dir) -> dict:
    (path,) = out_dir.glob("manifest-*.json")
    doc = json.loads(path.read_text())
    assert doc["complete"] is True
    return doc["files"]


@pytest.mark.slow
def test_kill_9_at_random_moments_then_a_resume_gives_the_uninterrupted_folder(tmp_path):
    reference = finished(tmp_path / "reference")
    assert len(reference) == N
    rng = random.Random(20261201)
    for attempt in range(3):
        out = tmp_path / f"killed{attempt}"
        p = gen_process(out)
        kill_at = rng.randrange(20, N - 20)  # files written: mid-job, whatever the machine's speed
        while p.poll() is None and (not out.is_dir() or len(os.listdir(out)) < kill_at):
            time.sleep(0.002)
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=60)
        assert p.returncode == -signal.SIGKILL, "the job ended before it could be killed"
        assert finished(out) == reference, f"attempt {attempt}"
        assert len(manifest_files(out)) == N
        assert not [f for f in os.listdir(out) if f.startswith(".")]  # no temp file left behind


def test_damaged_seed_files_are_written_again_on_resume(tmp_path):
    out = tmp_path / "d"
    runner = CliRunner()
    args = ["--model", str(GEN), "--seeds", "0-5", "--out-dir", str(out), "-q"]
    assert runner.invoke(main, args).exit_code == 0
    good = {f.name: f.read_bytes() for f in out.glob("seed*.png")}
    flipped = bytearray(good["seed000002.png"])
    flipped[len(flipped) // 2] ^= 0x10  # inside the compressed pixels: signature and IEND intact
    (out / "seed000002.png").write_bytes(bytes(flipped))
    (out / "seed000004.png").write_bytes(good["seed000004.png"][:-20])
    r = runner.invoke(main, ["--model", str(GEN), "--seeds", "0-5", "--out-dir", str(out)])
    assert r.exit_code == 0 and "wrote 2 images" in r.stderr and "4 already there" in r.stderr
    assert {f.name: f.read_bytes() for f in out.glob("seed*.png")} == good


def test_damaged_bytes_anywhere_in_the_model_never_crash_dcgan_gen(tmp_path):
    data = GEN.read_bytes()
    rng = np.random.default_rng(7)
    outcomes = {}
    for trial in range(24):
        damaged = bytearray(data)
        for pos in rng.integers(0, len(data), 3):
            damaged[pos] ^= 1 << int(rng.integers(8))
        model = tmp_path / f"m{trial}.onnx"
        model.write_bytes(bytes(damaged))
        out = tmp_path / f"g{trial}.npy"
        code = "from dcgan.runtime.cli import main; main()"
        r = subprocess.run([sys.executable, "-c", code, "--model", str(model), "--n", "3",
                            "--out", str(out), "-q"], capture_output=True, text=True, timeout=120)
        assert r.returncode in (0, 1), (trial, r.returncode, r.stderr[-500:])
        assert "Traceback" not in r.stderr, r.stderr[-1500:]
        if r.returncode == 0:  # a flipped weight: a valid file of other pixels
            assert np.load(out).shape == (3, 64, 64, 3)
        else:
            assert r.stderr.count("\n") == 1 and r.stderr.startswith("dcgan-gen: error:")
            assert not out.exists()
        outcomes[r.returncode] = outcomes.get(r.returncode, 0) + 1
    assert outcomes.get(1), outcomes  # some damage must have been caught, or the test proves little
