"""What ``dcgan-gen --info`` prints about a model: file, metadata, signature, usability."""
from __future__ import annotations

import json

from .discriminator import check_discriminator
from .errors import DcganRuntimeError
from .generator import generator_info
from .model_file import LoadedModel

PLACEHOLDER_NOTE = (
    "PLACEHOLDER: a preliminary model that stands in until a better-trained one replaces it "
    "(metadata placeholder: true); its training and quality figures are below"
)


def describe(model: LoadedModel, available_providers: list[str]) -> tuple[list[str], str | None]:
    """(lines to print, why the model is unusable or None)."""
    where = " (bundled with dcgan-edge)" if model.bundled else ""
    lines = [
        f"model:      {model.path}{where}",
        f"size:       {model.size_bytes:,} bytes",
        f"sha256:     {model.sha256}",
    ]
    problem = None
    role = None
    try:
        meta = model.metadata()
    except DcganRuntimeError as e:
        meta, problem = None, str(e)
    if meta is not None and meta.placeholder:
        lines.insert(0, PLACEHOLDER_NOTE)
    for t in model.inputs:
        lines.append(f"input:      {t}")
    for t in model.outputs:
        lines.append(f"output:     {t}")
    images = None
    if problem is None:
        problem, role, images = _usable_as(model, meta)
    if images:
        lines.append(f"images:     {images}")
    if meta is not None:
        lines.append("metadata:")
        lines.extend("  " + ln for ln in json.dumps(meta.raw, indent=2, sort_keys=True).splitlines())
    elif model.metadata_text is None:
        lines.append("metadata:   none (facts inferred from the signature)")
    if role:
        lines.append(f"usable as:  {role}")
    lines.append(f"providers:  {', '.join(available_providers)} (this onnxruntime)")
    return lines, problem


def _usable_as(model: LoadedModel, meta) -> tuple[str | None, str | None, str | None]:
    """(why the model is unusable, what it is usable as, its images: size, channels, alpha)."""
    try:
        info, inferred = generator_info(model)
        how = "inferred" if inferred else "from metadata"
        return (None, f"generator (latent {info.latent_dim}, {info.image_size}x{info.image_size}x"
                f"{info.channels}, {how})", _images_line(info))
    except DcganRuntimeError as g_err:
        try:
            check_discriminator(model)
            return None, "discriminator (pass it to --rank-with)", _images_line(meta)
        except DcganRuntimeError:
            return str(g_err), None, None


def _images_line(info) -> str | None:
    """"32x32 RGBA (premultiplied alpha), 4 channels" or "64x64 RGB, 3 channels, no alpha"."""
    if info is None:
        return None
    plural = "s" if info.channels > 1 else ""
    return f"{info.describe_images()}, {info.channels} channel{plural}" + ("" if info.alpha else ", no alpha")
