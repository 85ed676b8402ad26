"""kill -9 at random moments of a short training run, then --resume: the run ends with the
weights, optimizer states and history of a run that was never interrupted, bit for bit."""
from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

RUN = ["--data", "fake:32", "--batch-size", "8", "--g-width", "4", "--d-width", "4",
       "--latent-dim", "8", "--device", "cpu", "--threads", "1", "--seed", "5",
       "--eval-every", "0", "--epochs", "6"]
CMD = [sys.executable, "-c", "from dcgan.train.entry import main; main()"]


def train(out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([*CMD, *RUN, "--out", str(out), *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def state(out: Path) -> dict:
    ckpt = torch.load(out / "checkpoint.pt", weights_only=True)
    history = [{k: v for k, v in row.items() if k not in ("seconds", "images_per_sec")}
               for row in ckpt["history"]]
    return {"epoch": ckpt["epoch"], "step": ckpt["step"], "history": history,
            **{k: ckpt[k] for k in ("generator", "discriminator", "opt_g", "opt_d")}}


def same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


@pytest.mark.slow
def test_kill_9_then_resume_reproduces_the_uninterrupted_run(tmp_path):
    ref = tmp_path / "reference"
    p = train(ref)
    assert p.wait(timeout=300) == 0, p.stderr.read()
    want = state(ref)
    rng = random.Random(1201)
    out = tmp_path / "killed"
    kills = 0
    p = train(out)
    while True:
        deadline = time.monotonic() + 120
        while not (out / "config.json").exists() and p.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 1.5))  # a random moment: mid-epoch, mid-write or between
        if p.poll() is None and kills < 3:  # three kills, then the run is let finish
            p.send_signal(signal.SIGKILL)
            kills += 1
            p.wait(timeout=60)
        else:
            assert p.wait(timeout=300) == 0, p.stderr.read()
            break
        p = train(out, *(["--resume"] if (out / "config.json").exists() else []))
    assert kills >= 1, "nothing was interrupted: the test proved nothing"
    assert same(state(out), want)
