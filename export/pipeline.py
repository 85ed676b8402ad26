"""The export pipeline: source -> fold -> trace -> (model steps) -> precision form -> metadata
-> temp file -> checks -> rename.

The precision form of fp32 is the traced graph with a generator's first layer as one Gemm
over the batch (latent_gemm.py).

A model step is a function ModelProto -> ModelProto applied between tracing and the metadata.
A reduced-precision variant (``precision="fp16"`` or ``"int8"``, precision.py) is made after
the steps, from the fp32 graph; it is compared with that graph on the same inputs and refused
below ``min_psnr`` before anything is written. Its parity against PyTorch is still measured
and reported, but not bounded by ``atol``: the quality gate is its tolerance. The fp32 path
is the plain one (parity bounded by ``atol``). ``prepare_*`` stops before the rename so that a
caller exporting several files can make them appear together (the CLI: both networks or
neither).
"""
from __future__ import annotations

import copy
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import onnx
from torch import nn

from dcgan.core.metadata import merge
from dcgan.train.model import recompute_batchnorm_stats

from .checks import run_checks
from .errors import ExportError, OutputError, raise_failures
from .fold import fold_batchnorm
from .metadata import attach_metadata, export_metadata
from .onnx_export import (
    DEFAULT_OPSET,
    DiscriminatorLogits,
    NetSpec,
    discriminator_spec,
    generator_spec,
    trace_to_onnx,
)
from .precision import (
    DEFAULT_MIN_PSNR,
    PrecisionOptions,
    VariantInputs,
    check_quality,
    discriminator_inputs,
    generator_inputs,
    make_variant,
    measure_quality,
)
from .report import ExportReport
from .source import SourceInfo, build_discriminator, build_generator, load_source

EXPORTER = "torch.onnx dynamo"
ModelStep = Callable[[onnx.ModelProto], onnx.ModelProto]


@dataclass
class PendingExport:
    """A checked model in a temp file beside its destination, not yet renamed into place."""

    temp: Path
    out: Path
    report: ExportReport

    def commit(self) -> ExportReport:
        try:
            os.replace(self.temp, self.out)
        except OSError as e:
            self.discard()
            raise OutputError(f"{self.out}: cannot rename the checked model into place ({e.strerror})") from None
        self.report.path = self.out
        return self.report

    def discard(self) -> None:
        try:
            os.unlink(self.temp)
        except FileNotFoundError:
            pass


# Latents per forward pass when BatchNorm statistics are recomputed for the export, and how
# many dcgan-export uses by default (the Python API's default, 0, keeps the checkpoint's).
BN_BATCH = 256
DEFAULT_BN_LATENTS = 1024


def export_generator(
    source: "str | os.PathLike | nn.Module | SourceInfo",
    out: str | os.PathLike,
    *,
    ema: bool | None = None,
    opset: int = DEFAULT_OPSET,
    atol: float = 1e-4,
    checks: bool = True,
    extra_metadata: dict[str, Any] | None = None,
    fold_bn: bool = True,
    precision: str = "fp32",
    min_psnr: float = DEFAULT_MIN_PSNR,
    bn_latents: int = 0,
    **variant: int,
) -> ExportReport:
    """Export the generator of a checkpoint file, run folder or Generator module to ``out``.

    ``ema=None`` uses the EMA weights when the checkpoint has them, False the raw ones,
    True requires EMA. ``bn_latents`` > 0 first replaces the BatchNorm running statistics by
    their average over that many seeded latents (recompute_batchnorm_stats, on a copy): the
    statistics the eval-mode graph bakes in then describe the exported weights.
    ``precision``: "fp32", "fp16" or "int8"; a variant whose PSNR against fp32 is below
    ``min_psnr`` dB raises QualityError. ``variant``: ``quality_images`` and
    ``calibration_inputs`` (PrecisionOptions). Raises an ExportError subclass; on any failure
    ``out`` is untouched.
    """
    return prepare_generator(
        source, out, ema=ema, opset=opset, atol=atol, checks=checks,
        extra_metadata=extra_metadata, fold_bn=fold_bn, precision=precision,
        min_psnr=min_psnr, bn_latents=bn_latents, **variant,
    ).commit()


def export_discriminator(
    source: "str | os.PathLike | nn.Module | SourceInfo",
    out: str | os.PathLike,
    *,
    opset: int = DEFAULT_OPSET,
    atol: float = 1e-4,
    checks: bool = True,
    extra_metadata: dict[str, Any] | None = None,
    fold_bn: bool = True,
    precision: str = "fp32",
    min_psnr: float = DEFAULT_MIN_PSNR,
    **variant: int,
) -> ExportReport:
    """Export the discriminator: input 'image' [batch, 3, 64, 64] -> output 'logit' [batch].

    For a variant, ``min_psnr`` bounds the PSNR of its logits against fp32 (precision.py)."""
    return prepare_discriminator(
        source, out, opset=opset, atol=atol, checks=checks,
        extra_metadata=extra_metadata, fold_bn=fold_bn, precision=precision,
        min_psnr=min_psnr, **variant,
    ).commit()


def prepare_generator(source, out, *, ema=None, opset=DEFAULT_OPSET, atol=1e-4, checks=True,
                      extra_metadata=None, fold_bn=True, steps: Sequence[ModelStep] = (),
                      precision="fp32", min_psnr=DEFAULT_MIN_PSNR, bn_latents: int = 0,
                      **variant: int) -> PendingExport:
    options = PrecisionOptions(precision, min_psnr, **variant)
    out = check_output_path(out)
    _check_atol(atol)
    if bn_latents < 0:
        raise ValueError(f"bn_latents must be 0 or more, got {bn_latents}")
    src = load_source(source)
    generator, used_ema = build_generator(src, ema)
    cfg = src.config
    if bn_latents:
        generator = copy.deepcopy(generator)
        recompute_batchnorm_stats(generator, cfg.latent_dim, samples=bn_latents,
                                  batch_size=min(BN_BATCH, bn_latents), seed=0)
    spec = generator_spec(cfg.latent_dim, cfg.channels, cfg.image_size)
    meta = export_metadata(spec, src, ema=used_ema, precision=precision, bn_latents=bn_latents,
                           extra=extra_metadata)
    return _prepare(generator, spec, out, meta, opset=opset, atol=atol, checks=checks,
                    fold_bn=fold_bn, steps=steps, ema=used_ema, options=options,
                    variant_inputs=lambda: generator_inputs(spec, options))


def prepare_discriminator(source, out, *, opset=DEFAULT_OPSET, atol=1e-4, checks=True,
                          extra_metadata=None, fold_bn=True, steps: Sequence[ModelStep] = (),
                          precision="fp32", min_psnr=DEFAULT_MIN_PSNR, **variant: int) -> PendingExport:
    options = PrecisionOptions(precision, min_psnr, **variant)
    out = check_output_path(out)
    _check_atol(atol)
    src = load_source(source)
    discriminator = build_discriminator(src)
    spec = discriminator_spec(src.config.channels, src.config.image_size)
    meta = export_metadata(spec, src, precision=precision, extra=extra_metadata)

    def variant_inputs() -> VariantInputs:
        # A checkpoint has the generator whose images the discriminator ranks; a bare module not.
        generator = build_generator(src)[0] if src.module is None else None
        return discriminator_inputs(spec, options, generator)

    return _prepare(discriminator, spec, out, meta, opset=opset, atol=atol, checks=checks,
                    fold_bn=fold_bn, steps=steps, ema=None, options=options,
                    variant_inputs=variant_inputs)


def _prepare(net: nn.Module, spec: NetSpec, out: Path, meta: dict[str, Any], *, opset: int,
             atol: float, checks: bool, fold_bn: bool, steps: Sequence[ModelStep],
             ema: bool | None, options: PrecisionOptions,
             variant_inputs: Callable[[], VariantInputs]) -> PendingExport:
    t_start = time.perf_counter()
    # The reference for parity is the original network, unfolded, in eval mode; a copy, so a
    # module handed in by the caller keeps its mode.
    reference = copy.deepcopy(net).eval()
    traced = fold_batchnorm(reference) if fold_bn else copy.deepcopy(reference)
    if spec.role == "discriminator":
        reference, traced = DiscriminatorLogits(reference).eval(), DiscriminatorLogits(traced).eval()

    # fold_bn=False keeps BatchNormalization nodes in the graph (to measure what folding
    # saves), so the exporter's optimiser, which would fuse them as well, stays off then.
    model = trace_to_onnx(traced, spec, opset=opset, optimize=fold_bn)
    t_traced = time.perf_counter()
    for step in steps:
        model = step(model)
    quality, calibration = None, None
    if options.is_variant:
        # Made and measured before anything is written: a refused variant leaves no file.
        inputs = variant_inputs()
        model, quality = _variant(model, spec, options, inputs)
        calibration = inputs.source if options.precision == "int8" else None
        figures = quality.as_metadata()
        if calibration:
            figures["calibration"] = calibration
        meta = merge(meta, {"precision": options.precision, "quality_vs_fp32": figures})
    else:
        model = make_variant(model, spec, "fp32", None)
    t_variant = time.perf_counter()
    stored_meta = attach_metadata(model, meta)

    temp = _temp_path(out)
    try:
        try:
            save_model(model, temp)
        except OSError as e:
            raise OutputError(f"{out}: writing failed ({e.strerror})") from None
        report = ExportReport(
            role=spec.role,
            path=temp,
            opset=opset,
            exporter=EXPORTER,
            input_name=spec.input_name,
            input_shape=spec.input_shape(),
            output_name=spec.output_name,
            output_shape=spec.output_shape(),
            file_bytes=temp.stat().st_size,
            op_counts=_op_counts(model),
            parameters=sum(p.numel() for p in net.parameters()),
            bn_folded=fold_bn,
            atol=atol,
            checked=checks,
            ema=ema,
            metadata=stored_meta,
            precision=options.precision,
            quality=quality,
            min_psnr=options.min_psnr if quality is not None else None,
            calibration=calibration,
        )
        report.seconds["export"] = t_traced - t_start
        if quality is not None:
            report.seconds[options.precision] = t_variant - t_traced
        if checks:
            t_checks = time.perf_counter()
            result = run_checks(temp, reference, spec, atol=None if options.is_variant else atol)
            report.parity = result.parity
            report.seconds["checks"] = time.perf_counter() - t_checks
            raise_failures(result.failures, report)
        report.seconds["total"] = time.perf_counter() - t_start
    except BaseException:
        _unlink(temp)
        raise
    return PendingExport(temp, out, report)


def _variant(model: onnx.ModelProto, spec: NetSpec, options: PrecisionOptions, inputs: VariantInputs):
    """(variant model, its quality against ``model``); QualityError below the gate."""
    try:
        variant = make_variant(model, spec, options.precision, inputs.calibration)
    except Exception as e:  # the quantizer and the graph passes raise many types
        first = " ".join(str(e).split())[:200] or type(e).__name__
        raise ExportError(f"making the {options.precision} {spec.role} failed: {first}") from e
    quality = measure_quality(model, variant, spec, options.precision, inputs)
    check_quality(quality, spec.role, options.min_psnr)
    return variant, quality


def check_output_path(out: str | os.PathLike) -> Path:
    """Refuse, before any work, an output the export could not write whole."""
    out = Path(out)
    if out.suffix.lower() != ".onnx":
        raise OutputError(f"{out}: output name must end in .onnx")
    folder = out.parent
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise OutputError(f"{out}: {folder} {what}")
    if out.is_dir():
        raise OutputError(f"{out}: is a folder")
    # Probe by creating a file: os.access says yes to root on a read-only file system.
    _unlink(_temp_path(out))
    return out


def save_model(model: onnx.ModelProto, path: Path) -> None:
    """Write ``model`` as one self-contained file (weights inline), synced to disk."""
    data = model.SerializeToString()
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _temp_path(out: Path) -> Path:
    try:
        fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    except OSError as e:
        raise OutputError(f"{out}: cannot write in {out.parent} ({e.strerror or e})") from None
    os.close(fd)
    # mkstemp makes the file private (0600); give it the mode a plain open() would.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(name, 0o666 & ~umask)
    return Path(name)


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _check_atol(atol: float) -> None:
    if not atol > 0:  # also refuses NaN
        raise ValueError(f"atol must be positive, got {atol}")


def _op_counts(model: onnx.ModelProto) -> dict[str, int]:
    counts: dict[str, int] = {}
    for node in model.graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts
