"""Exported files on other engines: every (file, engine) against ONNX Runtime on the same inputs.

    results = check_engines([("g.onnx", "g.onnx")], ["openvino", "tract"])
    print(format_table(results)); raise_engine_failures(results)

A file's role, sizes, output range and precision come from its dcgan_edge metadata. Its
inputs are seeded latents (dcgan.core.latents) for a generator; for a discriminator, the
images of a generator checked in the same call (through the uint8 conversion, as dcgan-gen
--rank-with scores them), else a seeded uniform [-1, 1] batch. Each engine runs them at batch
1 and at batch 21 (the first 1 and 21 of the same inputs), ONNX Runtime (as dcgan.runtime
runs it) likewise. A result passes when the engine
  * loaded and ran the file,
  * kept its dynamic batch (ran at both sizes, returning as many rows),
  * computed no NaN or Inf,
  * and differs from ONNX Runtime by no more than the tolerance of the file's precision.

The tolerances bound max |diff|: fp32 1e-4, the bound of the export's own parity check against
PyTorch; fp16 2 uint8 levels of the output range, twice the error that float16 arithmetic
itself makes against fp32 (dcgan-export's quality report); int8 8 levels, the RMS error against
fp32 that the int8 quality gate allows (30 dB PSNR): engines that round a requantized
activation the other way differ by a few levels. A discriminator's logits are unbounded, so
there the tolerance is 1e-4, 2% and 8% of their scale (max(1, max |logit|)). A generator's
images are also converted to uint8 (dcgan.core.images.to_uint8) and the values that differ
from ONNX Runtime's counted; that count is reported, not bounded: a value on a rounding
boundary moves by a level for any difference at all.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from dcgan.core.images import from_uint8, to_uint8
from dcgan.core.latents import latents_for_seeds
from dcgan.core.metadata import ModelInfo
from dcgan.runtime.errors import DcganRuntimeError
from dcgan.core.images import generated_images
from dcgan.runtime.model_file import load_model
from dcgan.runtime.providers import available_cpus, ort_message

from .engines import ENGINES, REFERENCE
from .errors import EngineError, EngineParityError

ENGINE_BATCHES = (1, 21)
UNIFORM_SEED = 0
# The tolerances of the module docstring: images of fp32 files (absolute), of fp16 and int8
# files (uint8 levels of the output range), logits (a fraction of their scale).
FP32_ATOL = 1e-4
LEVELS = {"fp16": 2, "int8": 8}
LOGIT_FRACTION = {"fp32": 1e-4, "fp16": 0.02, "int8": 0.08}


@dataclass(frozen=True)
class EngineResult:
    """What one engine made of one file. ``max_diff`` is over the values both computed
    finite; ``uint8_off`` (generators, all values finite) counts the uint8 values that differ
    from ONNX Runtime's, of ``uint8_values``."""

    file: str
    role: str
    precision: str
    engine: str
    loads: bool
    dynamic_batch: bool | None = None  # None: never ran
    nonfinite: int = 0
    max_diff: float | None = None
    tolerance: float | None = None
    uint8_off: int | None = None
    uint8_values: int | None = None
    error: str | None = None  # the engine's message: why it did not run, or not at both sizes
    unchecked: str | None = None  # why the file could not be checked at all

    @property
    def passed(self) -> bool:
        return self.reason is None

    @property
    def reason(self) -> str | None:
        """Why the result fails, on one line (None when it passes)."""
        if self.unchecked:
            return f"not checked: {self.unchecked}"
        if not self.loads:
            return f"does not run it: {self.error}"
        if not self.dynamic_batch:
            return f"loses the dynamic batch: {self.error}"
        if self.nonfinite:
            return f"{self.nonfinite} NaN/Inf values"
        if self.max_diff is None or self.tolerance is None or not self.max_diff <= self.tolerance:
            return f"max |diff| {self.max_diff:.3g} > {self.tolerance:.3g}"
        return None

    @property
    def problem(self) -> str:
        return f"{self.file} on {self.engine}: {self.reason}"


@dataclass
class _File:
    path: str
    shown: str
    info: ModelInfo | None = None
    run: Callable[[np.ndarray], np.ndarray] | None = None  # the reference's
    error: str | None = None


def check_engines(files: Sequence[tuple[str | os.PathLike, str]], engines: Sequence[str],
                  threads: int | None = None) -> list[EngineResult]:
    """One result per (file, engine), in the order given. ``files``: (path, name shown)."""
    threads = threads or available_cpus()
    opened = [_open_reference(os.fspath(path), shown, threads) for path, shown in files]
    images: np.ndarray | None = None
    results: dict[tuple[int, str], EngineResult] = {}
    # Generators first: their images are what a discriminator checked with them scores.
    order = sorted(range(len(opened)), key=lambda i: opened[i].info is None or opened[i].info.role != "generator")
    for i in order:
        f = opened[i]
        if f.info is None:
            for name in engines:
                results[i, name] = EngineResult(f.shown, "?", "?", name, loads=False, unchecked=f.error)
            continue
        x = parity_inputs(f.info, images)
        want, unchecked = _reference_outputs(f, x)
        if f.info.role == "generator" and images is None and unchecked is None:
            images = from_uint8(generated_images(want[max(ENGINE_BATCHES)], f.info.output_range))
        for name in engines:
            results[i, name] = measure(name, f, x, want, threads) if unchecked is None else EngineResult(
                f.shown, f.info.role, f.info.precision, name, loads=False, unchecked=unchecked)
    return [results[i, name] for i in range(len(opened)) for name in engines]


def _open_reference(path: str, shown: str, threads: int) -> _File:
    f = _File(path, shown)
    try:
        model = load_model(path, "cpu", threads)
        f.info = model.metadata()
    except DcganRuntimeError as e:
        f.error = f"{REFERENCE} cannot load it ({e})"
        return f
    if f.info is None:
        f.error = "no dcgan_edge metadata to tell its role and sizes"
        return f
    name = model.inputs[0].name
    f.run = lambda x: model.run(name, x)
    return f


def _reference_outputs(f: _File, x: np.ndarray) -> tuple[dict[int, np.ndarray], str | None]:
    """ONNX Runtime's outputs at each batch, or why there is nothing to compare with."""
    want = {}
    for b in ENGINE_BATCHES:
        try:
            want[b] = np.asarray(f.run(x[:b]))
        except Exception as e:  # ORT's own exception types
            return want, f"{REFERENCE} fails at batch {b} ({ort_message(e)})"
        if not np.isfinite(want[b]).all():
            return want, f"{REFERENCE} computes NaN/Inf on these inputs: nothing to compare with"
    return want, None


def parity_inputs(info: ModelInfo, images: np.ndarray | None) -> np.ndarray:
    """The inputs of a parity check of a file described by ``info``, ENGINE_BATCHES' largest:
    seeded latents; a discriminator's are ``images`` when they fit, else seeded noise."""
    n = max(ENGINE_BATCHES)
    if info.role == "generator":
        return latents_for_seeds(range(n), info.latent_dim).reshape(n, info.latent_dim, 1, 1)
    shape = (n, info.channels, info.image_size, info.image_size)
    if images is not None and images.shape == shape:
        return images
    return np.random.default_rng(UNIFORM_SEED).uniform(-1.0, 1.0, shape).astype(np.float32)


def tolerance(info: ModelInfo, reference: np.ndarray) -> float:
    """The largest max |diff| against ONNX Runtime that passes, for ``info``'s precision."""
    if info.role == "discriminator":
        scale = max(1.0, float(np.abs(reference).max(initial=0.0)))
        return LOGIT_FRACTION.get(info.precision, LOGIT_FRACTION["int8"]) * scale
    if info.precision == "fp32":
        return FP32_ATOL
    lo, hi = info.output_range
    return LEVELS.get(info.precision, LEVELS["int8"]) * (hi - lo) / 255.0


def measure(name: str, f: _File, x: np.ndarray, want: dict[int, np.ndarray],
            threads: int) -> EngineResult:
    """One engine on one file: load, run at each batch, compare with ``want``."""
    info = f.info
    base = dict(file=f.shown, role=info.role, precision=info.precision, engine=name)
    try:
        run = ENGINES[name].open(f.path, threads)
    except EngineError as e:
        return EngineResult(**base, loads=False, error=str(e))
    got: dict[int, np.ndarray] = {}
    error = None
    for b in ENGINE_BATCHES:
        try:
            y = run(x[:b])
        except EngineError as e:
            error = str(e) if not got else f"at batch {b}: {e}"
            break
        if y.shape[:1] != (b,) or y.size != want[b].size:
            error = f"at batch {b} an output of shape {list(y.shape)}, expected {list(want[b].shape)}"
            break
        got[b] = y.reshape(want[b].shape)
    if not got:
        return EngineResult(**base, loads=False, error=error)
    return _compare(base, got, want, info, error)


def _compare(base: dict, got: dict[int, np.ndarray], want: dict[int, np.ndarray],
             info: ModelInfo, error: str | None) -> EngineResult:
    nonfinite, diff = 0, 0.0
    off, values = 0, 0
    for b, y in got.items():
        finite = np.isfinite(y)
        nonfinite += int((~finite).sum())
        d = np.abs(y.astype(np.float64) - want[b].astype(np.float64))[finite]
        diff = max(diff, float(d.max(initial=0.0)))
        if info.role == "generator" and finite.all():
            ours, theirs = to_uint8(y, info.output_range), to_uint8(want[b], info.output_range)
            off += int((ours != theirs).sum())
            values += ours.size
    uint8 = info.role == "generator" and nonfinite == 0
    return EngineResult(**base, loads=True, dynamic_batch=error is None, nonfinite=nonfinite,
                        max_diff=diff, tolerance=tolerance(info, want[max(want)]),
                        uint8_off=off if uint8 else None, uint8_values=values if uint8 else None,
                        error=error)


# -- the table ------------------------------------------------------------------------------------

COLUMNS = ("file", "precision", "engine", "loads", "batch", "max|diff|", "uint8 off", "result", "note")


def table_rows(results: Sequence[EngineResult]) -> list[tuple[str, ...]]:
    def yes(v: bool | None) -> str:
        return "-" if v is None else ("yes" if v else "no")

    rows = []
    for r in results:
        diff = "-" if r.max_diff is None else f"{r.max_diff:.2g}"
        off = "-" if r.uint8_off is None else f"{r.uint8_off}/{r.uint8_values}"
        setting = ENGINES[r.engine].setting
        note = setting if r.passed else f"{r.reason} [{setting}]"
        rows.append((r.file, r.precision, r.engine, yes(r.loads), yes(r.dynamic_batch if r.loads else None),
                     diff, off, "pass" if r.passed else "FAIL", note))
    return rows


def format_table(results: Sequence[EngineResult]) -> str:
    """The results as a plain-text table, one row per (file, engine), with how it was measured."""
    rows = [COLUMNS, *table_rows(results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS) - 1)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1] for row in rows]
    batches = " and ".join(str(b) for b in ENGINE_BATCHES)
    head = (f"engines against {REFERENCE} on the same inputs, batches {batches}; tolerance of "
            f"max|diff|: fp32 {FP32_ATOL:g}, fp16 {LEVELS['fp16']} and int8 {LEVELS['int8']} uint8 "
            "levels (logits: times their scale)")
    return "\n".join([head, *lines])


def raise_engine_failures(results: Sequence[EngineResult]) -> None:
    """EngineParityError naming every failed (file, engine); nothing when all passed."""
    problems = [r.problem for r in results if not r.passed]
    if problems:
        raise EngineParityError(problems)
