"""The metadata schema of dcgan-edge ONNX models, its writer and its reader side by side.

The exporter builds the dict with ``build_metadata`` and stores ``dump_metadata``'s text in the
model; the runtimes read it back with ``parse_metadata``. dump_metadata parses what it writes,
so every file the exporter makes is one the runtimes can read.

One JSON object under the key ``METADATA_KEY`` of the model's ``metadata_props``:

    schema          int, SCHEMA_VERSION
    role            "generator" | "discriminator"
    latent_dim      int (generator input is [N, latent_dim, 1, 1])
    image_size      int, the side of the square images: a power of two from 32 to 256 (64)
    channels        int: 1 grey, 3 RGB, 4 RGBA (3)
    alpha           "premultiplied" for 4 channels (colour = straight colour x alpha, as the
                    networks compute it), null for 1 and 3; files written before it was
                    recorded have no "alpha" and read as null (they are all 1 or 3 channels)
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
    bn_statistics_latents
                    generator only: how many seeded latents the BatchNorm statistics baked
                    into the graph were recomputed over (0: those of the checkpoint)
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

from .errors import DcganError
from .images import CHANNELS, IMAGE_SIZES, PREMULTIPLIED

METADATA_KEY = "dcgan_edge"
SCHEMA_VERSION = 1
ROLES = ("generator", "discriminator")


class MetadataError(DcganError, ValueError):
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
    alpha: str | None = None  # PREMULTIPLIED for 4 channels, else None
    raw: dict[str, Any] = field(default_factory=dict)

    def describe_images(self) -> str:
        """"64x64 RGB", "32x32 RGBA (premultiplied alpha)": what --info shows."""
        kind = {1: "grey", 3: "RGB", 4: "RGBA"}.get(self.channels, f"{self.channels}-channel")
        alpha = f" ({self.alpha} alpha)" if self.alpha else ""
        return f"{self.image_size}x{self.image_size} {kind}{alpha}"

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
    image_size, channels, alpha = _image_fields(d)
    try:
        return ModelInfo(
            role=role,
            latent_dim=int(d["latent_dim"]) if d.get("latent_dim") is not None else None,
            image_size=image_size,
            channels=channels,
            alpha=alpha,
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


def _image_fields(d: dict[str, Any]) -> tuple[int, int, str | None]:
    """(image_size, channels, alpha) of the metadata ``d``, checked against one another."""
    size, channels, alpha = d.get("image_size", 64), d.get("channels", 3), d.get("alpha")
    if type(channels) is not int or channels not in CHANNELS:
        raise MetadataError(f"metadata channels must be one of {', '.join(map(str, CHANNELS))}, "
                            f"found {channels!r}")
    if type(size) is not int or size not in IMAGE_SIZES:
        raise MetadataError(f"metadata image_size must be a power of two from {IMAGE_SIZES[0]} to "
                            f"{IMAGE_SIZES[-1]}, found {size!r}")
    if channels == 4 and alpha != PREMULTIPLIED:
        raise MetadataError(f"metadata of 4-channel images must say alpha {PREMULTIPLIED!r}, "
                            f"found {alpha!r}")
    if channels != 4 and alpha is not None:
        raise MetadataError(f"metadata alpha {alpha!r} with {channels}-channel images: only "
                            "4 channels have alpha")
    return size, channels, alpha


# -- writer -----------------------------------------------------------------------------------

def build_metadata(
    *,
    role: str,
    latent_dim: int | None,
    image_size: int,
    channels: int,
    input_name: str,
    output_name: str,
    alpha: str | None = None,
    precision: str = "fp32",
    training: dict[str, Any] | None = None,
    checkpoint_sha256: str | None = None,
    versions: dict[str, str | None] | None = None,
    created: str | None = None,
    ema: bool | None = None,
    bn_statistics_latents: int | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The metadata dict of one exported network (without the schema version, which
    dump_metadata adds); ``extra`` is merged in last (see merge)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {role!r}")
    meta: dict[str, Any] = {
        "role": role,
        "latent_dim": latent_dim,
        "image_size": image_size,
        "channels": channels,
        "alpha": alpha,
        "layout": "NCHW",
        "input_name": input_name,
        "output_name": output_name,
        "precision": precision,
        "training": dict(training or {}),
        "checkpoint_sha256": checkpoint_sha256,
        "versions": dict(versions or {}),
        "created": created,
    }
    if role == "generator":
        # The discriminator's logits are unbounded: no output_range.
        meta["output_range"] = [-1.0, 1.0]
        meta["ema"] = ema
        meta["bn_statistics_latents"] = bn_statistics_latents
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


def dump_metadata(d: dict[str, Any]) -> str:
    """The JSON text stored under METADATA_KEY, after checking that it parses."""
    d = {"schema": SCHEMA_VERSION, **d}
    text = json.dumps(d, sort_keys=True)
    parse_metadata(text)
    return text
