"""Typed errors of the runtime. The CLI turns each into one line on stderr."""
from __future__ import annotations

from dcgan.core.errors import DcganError, OutputError

__all__ = ["DcganRuntimeError", "ModelNotFoundError", "ModelLoadError", "SignatureError",
           "ProviderError", "OutputError"]


class DcganRuntimeError(DcganError):
    """Base of every error a user can cause through the runtime (bad model, provider, path)."""


class ModelNotFoundError(DcganRuntimeError):
    """No file at the model path, or no bundled model in this install."""


class ModelLoadError(DcganRuntimeError):
    """A file ONNX Runtime cannot read (truncated, not ONNX), or metadata that is not ours."""


class SignatureError(DcganRuntimeError):
    """A readable ONNX model whose inputs or outputs are not those of a DCGAN network."""


class ProviderError(DcganRuntimeError):
    """An execution provider that is unknown, not installed, or failed to load."""

