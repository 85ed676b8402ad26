"""Two ranks with Gloo on this CPU: torchrun runs dcgan-train unchanged, ranks stay in step,
rank 0 alone writes, and the checkpoint resumes in a single process."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from click.testing import CliRunner

from dcgan.train.cli import main
from dcgan.train.config import TrainConfig
from dcgan.train.errors import TrainError
from dcgan.train.session import check_run

SMALL = ["--data", "fake:40", "--batch-size", "8", "--g-width", "4", "--d-width", "4",
         "--latent-dim", "8", "--device", "cpu", "--threads", "1", "--seed", "5"]


def dcgan_train_command() -> list[str]:
    script = Path(sys.executable).parent / "dcgan-train"  # the console script, as users run it
    return [str(script)] if script.exists() else [sys.executable, "-m", "dcgan.train.cli"]


def torchrun_two_ranks(*args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "--no-python", *dcgan_train_command(), *args]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)


def test_torchrun_two_ranks_write_once_and_resume_on_one_then_two(tmp_path):
    out = tmp_path / "run"
    proc = torchrun_two_ranks(*SMALL, "--epochs", "2", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("training on 40 images") == 1  # rank 0 alone speaks
    assert "on 2 ranks" in proc.stdout
    assert proc.stdout.count("examples/sec on cpu") == 1
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]
    assert [r["step"] for r in rows] == [5, 10]  # 40 images / global batch 8, over 2 ranks
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["epoch_0001.png",
                                                                   "epoch_0002.png"]
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    ckpt = torch.load(out / "checkpoint.pt", weights_only=True)
    assert len(ckpt["rng"]["noise"]) == 2
    assert not any(k.startswith("module.") for k in ckpt["generator"])  # unwrapped names

    resumed = CliRunner().invoke(main, ["--resume", "--out", str(out), "--epochs", "3"])
    assert resumed.exit_code == 0, resumed.output
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [5, 10, 15]

    # ... and a single-process checkpoint goes back to two ranks.
    proc = torchrun_two_ranks("--resume", "--out", str(out), "--epochs", "4")
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [5, 10, 15, 20]
    assert len(torch.load(out / "checkpoint.pt", weights_only=True)["rng"]["noise"]) == 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank(rank: int, world: int, port: int, out: str, images: np.ndarray, cfg: TrainConfig):
    from dcgan.train import distributed
    from dcgan.train.loop import train
    from dcgan.train.run_folder import open_run_folder

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    dist, device = distributed.start("cpu")
    nets = {}
    try:
        if dist.is_main:
            open_run_folder(out, resume=False)
        train(images, cfg, out, dist=dist, device=device, progress=False,
              on_step=lambda step, g, d: nets.update(g=g, d=d))
        state = {f"{n}.{k}": v for n in ("g", "d") for k, v in nets[n].state_dict().items()}
        torch.save(state, Path(out).parent / f"rank{rank}.pt")
    finally:
        distributed.stop(dist)


def test_ranks_keep_identical_weights(tmp_path):
    images = np.random.default_rng(1).integers(0, 256, (32, 64, 64, 3), dtype=np.uint8)
    cfg = TrainConfig(batch_size=8, epochs=2, g_width=4, d_width=4, latent_dim=8, lr=2e-3,
                      device="cpu", seed=2, flip=True)
    mp.spawn(_rank, args=(2, _free_port(), str(tmp_path / "run"), images, cfg), nprocs=2)
    a = torch.load(tmp_path / "rank0.pt")
    b = torch.load(tmp_path / "rank1.pt")
    # Parameters are averaged every step, so both ranks hold the same weights; BN running
    # statistics are per rank (each sees its own shard) and are not compared.
    params = [k for k in a if not any(s in k for s in ("running_", "num_batches"))]
    for k in params:
        assert torch.equal(a[k], b[k]), k
    assert any(not torch.equal(a[k], b[k]) for k in a if "running_mean" in k)  # shards differ
    saved = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert torch.equal(saved["generator"]["net.0.0.weight"], a["g.net.0.0.weight"])


def test_global_batch_must_split_over_ranks():
    cfg = TrainConfig(batch_size=10, g_width=4, d_width=4)
    with pytest.raises(TrainError, match="does not split evenly over 3 ranks"):
        check_run(cfg, 100, 3, torch.device("cpu"))
    check_run(cfg, 100, 2, torch.device("cpu"))
