"""Ctrl-C and SIGTERM as requests: the loop finishes its step, saves, and returns.

Before the loop, SIGTERM ends the start-up with Terminated (see terminate_raises)."""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator


class StopRequest:
    """While entered, SIGINT and SIGTERM set ``signum`` instead of ending the process.

    A second Ctrl-C raises KeyboardInterrupt at once, for a user who will not wait for the
    save; the checkpoint on disk stays whole either way (it is replaced atomically).
    Signal handlers can only be installed from the main thread; elsewhere this is inert.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict = {}

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def _handle(self, signum, frame) -> None:
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signum = signum

    def __enter__(self) -> "StopRequest":
        if threading.current_thread() is threading.main_thread():
            for s in self.SIGNALS:
                self._previous[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous.clear()


class Terminated(BaseException):
    """SIGTERM before the training loop took over.  A BaseException, like KeyboardInterrupt,
    so that no ``except Exception`` on the way (a skipped image, an unusable cache) swallows
    it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextmanager
def terminate_raises() -> Iterator[None]:
    """While entered, SIGTERM raises Terminated in the main thread (once).

    Before the loop there is no step to finish, so the request ends the start-up at once;
    without a handler SIGTERM would kill the process silently.  The loop's StopRequest
    replaces this handler while it runs and puts it back when it returns.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    raised = False

    def handle(signum, frame) -> None:
        nonlocal raised
        if not raised:  # a repeated SIGTERM must not interrupt the unwinding of the first
            raised = True
            raise Terminated(signum)

    previous = signal.signal(signal.SIGTERM, handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
