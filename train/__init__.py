"""dcgan.train: the PyTorch side. Models, the training loop, checkpoints, dcgan-train.

Names resolve on first use (dcgan.core.lazy): the console entry, dcgan.train.entry, must be
able to say that torch is missing without importing it.
"""
from __future__ import annotations

from dcgan.core.lazy import lazy_attributes

__getattr__, __all__ = lazy_attributes(__name__, {
    "Generator": "model",
    "Discriminator": "model",
    "ModelConfig": "model",
    "build_models": "model",
    "count_parameters": "model",
    "load_generator": "checkpoint",
    "load_checkpoint": "checkpoint",
    "train": "loop",
    "TrainConfig": "config",
    "CheckpointError": "errors",
    "TrainError": "errors",
})
