"""A click Command whose every error, usage mistakes included, is one line and a non-zero exit.

click prints a usage block above a bad-option error; deployment logs want one line that says
what was wrong.  The line starts with the command's name: ``dcgan-gen: error: ...``.
"""
from __future__ import annotations

import sys

import click


class OneLineErrors(click.Command):
    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, False, **extra)
        except click.ClickException as e:
            message = " ".join(e.format_message().split())
            click.echo(f"{self.name}: error: {message}", err=True)
            sys.exit(e.exit_code)
        except click.Abort:
            click.echo(f"{self.name}: interrupted; no partial output was left", err=True)
            sys.exit(130)
        sys.exit(rv if isinstance(rv, int) else 0)
