"""Timing shared by the benchmarks (imported as a sibling: the scripts run from this folder)."""
from __future__ import annotations

import statistics
import time

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
