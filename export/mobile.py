"""The ORT format for phones: ONNX Runtime Mobile loads ``.ort`` files (a flatbuffer of the
graph after ONNX Runtime's optimisations) and is built with only the operators a
``required_operators.config`` names.

    model.onnx  ->  model.ort + model.required_operators.config

Both come from onnxruntime's own converter (``python -m onnxruntime.tools.
convert_onnx_models_to_ort``, run as a command so that its interface, not its internals, is
what this depends on), for ARM targets in the runtime optimisation style: the basic
optimisations are applied here, and the layout and fusion ones are left for the device's own
execution providers (NNAPI, CoreML, XNNPACK) to apply when it loads the file. The fixed style
would bake in what this machine's CPU provider does: an fp16 model came out as fp32 weights
behind Casts, twice the size, because x86 has no float16 kernels. The
``.ort`` file is then loaded by ONNX Runtime on this machine and compared with the ONNX file
it came from, on the inputs and tolerances of the engine checks (engine_parity.py), at two
batch sizes. onnxruntime's mobile-usability checker reports how much of the graph NNAPI
(Android) and CoreML (iOS) could take.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from dcgan.core.atomic import PendingFile, cannot_write
from dcgan.core.images import to_uint8
from dcgan.runtime.model_file import load_model

from .engine_parity import ENGINE_BATCHES, parity_inputs, tolerance
from .errors import MobileFormatError

ORT_SUFFIX = ".ort"
CONFIG_SUFFIX = ".required_operators.config"
CONVERT = "onnxruntime.tools.convert_onnx_models_to_ort"
USABILITY = "onnxruntime.tools.check_onnx_model_mobile_usability"
_PARTITIONS = re.compile(r"(\d+) partitions? with a total of (\d+)/(\d+) nodes can be handled by the (.+?) EP")
_VERDICT = re.compile(r"Model should perform well with (.+?) (as is|if modified to have fixed input shapes): (\w+)")


@dataclass
class MobileReport:
    ort_path: Path
    config_path: Path
    ort_bytes: int
    operators: list[str]  # "domain;opset;Op,Op" lines of the config
    max_diff: float
    uint8_off: int | None  # generator: image values that differ from the ONNX file's
    usability: dict[str, str]  # execution provider -> "no as exported (...), yes with a fixed batch (...)"

    def __str__(self) -> str:
        off = "" if self.uint8_off is None else f", {self.uint8_off} uint8 values off"
        eps = "; ".join(f"{ep}: {what}" for ep, what in self.usability.items()) or "no verdict printed"
        return (f"  ORT format: {self.ort_path.name} ({self.ort_bytes / 2**20:.1f} MiB) and "
                f"{self.config_path.name}; same outputs as the ONNX file: max |diff| {self.max_diff:.3g}{off}\n"
                f"  operators of a reduced build: {' | '.join(self.operators)}\n"
                f"  onnxruntime's mobile usability check: {eps}")


def ort_paths(onnx_path: Path) -> tuple[Path, Path]:
    """model.onnx -> (model.ort, model.required_operators.config)"""
    return onnx_path.with_suffix(ORT_SUFFIX), onnx_path.with_suffix(CONFIG_SUFFIX)


def prepare_ort_format(checked: Path, final: Path) -> tuple[list[PendingFile], MobileReport]:
    """The ORT-format files of the checked ONNX file ``checked`` (a temp file) as PendingFiles
    beside where ``final`` goes, not yet committed; MobileFormatError when the converter fails or
    the ORT file computes other outputs."""
    ort_final, config_final = ort_paths(final)
    with tempfile.TemporaryDirectory(prefix="dcgan-ort-") as work:
        source = Path(work) / "model.onnx"  # the converter names its outputs after its input
        shutil.copyfile(checked, source)
        converted = Path(work) / "converted"
        _run_tool([CONVERT, str(source), "--output_dir", str(converted), "--optimization_style", "Runtime",
                   "--target_platform", "arm"], "converting to the ORT format")
        ort_file = converted / "model.with_runtime_opt.ort"
        config = converted / "model.required_operators.with_runtime_opt.config"
        if not (ort_file.is_file() and config.is_file()):
            raise MobileFormatError(f"{CONVERT} wrote no {ort_file.name} and {config.name}")
        max_diff, off = _compare(checked, ort_file)
        operators = [line for line in config.read_text().splitlines() if line and not line.startswith("#")]
        report = MobileReport(ort_final, config_final, ort_file.stat().st_size, operators, max_diff, off,
                              _usability(source))
        pending = []
        try:
            for src, dst in ((ort_file, ort_final), (config, config_final)):
                pending.append(PendingFile(dst))
                shutil.copyfile(src, pending[-1].tmp)
        except OSError as e:
            for p in pending:
                p.discard()
            raise cannot_write(pending[-1].final if pending else ort_final, e) from None
    return pending, report


def _run_tool(args: list[str], doing: str) -> str:
    r = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True)
    if r.returncode != 0:
        lines = [line for line in (r.stderr or r.stdout).splitlines() if line.strip()]
        raise MobileFormatError(f"{doing} failed: {lines[-1] if lines else f'exit status {r.returncode}'}")
    return r.stdout + r.stderr


def _compare(onnx_file: Path, ort_file: Path) -> tuple[float, int | None]:
    """max |diff| between the two files' outputs on ONNX Runtime (CPU), and for a generator the
    uint8 values that differ; refused beyond the engine checks' tolerance."""
    model = load_model(onnx_file, "cpu", 1)
    info = model.metadata()
    x = parity_inputs(info, None)
    session = ort.InferenceSession(str(ort_file), providers=["CPUExecutionProvider"])
    name = model.inputs[0].name
    worst, off = 0.0, 0 if info.role == "generator" else None
    for batch in ENGINE_BATCHES:
        want = np.asarray(model.run(name, x[:batch]))
        got = np.asarray(session.run(None, {name: x[:batch]})[0])
        if got.shape != want.shape:
            raise MobileFormatError(f"the ORT file gives shape {got.shape} at batch {batch}, the ONNX "
                                    f"file {want.shape}")
        worst = max(worst, float(np.abs(got - want).max(initial=0.0)))
        if off is not None:
            off += int((to_uint8(got, info.output_range) != to_uint8(want, info.output_range)).sum())
        if not worst <= tolerance(info, want):  # NaN fails too
            raise MobileFormatError(f"the ORT file computes other outputs than the ONNX file: max |diff| "
                                    f"{worst:.3g} at batch {batch}")
    return worst, off


def _usability(model: Path) -> dict[str, str]:
    """What onnxruntime's mobile-usability checker says of NNAPI and CoreML, by provider: its
    verdict as exported (dynamic batch) and with a fixed batch, with the share of nodes each
    could take where the checker reports it (ONNX Runtime 1.19 and later); empty when it
    prints none of its verdict lines."""
    try:
        text = _run_tool([USABILITY, str(model)], "the mobile usability check")
    except MobileFormatError:
        return {}
    return parse_usability(text)


def parse_usability(text: str) -> dict[str, str]:
    """The verdicts in the usability checker's log ``text`` (see _usability)."""
    found: dict[str, list[str]] = {}
    nodes: dict[str, str] = {}  # the partition line printed just before a verdict
    for line in text.splitlines():
        partitions = _PARTITIONS.search(line)
        if partitions:
            parts, taken, total, ep = partitions.groups()
            nodes[ep] = f" ({taken}/{total} nodes in {parts} partition{'s' * (parts != '1')})"
            continue
        verdict = _VERDICT.search(line)
        if verdict:
            ep, when, answer = verdict.groups()
            when = "as exported" if when == "as is" else "with a fixed batch"
            found.setdefault(ep, []).append(f"{answer.lower()} {when}{nodes.pop(ep, '')}")
    return {ep: ", ".join(parts) for ep, parts in found.items()}
