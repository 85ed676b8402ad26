"""dcgan-export: checkpoint -> checked, self-describing ONNX of the generator and discriminator.

Both files appear or neither does: each network is exported and checked into a temp file
beside its destination (a PendingFile), and only when both passed are they renamed into place;
--check-engines runs the temp files on other engines first (engine_parity.py).
The command line makes one ExportOptions, which checks the values before any work.
"""
from __future__ import annotations

from pathlib import Path

import click

from dcgan.core.atomic import PendingFile, check_writable_file, commit_together
from dcgan.core.command import OneLineErrors

from .engine_parity import EngineResult, check_engines, format_table, raise_engine_failures
from .engines import ENGINES, REFERENCE, requested_engines
from .errors import EngineUnavailableError, OptionError
from .mobile import MobileReport, ort_paths, prepare_ort_format
from .onnx_export import DEFAULT_OPSET
from .options import ExportOptions
from .pipeline import (
    DEFAULT_BN_LATENTS,
    Prepared,
    check_output_path,
    prepare_discriminator,
    prepare_generator,
)
from .precision import DEFAULT_MIN_PSNR, PRECISIONS
from .source import load_source, newest_run

# Checked: opsets 18-24 export and pass every check with torch 2.14 and ONNX Runtime 1.32.
MAX_OPSET = 24


def discriminator_path(out: Path) -> Path:
    """model.onnx -> model.discriminator.onnx"""
    return out.with_suffix(".discriminator.onnx")


@click.command("dcgan-export", cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("out", metavar="OUT.onnx", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--checkpoint", metavar="RUN_DIR|FILE", type=click.Path(path_type=Path),
              help="Checkpoint file or run folder.  [default: newest run folder under ./runs]")
@click.option("--discriminator-out", metavar="PATH", type=click.Path(dir_okay=False, path_type=Path),
              help="Where the discriminator goes.  [default: OUT with .discriminator.onnx]")
@click.option("--no-discriminator", is_flag=True, help="Export the generator only.")
@click.option("--raw", is_flag=True, help="Use the raw generator weights, not the EMA ones.")
@click.option("--opset", metavar="N", type=click.IntRange(DEFAULT_OPSET, MAX_OPSET),
              default=DEFAULT_OPSET, show_default=True, help="ONNX opset to emit.")
@click.option("--atol", metavar="X", type=click.FloatRange(min=0.0, min_open=True),
              default=1e-4, show_default=True, help="Largest |ONNX - PyTorch| the parity check accepts.")
@click.option("--no-check", is_flag=True, help="Skip the checker, shape, parity and dynamic-batch checks.")
@click.option("--precision", type=click.Choice(PRECISIONS), default="fp32", show_default=True,
              help="fp16: half-precision weights and arithmetic (float32 input and output). "
                   "int8: static quantization, calibrated on random latents (the discriminator "
                   "on its generator's images).")
@click.option("--min-psnr", metavar="DB", type=float, default=DEFAULT_MIN_PSNR, show_default=True,
              help="Refuse an fp16/int8 model whose PSNR against the fp32 one is lower "
                   "(generator: uint8 images; discriminator: logits).")
@click.option("--bn-latents", metavar="N", type=click.IntRange(min=0), default=DEFAULT_BN_LATENTS,
              show_default=True,
              help="Recompute the generator's BatchNorm statistics over N seeded latents before "
                   "export, so the eval-mode model matches its weights (0: keep the checkpoint's).")
@click.option("--check-engines", "engine_list", metavar="LIST",
              help="Before writing, run the files on these engines too and refuse them if one fails "
                   "(loads, keeps the dynamic batch, no NaN/Inf, max |diff| against ONNX Runtime): "
                   f"a comma list of {', '.join(n for n in ENGINES if n != REFERENCE)}, or all "
                   "(every one installed); pip install 'dcgan-edge[engines]'.")
@click.option("--ort-format", is_flag=True,
              help="Also write OUT.ort and OUT.required_operators.config for ONNX Runtime Mobile "
                   "(and the discriminator's), checked against the ONNX file.")
def main(out: Path, checkpoint: Path | None, discriminator_out: Path | None, no_discriminator: bool,
         raw: bool, opset: int, atol: float, no_check: bool, precision: str, min_psnr: float,
         bn_latents: int, engine_list: str | None, ort_format: bool) -> None:
    """Export the generator of a training run to OUT.onnx (and its discriminator beside it),
    check both against PyTorch, and print what was written.

    With --precision fp16 or int8 each network is also compared with its fp32 export on the
    same inputs (PSNR, max error, SWD for images); below --min-psnr nothing is written.
    With --check-engines both files are also run on other engines first, likewise."""
    if no_discriminator and discriminator_out is not None:
        raise click.UsageError("--discriminator-out and --no-discriminator exclude each other")
    engines = _engines(engine_list) if engine_list is not None else []
    options = _options(opset=opset, atol=atol, checks=not no_check, precision=precision,
                       min_psnr=min_psnr, ema=False if raw else None, bn_latents=bn_latents)
    out = check_output_path(out)
    d_out = None
    if not no_discriminator:
        d_out = check_output_path(discriminator_out or discriminator_path(out))
        if d_out.resolve() == out.resolve():
            raise click.UsageError("the discriminator and the generator would go to the same file")
    if ort_format:
        for onnx_out in filter(None, (out, d_out)):
            for extra in ort_paths(onnx_out):
                check_writable_file(extra)
    src = load_source(checkpoint if checkpoint is not None else newest_run())

    prepared: list[Prepared] = []
    extra_files: list[PendingFile] = []
    mobile: list[MobileReport] = []
    try:
        prepared.append(prepare_generator(src, out, options))
        if d_out is not None:
            prepared.append(prepare_discriminator(src, d_out, options))
        results = _check_engines(prepared, engines) if engines else None
        for file, _ in prepared if ort_format else ():
            files, report = prepare_ort_format(file.tmp, file.final)
            extra_files += files
            mobile.append(report)
        # both networks (and their ORT files) or nothing
        commit_together([file for file, _ in prepared] + extra_files)
    except BaseException:
        for file in [file for file, _ in prepared] + extra_files:
            file.discard()  # a no-op for a file already renamed into place
        raise

    trained = f"epoch {src.epochs}, step {src.steps}" if src.epochs is not None else "untrained"
    click.echo(f"from {src.path} ({trained})")
    for _, report in prepared:
        click.echo(str(report))
    for report in mobile:
        click.echo(str(report))
    if results is not None:
        click.echo(format_table(results))


def _engines(text: str) -> list[str]:
    """The engines --check-engines names; an unknown or uninstalled one is refused before any work."""
    try:
        return requested_engines(text)
    except EngineUnavailableError as e:
        raise click.BadParameter(str(e), param_hint="--check-engines") from None


def _check_engines(prepared: list[Prepared], engines: list[str]) -> list[EngineResult]:
    """The engine checks of the prepared temp files, shown under their final names; when one
    fails, the table is printed and the files are refused."""
    results = check_engines([(file.tmp, str(file.final)) for file, _ in prepared], engines)
    if not all(r.passed for r in results):
        click.echo(format_table(results))
        raise_engine_failures(results)
    return results


def _options(**fields) -> ExportOptions:
    """The ExportOptions of the command line; a value they refuse is reported under its option."""
    try:
        return ExportOptions(**fields)
    except OptionError as e:
        raise click.BadParameter(e.reason, param_hint=f"--{e.option.replace('_', '-')}") from None
