"""A click Command whose every error, usage mistakes included, is one line and a non-zero exit.

click prints a usage block above a bad-option error; deployment logs want one line that says
what was wrong.  The line starts with the command's name: ``dcgan-gen: error: ...``.

SIGTERM (what a scheduler, ``timeout`` or ``kill`` sends) is handled like Ctrl-C: it raises
in the main thread, so the same clean-up runs (temp files removed, nothing half-written), and
the command ends with one line and the shell's usual status (143; 130 for Ctrl-C). Only the
first signal raises: a second one, often sent by an impatient user or a scheduler, would
otherwise interrupt that clean-up.
"""
from __future__ import annotations

import signal
import sys
import threading

import click


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would be, so every clean-up for one serves the other."""


class _Stopped(BaseException):
    """Carries an interruption past click, which would print a blank line and raise Abort."""

    def __init__(self, terminated: bool):
        super().__init__()
        self.terminated = terminated


def _raise_once(signum, frame):
    # Later signals are ignored until the command ends, so that they cannot interrupt the
    # clean-up the first one started (removing a temp file of several GB, say).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


class OneLineErrors(click.Command):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as e:
            raise _Stopped(isinstance(e, Terminated)) from None

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        previous = {}
        if threading.current_thread() is threading.main_thread():
            previous = {s: signal.signal(s, _raise_once) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            rv = super().main(args, prog_name, complete_var, False, **extra)
        except click.ClickException as e:
            message = " ".join(e.format_message().split())
            click.echo(f"{self.name}: error: {message}", err=True)
            sys.exit(e.exit_code)
        except _Stopped as e:
            what = "terminated" if e.terminated else "interrupted"
            click.echo(f"{self.name}: {what}; no partial output was left", err=True)
            sys.exit(143 if e.terminated else 130)
        except click.Abort as e:  # a signal while the options were being read
            terminated = isinstance(e.__cause__, Terminated)
            what = "terminated" if terminated else "interrupted"
            click.echo(f"{self.name}: {what}; no partial output was left", err=True)
            sys.exit(143 if terminated else 130)
        finally:
            for s, handler in previous.items():
                if handler is not None:  # None: set outside Python, cannot be put back
                    signal.signal(s, handler)
        sys.exit(rv if isinstance(rv, int) else 0)
