"""Console entry of dcgan-train: one line instead of a traceback when torch is absent."""
from __future__ import annotations

import importlib.util
import sys


def main() -> None:
    missing = [m for m in ("torch", "torchvision") if importlib.util.find_spec(m) is None]
    if missing:
        sys.exit(
            f"dcgan-train needs {' and '.join(missing)}: pip install 'dcgan-edge[train]'"
        )
    from .cli import main as cli_main

    cli_main()
