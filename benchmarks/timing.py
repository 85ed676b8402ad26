"""Timing shared by the benchmarks (imported as a sibling: the scripts run from this folder)."""
from __future__ import annotations

import statistics
import time


# Pause before each timed call. The sides keep worker threads that spin for a while after a
# call (ONNX Runtime's when spinning is on, OpenMP's in torch); without the pause they take CPU
# from whichever side runs next. Measured on 2 cores, batch 256: ONNX Runtime with spinning
# ran at ~1,200 images/s right after torch calls and ~1,350 alone.
SETTLE_S = 0.02


def interleaved_medians(fns: dict, reps: int, settle_s: float = SETTLE_S) -> dict[str, float]:
    """Median seconds of each callable, after one warm-up call each (allocator, thread pools,
    first-run kernels), calling them in turn so every side sees the same machine load, with
    ``settle_s`` of idle time before each timed call."""
    for fn in fns.values():
        fn()
    times = {k: [] for k in fns}
    for _ in range(reps):
        for k, fn in fns.items():
            time.sleep(settle_s)
            t = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}
