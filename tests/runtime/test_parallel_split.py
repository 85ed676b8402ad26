"""A batch split across threads gives the images of one plain run, and fails like one."""
from __future__ import annotations

import threading

import numpy as np
import onnxruntime as ort
import pytest
from runtime_fixtures import GEN

from dcgan.runtime import parallel
from dcgan.runtime.providers import session_options


@pytest.fixture(scope="module")
def session():
    return ort.InferenceSession(str(GEN), session_options(1), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("n, workers", [(1, 4), (2, 2), (7, 2), (21, 3), (64, 2)])
def test_split_runs_equal_one_run(session, n, workers):
    inp = session.get_inputs()[0]
    z = np.random.default_rng(n).standard_normal((n, inp.shape[1], 1, 1), dtype=np.float32)
    want = session.run(None, {inp.name: z})[0]
    got = parallel.run_split(session, inp.name, z, workers)
    assert got.shape == want.shape and np.array_equal(got, want)


def test_chunks_run_on_several_threads_and_cover_the_batch_once():
    seen_threads, seen_rows = set(), []
    lock = threading.Lock()
    # Each thread's first chunk waits until all three hold one: on a loaded machine a thread
    # may start late, and a fixed pause would let the others take every chunk first.
    all_started = threading.Barrier(3, timeout=30)

    class Recorder:
        def run(self, outputs, feed):
            x = feed["z"]
            with lock:
                first = threading.get_ident() not in seen_threads
                seen_threads.add(threading.get_ident())
                seen_rows.extend(x[:, 0].tolist())
            if first:
                all_started.wait()
            return [x * 2]

    x = np.arange(24, dtype=np.float32).reshape(24, 1)
    out = parallel.run_split(Recorder(), "z", x, workers=3)
    assert np.array_equal(out, x * 2)  # in order
    assert sorted(seen_rows) == list(range(24))  # every row once
    assert len(seen_threads) == 3


def test_post_runs_on_each_chunk_in_the_thread_that_computed_it():
    where = {}
    lock = threading.Lock()
    started = set()
    both_started = threading.Barrier(2, timeout=30)

    class Echo:
        def run(self, outputs, feed):
            with lock:
                first = threading.get_ident() not in started
                started.add(threading.get_ident())
            if first:  # as above: the two threads each hold a chunk before either finishes
                both_started.wait()
            return [feed["z"]]

    def post(y):
        with lock:
            where.setdefault(threading.get_ident(), []).append(len(y))
        return y.astype(np.int64) + 1

    x = np.arange(20, dtype=np.float32).reshape(20, 1)
    out = parallel.run_split(Echo(), "z", x, workers=2, post=post)
    assert out.dtype == np.int64 and np.array_equal(out, x.astype(np.int64) + 1)
    assert sum(sum(v) for v in where.values()) == 20 and len(where) == 2
    assert np.array_equal(parallel.run_split(Echo(), "z", x[:1], workers=2, post=post), [[1]])


def test_a_failing_chunk_fails_the_call():
    class Fails:
        def run(self, outputs, feed):
            if feed["z"][0, 0] >= 10:
                raise RuntimeError("bad chunk")
            return [feed["z"]]

    with pytest.raises(RuntimeError, match="bad chunk"):
        parallel.run_split(Fails(), "z", np.arange(16, dtype=np.float32).reshape(16, 1), workers=2)


def test_an_interrupt_in_the_callers_chunk_waits_for_the_other_threads():
    """Ctrl-C (or SIGTERM) arrives in the main thread; the helpers must be out of session.run
    before it propagates, or an exiting interpreter can abort under them."""
    busy = threading.Event()
    finished = []

    class Slow:
        def run(self, outputs, feed):
            if threading.current_thread() is threading.main_thread():
                busy.wait(5)
                raise KeyboardInterrupt
            busy.set()
            threading.Event().wait(0.2)  # still computing when the interrupt arrives
            finished.append(threading.get_ident())
            return [feed["z"]]

    before = set(threading.enumerate())
    with pytest.raises(KeyboardInterrupt):
        parallel.run_split(Slow(), "z", np.zeros((8, 1), np.float32), workers=2)
    assert finished  # the helper's chunk was over before run_split raised
    assert set(threading.enumerate()) <= before
