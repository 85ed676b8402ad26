"""What the benchmarks share (imported as a sibling: the scripts run from this folder): timing,
the fixture checkpoint, and the data argument.

    interleaved_medians({"ours": f, "baseline": g}, reps)   # both sides under the same load
    median_seconds(fn, repeats)                             # one side alone
    fixture_checkpoint(folder, given)                       # the weights a benchmark runs
    add_data_argument(parser)                               # DATA, required: no machine's path
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import time
from pathlib import Path

# Before each timed call, the side about to be timed runs untimed for this long. The sides keep
# worker threads that spin after a call (ONNX Runtime's when spinning is on, ~34 ms of CPU
# after a run on an idle machine, longer while others compete; OpenMP's in torch) and take a
# core from the side timed next: torch at batch 1 ran at ~150 images/s after 50 ms of its own
# calls, ~440 after 100-400 ms (and alone). An idle pause instead lets this VM's CPUs sleep:
# torch at batch 1 then ran at 72 images/s after a 50 ms pause. Running the side itself keeps
# the CPUs awake while the other side's threads stop spinning.
SETTLE_S = 0.2


def interleaved_medians(fns: dict, reps: int, settle_s: float = SETTLE_S) -> dict[str, float]:
    """Median seconds of each callable, calling them in turn so every side sees the same machine
    load. One untimed warm-up call each first (allocators, thread pools, first-run kernels);
    then before each timed call, untimed calls of the same callable for ``settle_s``, skipped
    for a callable that itself lasts that long (a training epoch: the other side's spinning
    threads are then a negligible part of it)."""
    times = {k: [] for k in fns}
    last = {}
    for k, fn in fns.items():
        t = time.perf_counter()
        fn()
        last[k] = time.perf_counter() - t
    for _ in range(reps):
        for k, fn in fns.items():
            if last[k] < settle_s:
                end = time.perf_counter() + settle_s
                while time.perf_counter() < end:
                    fn()
            t = time.perf_counter()
            fn()
            last[k] = time.perf_counter() - t
            times[k].append(last[k])
    return {k: statistics.median(v) for k, v in times.items()}


def median_seconds(fn, repeats: int) -> tuple[float, object]:
    """Median wall-clock seconds of ``repeats`` calls, and the last call's result."""
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def fixture_checkpoint(folder: Path, given: Path | None = None) -> tuple[Path, str]:
    """(checkpoint file in ``folder``, what it holds). A given checkpoint is copied first: a
    training run may be rewriting it. Without one, the default DCGAN (latent 100, width 64) with
    seeded random weights and the BatchNorm statistics of one real batch, as after training."""
    path = Path(folder) / "checkpoint.pt"
    if given is not None:
        shutil.copyfile(given, path)
        return path, f"trained weights from {given}"
    import torch

    from dcgan.train.checkpoint import atomic_save, make_checkpoint
    from dcgan.train.model import ModelConfig, build_models

    torch.manual_seed(0)
    cfg = ModelConfig()
    g, d = build_models(cfg, init="dcgan")
    with torch.no_grad():
        g.train()(torch.randn(256, cfg.latent_dim, 1, 1))
    atomic_save(make_checkpoint(cfg, g.eval(), d, epoch=0, step=0), path)
    return path, "default DCGAN, random weights (BatchNorm statistics from one batch)"


def add_data_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", metavar="DATA",
                        help="the images: a folder, a .zip, 'pokemon' or 'fake:N' (as dcgan-train "
                             "--data; examples/get_sprites.sh fetches the Pokémon sprites)")
