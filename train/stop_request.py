"""Ctrl-C and SIGTERM during the training loop as requests: the loop finishes its step, saves,
and returns.

Outside the loop dcgan-train follows the policy of every dcgan-edge command
(dcgan.core.command): the first signal raises, so a start-up stops at once."""
from __future__ import annotations

import signal
import threading


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
