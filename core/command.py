"""The click command class of every dcgan-edge console script.

Every error, usage mistakes included, is one line on stderr that starts with the command's
name (``dcgan-gen: error: ...``) and a non-zero exit: click's usage block and Python's
traceback are for developers, a log wants what was wrong.

Signals, one policy for all commands: SIGTERM (what a scheduler, ``timeout`` or ``kill``
sends) is raised like Ctrl-C, as Terminated, a KeyboardInterrupt, so the same clean-up runs
for both (temp files removed, nothing half-written); the command then ends with one line and
the shell's usual status (143; 130 for Ctrl-C). Only the first signal raises: a second one,
often sent by an impatient user, would otherwise interrupt that clean-up. Code that wants to
finish a step instead (the training loop) installs its own handlers for as long as it runs.
"""
from __future__ import annotations

import os
import signal
import sys
import threading

import click

from .errors import DcganError

EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would be, so every clean-up for one serves the other."""


class _Stopped(BaseException):
    """Carries an interruption past click, which would print a blank line and raise Abort."""

    def __init__(self, terminated: bool):
        super().__init__()
        self.terminated = terminated


def raise_once(signum, frame):
    """The signal handler of the policy above."""
    # Later signals are ignored until the command ends, so that they cannot interrupt the
    # clean-up the first one started (removing a temp file of several GB, say).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def only_rank_zero_speaks() -> bool:
    """False in the processes of a torchrun job other than rank 0: N copies of one error line
    would say nothing more than one."""
    return os.environ.get("RANK", "0").strip() in ("", "0")


class OneLineErrors(click.Command):
    """``@click.command(PROG, cls=OneLineErrors)``. A DcganError escaping the command becomes
    its one line, as a click.ClickException does. ``stopped_note`` ends the line printed after
    a signal (what the user finds on disk)."""

    stopped_note = "no partial output was left"

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as e:
            raise _Stopped(isinstance(e, Terminated)) from None
        except DcganError as e:
            raise click.ClickException(str(e)) from None
        except OSError as e:  # the operating system's refusal, of a file named or not
            where = f"{e.filename}: " if e.filename else ""
            raise click.ClickException(f"{where}{e.strerror or e}") from None

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        previous = {}
        if threading.current_thread() is threading.main_thread():
            previous = {s: signal.signal(s, raise_once) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            rv = super().main(args, prog_name, complete_var, False, **extra)
        except click.ClickException as e:
            self._say(f"error: {' '.join(e.format_message().split())}")
            sys.exit(e.exit_code)
        except _Stopped as e:
            self._stopped(e.terminated)
        except click.Abort as e:  # a signal while the options were being read
            self._stopped(isinstance(e.__cause__, Terminated))
        finally:
            for s, handler in previous.items():
                if handler is not None:  # None: set outside Python, cannot be put back
                    signal.signal(s, handler)
        sys.exit(rv if isinstance(rv, int) else 0)

    def _say(self, message: str) -> None:
        if only_rank_zero_speaks():
            click.echo(f"{self.name}: {message}", err=True)

    def _stopped(self, terminated: bool) -> None:
        self._say(f"{'terminated' if terminated else 'interrupted'}; {self.stopped_note}")
        sys.exit(EXIT_TERMINATED if terminated else EXIT_INTERRUPTED)
