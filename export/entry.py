"""Console entry of dcgan-export: one line instead of a traceback when torch or onnx is absent."""
from __future__ import annotations

import importlib.util
import sys


def main() -> None:
    needed = ("torch", "onnx", "onnxscript", "onnxruntime")
    missing = [m for m in needed if importlib.util.find_spec(m) is None]
    if missing:
        sys.exit(
            f"dcgan-export needs {', '.join(missing)}: pip install 'dcgan-edge[export,cpu]'"
        )
    from .cli import main as cli_main

    cli_main()
