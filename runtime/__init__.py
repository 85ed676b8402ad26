"""dcgan.runtime: sample images from an exported generator with ONNX Runtime.

Imports numpy, onnxruntime, Pillow, click and tqdm only: never torch or onnx. Names load on
first use, so ``import dcgan.runtime.metadata`` (used by the exporter) stays cheap.

    from dcgan.runtime import Generator, save_grid
    g = Generator.load()                       # the bundled model
    save_grid(g.sample(21, seed=0), "grid.png")
"""
from __future__ import annotations

import importlib

_LAZY = {
    "Generator": "generator",
    "Discriminator": "discriminator",
    "save_grid": "images",
    "make_grid": "images",
    "ModelInfo": "metadata",
    "DcganRuntimeError": "errors",
    "ModelNotFoundError": "errors",
    "ModelLoadError": "errors",
    "SignatureError": "errors",
    "ProviderError": "errors",
    "OutputError": "errors",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        module = importlib.import_module(f".{_LAZY[name]}", __name__)
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
