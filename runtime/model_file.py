"""Reading an ONNX model file (or the bundled one) into a session, with its signature and metadata.

ONNX Runtime reads a model file itself (no copy of its bytes in Python: ~8 ms and the file's
size of memory less per load); only a bundled model inside a zipped install is passed as bytes.
The sha256 (recorded in manifests) is computed only when asked for.
Metadata is read through ONNX Runtime (``custom_metadata_map``), never with the onnx package.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from dcgan.core.metadata import METADATA_KEY, MetadataError, ModelInfo, parse_metadata

from .errors import ModelLoadError, ModelNotFoundError
from .model_scan import MalformedModel, external_tensors
from .parallel import run_split
from .providers import ProviderChoice, create_session

# The models that ship in runtime/models, by the name --model knows them under; the first is
# the default.  A --model value is one of these names only when no file of that name exists.
BUNDLED_MODELS = {"pokemon": "dcgan-pokemon.onnx", "pokemon-rgba": "dcgan-pokemon-rgba.onnx"}
DEFAULT_MODEL = "pokemon"
MODEL_NAMES = ", ".join(BUNDLED_MODELS)  # for help texts and errors

Dim = int | str | None


def bundled_model(name: str = DEFAULT_MODEL):
    """The packaged generator called ``name``: a Path in a normal install, else an
    importlib.resources Traversable (e.g. inside a zip)."""
    file = BUNDLED_MODELS[name]
    here = os.path.dirname(os.path.abspath(__file__))
    if os.path.isdir(here):  # a folder on disk: no need for importlib.resources (~5 ms of imports)
        from pathlib import Path

        return Path(here, "models", file)
    from importlib import resources

    return resources.files("dcgan.runtime").joinpath("models", file)


def bundled_name(path: str | os.PathLike | None) -> str | None:
    """The bundled model a --model value names (None: the default), or None for a path."""
    if path is None:
        return DEFAULT_MODEL
    value = os.fspath(path)
    return value if value in BUNDLED_MODELS and not os.path.lexists(value) else None


def _not_found(value: str) -> str:
    bare = os.sep not in value and "/" not in value and not value.endswith(".onnx")
    return f"no model file at {value}" + (f" (bundled models: {MODEL_NAMES})" if bare else "")


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
    source: Any = None  # the model's path, or the bundled resource

    @cached_property
    def sha256(self) -> str:
        """Hash of the file's bytes, read again on first use: only manifests need it, and
        keeping a copy of the model in memory would cost more than reading it twice."""
        import hashlib  # loads OpenSSL: ~3 ms that a plain sampling run does not need

        h = hashlib.sha256()
        h.update(_read(self.source) if self.source is not None else b"")
        return h.hexdigest()

    def run(self, input_name: str, x, post=None) -> Any:
        """The model's first output for input ``x`` (passed through ``post``, chunk by chunk):
        on the CPU, the batch split across ``choice.workers`` threads (parallel.py)."""
        return run_split(self.session, input_name, x, self.choice.workers, post)

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


def model_source(path: str | os.PathLike | None) -> tuple[str | bytes, str, bool, int, Any]:
    """(what to give ONNX Runtime: a file path or bytes, display path, bundled?, size in bytes,
    the path or bundled resource to read again for the sha256) for a model path, or the
    bundled model when None or a name of BUNDLED_MODELS. Missing, unreadable, folder and empty
    files are refused here with the OS's reason, before ONNX Runtime sees them."""
    name = bundled_name(path)
    if name is not None:
        res = bundled_model(name)
        if not res.is_file():
            raise ModelNotFoundError(
                f"this install has no bundled model {name} ({BUNDLED_MODELS[name]}); "
                "pass --model FILE.onnx")
        # inside a zip there is no file ONNX Runtime could open: its bytes then
        model = os.fspath(res) if isinstance(res, os.PathLike) else res.read_bytes()
        shown, bundled, source = str(res), True, res
    else:
        model = shown = source = os.fspath(path)
        bundled = False
        if os.path.isdir(model):
            raise ModelNotFoundError(f"{model} is a folder, not an ONNX model file")
        try:
            with open(model, "rb"):
                pass
        except FileNotFoundError:
            raise ModelNotFoundError(_not_found(model)) from None
        except OSError as e:
            raise ModelLoadError(f"cannot read {model}: {e.strerror}") from None
    size = len(model) if isinstance(model, bytes) else os.path.getsize(model)
    if size == 0:
        raise ModelLoadError(f"{shown} is empty, not an ONNX model")
    return model, shown, bundled, size, source


def check_self_contained(model: str | bytes, shown: str) -> None:
    """Refuse a model that keeps tensor data in other files (see model_scan), before ONNX
    Runtime would open them."""
    import mmap

    def scan(buf) -> tuple[list, str | None]:
        # The error becomes text here: a live traceback would keep views of the map open.
        try:
            return external_tensors(buf), None
        except MalformedModel as e:
            return [], str(e)

    try:
        if isinstance(model, bytes):
            found, malformed = scan(model)
        else:  # mapped, not read: only the field headers are touched
            with open(model, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                found, malformed = scan(mm)
    except OSError as e:
        raise ModelLoadError(f"cannot read {shown}: {e.strerror or e}") from None
    if malformed:
        raise ModelLoadError(f"{shown}: not a readable ONNX model ({malformed})")
    if found:
        name, location = found[0]
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise ModelLoadError(
            f"{shown}: tensor {name!r} keeps its data in another file ({location!r}){more}; "
            "a dcgan-edge model is one self-contained file, so models with external data "
            "are refused")


def load_model(
    path: str | os.PathLike | None = None, provider: str = "auto", threads: int | None = None
) -> LoadedModel:
    model, shown, bundled, size, source = model_source(path)
    check_self_contained(model, shown)
    try:
        session, choice = create_session(model, provider, threads)
    except ModelLoadError as e:
        raise ModelLoadError(f"{shown}: {e}") from None
    meta = session.get_modelmeta().custom_metadata_map
    return LoadedModel(
        session=session,
        path=shown,
        bundled=bundled,
        size_bytes=size,
        choice=choice,
        inputs=tuple(_spec(a) for a in session.get_inputs()),
        outputs=tuple(_spec(a) for a in session.get_outputs()),
        metadata_text=meta.get(METADATA_KEY),
        source=source,
    )


def _spec(arg) -> TensorSpec:
    shape = arg.shape if isinstance(arg.shape, (list, tuple)) else ()
    return TensorSpec(arg.name, tuple(shape), arg.type)
