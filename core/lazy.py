"""Package attributes that import their module on first use.

A package's __init__ names what it offers without importing it, so importing one light module
of the package (the console entry of dcgan-train, which runs without torch) stays cheap:

    __getattr__, __all__ = lazy_attributes(__name__, {"Generator": "generator", ...})
"""
from __future__ import annotations

import importlib
from typing import Callable


def lazy_attributes(package: str, where: dict[str, str]) -> tuple[Callable[[str], object], list[str]]:
    """A module ``__getattr__`` for ``package`` and its ``__all__``. ``where`` maps a name to the
    module that defines it: relative to the package ("generator"), or absolute
    ("dcgan.core.metadata")."""

    def __getattr__(name: str):
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = where[name]
        return getattr(importlib.import_module(module if "." in module else f"{package}.{module}"), name)

    return __getattr__, sorted(where)
