"""The error base of dcgan-edge. Every error the project raises for a user's input or
environment derives from DcganError, so a command line catches one class and prints one line."""
from __future__ import annotations


class DcganError(Exception):
    """Base of every dcgan-edge error; its message is one line, fit for a terminal."""


class NonFiniteError(DcganError):
    """A network computed NaN or infinite values where pixels were expected."""


class OutputError(DcganError, OSError):
    """A file or folder that cannot be written: missing or read-only folder, a folder where a
    file should go, a full disk. Also an OSError, so code that handles the operating system's
    write failures handles these too."""
