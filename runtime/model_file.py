"""Reading an ONNX model file (or the bundled one) into a session, with its signature and metadata.

The session is created from the file's bytes, so the bundled model also loads from a zipped
install. The sha256 (recorded in manifests) is computed only when asked for.
Metadata is read through ONNX Runtime (``custom_metadata_map``), never with the onnx package.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from .errors import ModelLoadError, ModelNotFoundError
from .metadata import METADATA_KEY, MetadataError, ModelInfo, parse_metadata
from .providers import ProviderChoice, create_session

BUNDLED_MODEL = "dcgan-pokemon.onnx"

Dim = int | str | None


def bundled_model():
    """The packaged generator (a Traversable: a path in a normal install, maybe in a zip)."""
    from importlib import resources  # ~5 ms of imports, paid only when the bundled model is used

    return resources.files("dcgan.runtime").joinpath("models", BUNDLED_MODEL)


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[Dim, ...]
    dtype: str  # ORT's spelling: "tensor(float)"

    @property
    def is_float32(self) -> bool:
        return self.dtype == "tensor(float)"

    def __str__(self) -> str:
        dims = ", ".join("?" if d is None else str(d) for d in self.shape)
        dtype = self.dtype.removeprefix("tensor(").removesuffix(")")
        return f"{self.name}: {dtype} [{dims}]"


@dataclass
class LoadedModel:
    """A session on a model file, with what is known about the file."""

    session: Any  # onnxruntime.InferenceSession
    path: str
    bundled: bool
    size_bytes: int
    choice: ProviderChoice
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    metadata_text: str | None
    source: Any = None  # what read_model_bytes read: a path, or the bundled resource

    @cached_property
    def sha256(self) -> str:
        """Hash of the file's bytes, read again on first use: only manifests need it, and
        keeping a copy of the model in memory would cost more than reading it twice."""
        h = hashlib.sha256()
        h.update(_read(self.source) if self.source is not None else b"")
        return h.hexdigest()

    def metadata(self) -> ModelInfo | None:
        """Our metadata, or None when the model has none; ModelLoadError when it is malformed."""
        if self.metadata_text is None:
            return None
        try:
            return parse_metadata(self.metadata_text)
        except MetadataError as e:
            raise ModelLoadError(f"{self.path}: {e}") from None

    def signature(self) -> str:
        ins = "; ".join(str(t) for t in self.inputs) or "none"
        outs = "; ".join(str(t) for t in self.outputs) or "none"
        return f"inputs {ins} -> outputs {outs}"


def _read(source) -> bytes:
    if hasattr(source, "read_bytes"):  # pathlib.Path or importlib.resources Traversable
        return source.read_bytes()
    with open(source, "rb") as f:
        return f.read()


def read_model_bytes(path: str | os.PathLike | None) -> tuple[bytes, str, bool]:
    """(bytes, display path, bundled?) for a model path, or the bundled model when None."""
    if path is None:
        res = bundled_model()
        if not res.is_file():
            raise ModelNotFoundError(
                f"this install has no bundled model ({BUNDLED_MODEL}); pass --model FILE.onnx"
            )
        return res.read_bytes(), str(res), True
    p = os.fspath(path)
    if os.path.isdir(p):
        raise ModelNotFoundError(f"{p} is a folder, not an ONNX model file")
    try:
        return _read(p), p, False
    except FileNotFoundError:
        raise ModelNotFoundError(f"no model file at {p}") from None
    except OSError as e:
        raise ModelLoadError(f"cannot read {p}: {e.strerror}") from None


def load_model(
    path: str | os.PathLike | None = None, provider: str = "auto", threads: int | None = None
) -> LoadedModel:
    data, shown, bundled = read_model_bytes(path)
    if not data:
        raise ModelLoadError(f"{shown} is empty, not an ONNX model")
    try:
        session, choice = create_session(data, provider, threads)
    except ModelLoadError as e:
        raise ModelLoadError(f"{shown}: {e}") from None
    meta = session.get_modelmeta().custom_metadata_map
    return LoadedModel(
        session=session,
        path=shown,
        bundled=bundled,
        size_bytes=len(data),
        choice=choice,
        inputs=tuple(_spec(a) for a in session.get_inputs()),
        outputs=tuple(_spec(a) for a in session.get_outputs()),
        metadata_text=meta.get(METADATA_KEY),
        source=bundled_model() if bundled else os.fspath(path),
    )


def _spec(arg) -> TensorSpec:
    shape = arg.shape if isinstance(arg.shape, (list, tuple)) else ()
    return TensorSpec(arg.name, tuple(shape), arg.type)
