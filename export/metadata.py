"""Build the metadata JSON of an exported model and store it in its metadata_props.

The schema and its reader belong to the runtime (dcgan.runtime.metadata); this side only fills
it in. dump_metadata validates with the runtime's own parser, so a model this module writes is
one the runtime can read.
"""
from __future__ import annotations

import datetime as _dt
import importlib.metadata
import json
from typing import Any

import onnx

from dcgan.runtime.metadata import METADATA_KEY, dump_metadata

from .onnx_export import NetSpec
from .source import SourceInfo


def build_metadata(
    spec: NetSpec,
    source: SourceInfo,
    *,
    ema: bool | None = None,
    precision: str = "fp32",
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The metadata dict (without the schema version, which dump_metadata adds)."""
    cfg = source.config
    dataset = source.dataset
    meta: dict[str, Any] = {
        "role": spec.role,
        "latent_dim": cfg.latent_dim,
        "image_size": cfg.image_size,
        "channels": cfg.channels,
        "layout": "NCHW",
        "input_name": spec.input_name,
        "output_name": spec.output_name,
        "precision": precision,
        "training": {
            "epochs": source.epochs,
            "steps": source.steps,
            "dataset": dataset.get("name"),
            "dataset_fingerprint": dataset.get("fingerprint"),
        },
        "checkpoint_sha256": source.sha256,
        "versions": {
            name: _version(dist)
            for name, dist in (
                ("torch", "torch"),
                ("onnx", "onnx"),
                ("onnxruntime", "onnxruntime"),
                ("dcgan_edge", "dcgan-edge"),
            )
        },
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if spec.role == "generator":
        meta["output_range"] = [-1.0, 1.0]
        # Which weights went in: the EMA average or the raw optimiser weights (None: unknown,
        # for a module handed in directly).
        meta["ema"] = ema
    # The discriminator's logits are unbounded: no output_range.
    return merge(meta, extra or {})


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``extra``; nested dicts merge key by key (so
    ``{"training": {"recipe": ...}}`` adds a field instead of replacing the training block)."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def attach_metadata(model: onnx.ModelProto, meta: dict[str, Any]) -> dict[str, Any]:
    """Store ``meta`` as one JSON value under METADATA_KEY (replacing an earlier one);
    returns the dict as stored, schema version included."""
    text = dump_metadata(meta)
    kept = [p for p in model.metadata_props if p.key != METADATA_KEY]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    model.metadata_props.add(key=METADATA_KEY, value=text)
    return json.loads(text)


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None
