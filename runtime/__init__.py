"""dcgan.runtime: sample images from an exported generator with ONNX Runtime.

Imports dcgan.core, dcgan.data, numpy, onnxruntime, Pillow, click and tqdm only: never
torch or onnx. Names load on
first use, so importing one module of the package stays cheap.

    from dcgan.runtime import Generator, save_grid
    g = Generator.load()                       # the bundled model
    save_grid(g.sample(21, seed=0), "grid.png")
"""
from __future__ import annotations

from dcgan.core.lazy import lazy_attributes

_LAZY = {
    "Generator": "generator",
    "Discriminator": "discriminator",
    "save_grid": "images",
    "make_grid": "images",
    "ModelInfo": "dcgan.core.metadata",
    "DcganRuntimeError": "errors",
    "ModelNotFoundError": "errors",
    "ModelLoadError": "errors",
    "SignatureError": "errors",
    "ProviderError": "errors",
    "OutputError": "errors",
}

__getattr__, __all__ = lazy_attributes(__name__, _LAZY)
