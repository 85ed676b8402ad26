"""The metadata of an exported network, from the checkpoint it came from, stored in the ONNX
model's metadata_props. The schema, its writer and its reader are dcgan.core.metadata; this side
gathers the facts (the source, the versions, the time) and attaches the text.
"""
from __future__ import annotations

import datetime as _dt
import importlib.metadata
import json
from pathlib import PurePath
from typing import Any

import onnx

from dcgan.core.metadata import METADATA_KEY, build_metadata, dump_metadata

from .onnx_export import NetSpec
from .source import SourceInfo

# The distributions whose versions an export records.
VERSIONED = (("torch", "torch"), ("onnx", "onnx"), ("onnxruntime", "onnxruntime"),
             ("dcgan_edge", "dcgan-edge"))


def export_metadata(
    spec: NetSpec,
    source: SourceInfo,
    *,
    ema: bool | None = None,
    precision: str = "fp32",
    bn_latents: int | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The metadata dict of ``spec`` exported from ``source`` (without the schema version)."""
    cfg = source.config
    return build_metadata(
        role=spec.role,
        latent_dim=cfg.latent_dim,
        image_size=cfg.image_size,
        channels=cfg.channels,
        alpha=cfg.alpha,
        input_name=spec.input_name,
        output_name=spec.output_name,
        precision=precision,
        training={
            "epochs": source.epochs,
            "steps": source.steps,
            "dataset": shareable_dataset_name(source.dataset.get("name")),
            "dataset_fingerprint": source.dataset.get("fingerprint"),
        },
        checkpoint_sha256=source.sha256,
        versions={name: _version(dist) for name, dist in VERSIONED},
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        ema=ema,
        bn_statistics_latents=bn_latents,
        extra=extra,
    )


def shareable_dataset_name(name: str | None) -> str | None:
    """The dataset's name without a local path: checkpoints written before dataset names
    stopped carrying one say "folder:/home/me/...", which a file meant to be shipped must not."""
    kind, sep, where = (name or "").partition(":")
    if sep and kind in ("folder", "zip") and ("/" in where or "\\" in where):
        return f"{kind}:{PurePath(where.replace(chr(92), '/')).name}"
    return name


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
