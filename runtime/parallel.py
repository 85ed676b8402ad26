"""A batch split across CPU cores: one single-threaded session, run on chunks from several threads.

ONNX Runtime parallelises inside each operator: its worker threads meet at the end of every
operator, and this network's transposed convolutions run one image at a time, with a col2im
step that does not run in parallel. Splitting the batch instead gives each thread whole images
to compute alone, with no meeting point until the end. Measured on 2 cores with the bundled
generator (benchmarks/runtime.py, section 2, and benchmarks/precision.py): against a
session with 2 intra-op threads, 1.2-1.4x the images/s at batch 2 to 256 for fp32 and
1.7-2.1x for int8; with one core busy elsewhere 0.96-1.3x in different runs (intra-op threads
then wait at every operator for the thread that shares its core). A session's run() may be
called from several threads at once; it releases the GIL while it computes.

Chunks are smaller than a thread's share (CHUNKS_PER_WORKER per thread), taken in turn by
whichever thread is free: on a loaded machine the thread that gets more CPU does more chunks
(with one core busy, 4 chunks per thread ran 1.1x faster than one per thread; idle, the same).
Results do not depend on the split: each image is computed by the same single-threaded
kernels whatever chunk it is in.
"""
from __future__ import annotations

import threading

import numpy as np

CHUNKS_PER_WORKER = 4


def run_split(session, input_name: str, x: np.ndarray, workers: int, post=None) -> np.ndarray:
    """The first output of ``session`` for input ``x``, computed in chunks along the batch by
    ``workers`` threads (the caller's among them); one plain run when there is nothing to split.
    ``post``, if given, is applied to each chunk's output in the thread that computed it (the
    conversion to uint8 images then runs in parallel too: ~3% of a batch's time)."""
    post = post or (lambda y: y)
    n = len(x)
    if workers <= 1 or n < 2:
        return post(session.run(None, {input_name: x})[0])
    n_chunks = min(n, CHUNKS_PER_WORKER * workers)
    bounds = [n * i // n_chunks for i in range(n_chunks + 1)]
    outputs: list[np.ndarray | None] = [None] * n_chunks
    failures: list[BaseException] = []
    lock = threading.Lock()
    todo = iter(range(n_chunks))

    def work() -> None:
        while not failures:
            with lock:
                i = next(todo, None)
            if i is None:
                return
            try:
                outputs[i] = post(session.run(None, {input_name: x[bounds[i] : bounds[i + 1]]})[0])
            except BaseException as e:  # re-raised in the caller's thread
                failures.append(e)
                return

    helpers = [threading.Thread(target=work, daemon=True) for _ in range(min(workers, n_chunks) - 1)]
    for t in helpers:
        t.start()
    try:
        work()
    except BaseException as e:  # e.g. Ctrl-C between chunks: the helpers stop after theirs
        failures.append(e)
        raise
    finally:
        # Also on an interrupt: an interpreter that exits while a thread is still inside
        # session.run can abort ("terminate called without an active exception").
        for t in helpers:
            t.join()
    if failures:
        raise failures[0]
    return np.concatenate(outputs, axis=0)
