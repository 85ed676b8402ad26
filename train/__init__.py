"""dcgan.train: the PyTorch side. Models, data, training loop, checkpoints, CLI.

Heavy names load on first use so that ``dcgan.train.entry`` can run without torch.
"""
from __future__ import annotations

import importlib

_LAZY = {
    "Generator": "model",
    "Discriminator": "model",
    "ModelConfig": "model",
    "build_models": "model",
    "count_parameters": "model",
    "load_generator": "checkpoint",
    "load_checkpoint": "checkpoint",
    "CheckpointError": "checkpoint",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        module = importlib.import_module(f".{_LAZY[name]}", __name__)
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
