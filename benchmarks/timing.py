"""Timing shared by the benchmarks (imported as a sibling: the scripts run from this folder)."""
from __future__ import annotations

import statistics
import time


def interleaved_medians(fns: dict, reps: int) -> dict[str, float]:
    """Median seconds of each callable, after one warm-up call each (allocator, thread pools,
    first-run kernels), calling them in turn so every side sees the same machine load."""
    for fn in fns.values():
        fn()
    times = {k: [] for k in fns}
    for _ in range(reps):
        for k, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}
