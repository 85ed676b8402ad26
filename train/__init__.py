"""dcgan.train: the PyTorch side. Models, data, training loop, checkpoints, CLI.

Heavy names load on first use so that ``dcgan.train.entry`` can run without torch.
"""
from __future__ import annotations

from dcgan.core.lazy import lazy_attributes

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

__getattr__, __all__ = lazy_attributes(__name__, _LAZY)
