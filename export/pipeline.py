"""The export pipeline: source -> fold -> trace -> (model steps) -> precision form -> metadata
-> temp file -> checks -> rename.

What to do comes as one ExportOptions (options.py), checked before any work. The precision
form of fp32 is the traced graph with a generator's first layer as one Gemm over the batch
(latent_gemm.py). A reduced-precision variant (``precision="fp16"`` or ``"int8"``,
precision.py) is made after the model steps, from the fp32 graph; it is compared with that
graph on the same inputs and refused below ``min_psnr`` before anything is written. Its parity
against PyTorch is still measured and reported, but not bounded by ``atol``: the quality gate
is its tolerance. The fp32 path is the plain one (parity bounded by ``atol``).

The file is written and checked as a PendingFile (dcgan.core.atomic): a temp file beside the
destination, synced and renamed into place on commit. ``prepare_*`` stops before the commit so
that a caller exporting several files can make them appear together (the CLI: both networks
or neither); ``export_*`` commits at once.
"""
from __future__ import annotations

import copy
import os
import time
from pathlib import Path
from typing import Any, Callable

import onnx
import torch
from torch import nn

from dcgan.core.atomic import PendingFile, cannot_write, check_writable_file
from dcgan.core.metadata import merge
from dcgan.core.text import first_line
from dcgan.train.model import recompute_batchnorm_stats

from .checks import make_inputs, run_checks
from .errors import OutputError, SourceError, raise_failures
from .fold import fold_batchnorm
from .metadata import attach_metadata, export_metadata
from .onnx_export import (
    DiscriminatorLogits,
    NetSpec,
    discriminator_spec,
    generator_spec,
    trace_to_onnx,
)
from .options import ExportOptions, export_options
from .passes.quantize import integer_kernels
from .precision import VariantInputs, discriminator_inputs, generator_inputs, precision_form
from .report import ExportReport
from .source import SourceInfo, build_discriminator, build_generator, load_source

EXPORTER = "torch.onnx dynamo"
# Latents per forward pass when BatchNorm statistics are recomputed for the export, and how
# many dcgan-export uses by default (the Python API's default, 0, keeps the checkpoint's).
BN_BATCH = 256
DEFAULT_BN_LATENTS = 1024
INT8_WEIGHTS = {  # precision.py says why
    "generator": "int8 per output channel in the 7-bit range: the same images on x86 CPUs with and without VNNI",
    "discriminator": "int8 per output channel in the 8-bit range",
}

Source = str | os.PathLike | nn.Module | SourceInfo  # what load_source reads
# A checked model in a temp file beside its destination, and what the export did.
Prepared = tuple[PendingFile, ExportReport]


def export_generator(source: Source, out: str | os.PathLike, options: ExportOptions | None = None,
                     **fields: Any) -> ExportReport:
    """Export the generator of a checkpoint file, run folder or Generator module to ``out``:
    input 'z' [batch, latent, 1, 1] -> output 'image' [batch, channels, size, size].

    ``options``, or ExportOptions fields given as keywords (``precision="int8"``,
    ``bn_latents=1024``, ...; both: the keywords replace those fields of ``options``). Raises
    an ExportError subclass; on any failure ``out`` is untouched."""
    return _commit(prepare_generator(source, out, export_options(options, **fields)))


def export_discriminator(source: Source, out: str | os.PathLike, options: ExportOptions | None = None,
                         **fields: Any) -> ExportReport:
    """Export the discriminator: input 'image' [batch, channels, size, size] -> output 'logit'
    [batch], the shape of its generator's images.

    Options as for export_generator; for a variant, ``min_psnr`` bounds the PSNR of its logits
    against fp32 (precision.py)."""
    return _commit(prepare_discriminator(source, out, export_options(options, **fields)))


def _commit(prepared: Prepared) -> ExportReport:
    pending, report = prepared
    pending.commit()
    return report


def prepare_generator(source: Source, out: str | os.PathLike,
                      options: ExportOptions | None = None) -> Prepared:
    """The generator exported and checked into a temp file beside ``out``, not yet committed."""
    options = options or ExportOptions()
    out = check_output_path(out)
    src = load_source(source)
    generator, used_ema = build_generator(src, options.ema)
    cfg = src.config
    if options.bn_latents:
        generator = copy.deepcopy(generator)
        recompute_batchnorm_stats(generator, cfg.latent_dim, samples=options.bn_latents,
                                  batch_size=min(BN_BATCH, options.bn_latents), seed=0)
    spec = generator_spec(cfg.latent_dim, cfg.channels, cfg.image_size)
    meta = export_metadata(spec, src, ema=used_ema, precision=options.precision,
                           bn_latents=options.bn_latents, extra=options.extra_metadata)
    return _prepare(generator, spec, out, meta, options, ema=used_ema,
                    variant_inputs=lambda: generator_inputs(spec, options))


def prepare_discriminator(source: Source, out: str | os.PathLike,
                          options: ExportOptions | None = None) -> Prepared:
    """The discriminator exported and checked into a temp file beside ``out``, not yet committed."""
    options = options or ExportOptions()
    out = check_output_path(out)
    src = load_source(source)
    discriminator = build_discriminator(src)
    spec = discriminator_spec(src.config.channels, src.config.image_size)
    meta = export_metadata(spec, src, precision=options.precision, extra=options.extra_metadata)

    def variant_inputs() -> VariantInputs:
        # A checkpoint has the generator whose images the discriminator ranks; a bare module not.
        generator = build_generator(src)[0] if src.module is None else None
        return discriminator_inputs(spec, options, generator)

    return _prepare(discriminator, spec, out, meta, options, ema=None, variant_inputs=variant_inputs)


def _prepare(net: nn.Module, spec: NetSpec, out: Path, meta: dict[str, Any], options: ExportOptions,
             *, ema: bool | None, variant_inputs: Callable[[], VariantInputs]) -> Prepared:
    t_start = time.perf_counter()
    # The reference for parity is the original network, unfolded, in eval mode; a copy, so a
    # module handed in by the caller keeps its mode.
    reference = copy.deepcopy(net).eval()
    traced = fold_batchnorm(reference) if options.fold_bn else copy.deepcopy(reference)
    if spec.role == "discriminator":
        reference, traced = DiscriminatorLogits(reference).eval(), DiscriminatorLogits(traced).eval()
    check_config_shapes(reference, spec)

    # fold_bn=False keeps BatchNormalization nodes in the graph (to measure what folding
    # saves), so the exporter's optimiser, which would fuse them as well, stays off then.
    model = trace_to_onnx(traced, spec, opset=options.opset, optimize=options.fold_bn)
    t_traced = time.perf_counter()
    for step in options.steps:
        model = step(model)
    model, quality, calibration = precision_form(model, spec, options, variant_inputs)
    if quality is not None:
        figures = quality.as_metadata()
        if calibration:  # int8: what it was calibrated on, and which kernels checked it
            figures.update(calibration=calibration, weights=INT8_WEIGHTS[spec.role], checked_on=integer_kernels())
        meta = merge(meta, {"precision": options.precision, "quality_vs_fp32": figures})
    t_variant = time.perf_counter()
    stored_meta = attach_metadata(model, meta)

    pending = PendingFile(out)
    try:
        try:
            save_model(model, pending.tmp)
        except OSError as e:
            raise cannot_write(out, e) from None
        report = ExportReport(
            role=spec.role, path=out, opset=options.opset, exporter=EXPORTER,
            input_name=spec.input_name, input_shape=spec.input_shape(),
            output_name=spec.output_name, output_shape=spec.output_shape(),
            file_bytes=pending.tmp.stat().st_size, op_counts=_op_counts(model),
            parameters=sum(p.numel() for p in net.parameters()), bn_folded=options.fold_bn,
            atol=options.atol, checked=options.checks, ema=ema, metadata=stored_meta,
            precision=options.precision, quality=quality, calibration=calibration,
            min_psnr=options.min_psnr if quality is not None else None,
        )
        report.seconds["export"] = t_traced - t_start
        if quality is not None:
            report.seconds[options.precision] = t_variant - t_traced
        if options.checks:
            t_checks = time.perf_counter()
            atol = None if options.is_variant else options.atol
            result = run_checks(pending.tmp, reference, spec, atol=atol)
            report.parity = result.parity
            report.seconds["checks"] = time.perf_counter() - t_checks
            raise_failures(result.failures, report)
        report.seconds["total"] = time.perf_counter() - t_start
    except BaseException:
        pending.discard()
        raise
    return pending, report


def check_config_shapes(net: nn.Module, spec: NetSpec) -> None:
    """Refuse, before tracing, a network whose layers do not compute the shapes its ModelConfig
    records: the metadata is written from that config, and the runtimes trust it."""
    x = torch.from_numpy(make_inputs(spec, 1, seed=0))
    said = f"its ModelConfig (and so the metadata) says {spec.input_shape('N')} -> {spec.output_shape('N')}"
    try:
        with torch.no_grad():
            shape = list(net(x).shape)
    except RuntimeError as e:
        raise SourceError(f"the {spec.role} does not run on the input {said}: {first_line(e)}") from None
    if shape != spec.output_shape(1):
        raise SourceError(f"the {spec.role} computes {shape[1:]} per input where {said}")


def check_output_path(out: str | os.PathLike) -> Path:
    """Refuse, before any work, an output the export could not write whole."""
    out = Path(out)
    if out.suffix.lower() != ".onnx":
        raise OutputError(f"{out}: output name must end in .onnx")
    return check_writable_file(out)


def save_model(model: onnx.ModelProto, path: Path) -> None:
    """Write ``model`` as one self-contained file (weights inline). The PendingFile it goes
    into syncs it to disk on commit."""
    Path(path).write_bytes(model.SerializeToString())


def _op_counts(model: onnx.ModelProto) -> dict[str, int]:
    counts: dict[str, int] = {}
    for node in model.graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts
