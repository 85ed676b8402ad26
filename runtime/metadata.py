"""The metadata schema of dcgan-edge ONNX models. The runtime reads it; export writes it.

One JSON object under the key ``METADATA_KEY`` of the model's ``metadata_props``:

    schema          int, SCHEMA_VERSION
    role            "generator" | "discriminator"
    latent_dim      int (generator input is [N, latent_dim, 1, 1])
    image_size      int (64)
    channels        int (3)
    layout          "NCHW"
    output_range    [-1.0, 1.0] for the generator's images (absent for the discriminator's logits)
    input_name      name of the graph input
    output_name     name of the graph output
    precision       "fp32" | "fp16" | "int8"
    training        {"epochs", "steps", "dataset", "dataset_fingerprint", "recipe"}
    checkpoint_sha256
    versions        {"torch", "onnx", "onnxruntime", "dcgan_edge"} (onnxruntime: the one the
                    export's parity check ran on)
    ema             generator only: true if the EMA weights were exported, false for the raw
                    ones, null when unknown (a module exported directly)
    created         ISO 8601 UTC time of export
    placeholder     true for a model that only stands in for a trained one
    quality         optional: {"swd_x1e3": ..., "swd_floor_x1e3": ..., ...}
    quality_vs_fp32 fp16/int8 only: the variant against the fp32 export on the same inputs,
                    {"reference": "fp32", "precision", "images", "psnr_db", and for a
                    generator "max_abs_error" (uint8 levels), "swd_x1e3"; for a
                    discriminator "max_abs_diff", "rank_correlation"; int8: "calibration"}

Unknown keys are kept and ignored, so later schema additions do not break older runtimes.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

METADATA_KEY = "dcgan_edge"
SCHEMA_VERSION = 1
ROLES = ("generator", "discriminator")


class MetadataError(ValueError):
    """Metadata that is present but not valid JSON or not of this schema."""


@dataclass(frozen=True)
class ModelInfo:
    role: str
    latent_dim: int | None
    image_size: int
    channels: int
    input_name: str
    output_name: str
    layout: str = "NCHW"
    output_range: tuple[float, float] = (-1.0, 1.0)
    precision: str = "fp32"
    placeholder: bool = False
    raw: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(self.raw, sort_keys=True)


def parse_metadata(text: str) -> ModelInfo:
    """Parse the JSON stored under METADATA_KEY; raise MetadataError if it is not ours."""
    try:
        d = json.loads(text)
    except json.JSONDecodeError as e:
        raise MetadataError(f"metadata is not valid JSON ({e.msg})") from None
    if not isinstance(d, dict):
        raise MetadataError("metadata is not a JSON object")
    schema = d.get("schema")
    if not isinstance(schema, int) or schema < 1:
        raise MetadataError(f"metadata has no valid schema version (found {schema!r})")
    if schema > SCHEMA_VERSION:
        raise MetadataError(
            f"metadata schema {schema} is newer than this runtime understands ({SCHEMA_VERSION})"
        )
    role = d.get("role")
    if role not in ROLES:
        raise MetadataError(f"metadata role must be one of {ROLES}, found {role!r}")
    try:
        return ModelInfo(
            role=role,
            latent_dim=int(d["latent_dim"]) if d.get("latent_dim") is not None else None,
            image_size=int(d.get("image_size", 64)),
            channels=int(d.get("channels", 3)),
            input_name=str(d["input_name"]),
            output_name=str(d["output_name"]),
            layout=str(d.get("layout", "NCHW")),
            output_range=tuple(float(v) for v in d.get("output_range", (-1.0, 1.0))),
            precision=str(d.get("precision", "fp32")),
            placeholder=bool(d.get("placeholder", False)),
            raw=d,
        )
    except (KeyError, TypeError, ValueError) as e:
        raise MetadataError(f"metadata field missing or malformed: {e}") from None


def dump_metadata(d: dict[str, Any]) -> str:
    """Serialise a metadata dict after checking that it parses (used by export)."""
    d = {"schema": SCHEMA_VERSION, **d}
    text = json.dumps(d, sort_keys=True)
    parse_metadata(text)
    return text
