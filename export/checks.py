"""Checks of an exported model file. Every check runs; failures are collected, not raised.

1. checker:       onnx.checker.check_model(full_check=True) accepts the file.
2. shapes:        declared and inferred signature = the spec, batch axis symbolic.
3. parity:        ONNX Runtime (CPU) against the PyTorch reference at each batch size:
                  max |diff| <= atol, finite. The reference is the unfolded original in
                  eval mode, so folding errors show up here too. atol=None (fp16 and int8
                  variants, gated by their quality against fp32 instead) measures the
                  difference without a bound; non-finite outputs still fail.
4. dynamic batch: the model runs at two batch sizes and returns that many rows.
The max |diff| of every batch that ran is kept, pass or fail.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

from dcgan.core.text import first_line

from .errors import (
    CheckerError,
    CheckFailure,
    DynamicBatchError,
    ParityError,
    ShapeError,
)
from .onnx_export import NetSpec

PARITY_BATCHES = (1, 5)


@dataclass
class CheckResult:
    failures: list[CheckFailure] = field(default_factory=list)
    parity: dict[int, float] = field(default_factory=dict)  # batch -> max |diff|
    inferred_output: list[int | str] | None = None

    def fail(self, kind: type, message: str) -> None:
        self.failures.append(CheckFailure(kind, message))


def run_checks(
    path: str | Path,
    reference: nn.Module,
    spec: NetSpec,
    *,
    atol: float | None,
    batches: tuple[int, ...] = PARITY_BATCHES,
    seed: int = 0,
) -> CheckResult:
    """Run all checks on the model file at ``path``; ``reference`` is the PyTorch model
    (eval mode) whose input and output match ``spec``."""
    result = CheckResult()
    check_graph(path, result)
    try:
        model = onnx.load(str(path))
    except Exception as e:  # protobuf's DecodeError and friends: nothing more to check
        result.fail(CheckerError, f"the file does not parse as ONNX: {first_line(e)}")
        return result
    check_signature(model, spec, result)
    check_inferred_shapes(model, spec, result)
    check_runs(path, reference, spec, atol, batches, seed, result)
    return result


def check_graph(path: str | Path, result: CheckResult) -> None:
    try:
        onnx.checker.check_model(str(path), full_check=True)
    except Exception as e:  # ValidationError, InferenceError, or a protobuf DecodeError
        result.fail(CheckerError, f"onnx.checker: {first_line(e)}")


def _dims(value_info: onnx.ValueInfoProto) -> list[int | str | None]:
    t = value_info.type.tensor_type
    if not t.HasField("shape"):
        return []
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in t.shape.dim]


def _compare(where: str, found: list, expected: list[int | str], result: CheckResult) -> None:
    """Non-batch dims must match exactly; the batch dim must not be a fixed number."""
    shown = [d if d is not None else "?" for d in found]
    if len(found) != len(expected) or list(found[1:]) != list(expected[1:]):
        result.fail(ShapeError, f"{where} shape is {shown}, expected {expected}")
    elif isinstance(found[0], int):
        result.fail(DynamicBatchError, f"{where} batch dimension is fixed at {found[0]}, expected symbolic")


def check_signature(model: onnx.ModelProto, spec: NetSpec, result: CheckResult) -> None:
    """The graph's declared inputs and outputs: what a runtime sees when it opens the file."""
    for kind, values, name, shape in (
        ("input", model.graph.input, spec.input_name, spec.input_shape()),
        ("output", model.graph.output, spec.output_name, spec.output_shape()),
    ):
        names = [v.name for v in values]
        if names != [name]:
            result.fail(ShapeError, f"graph {kind}s are {names}, expected ['{name}']")
            continue
        elem = values[0].type.tensor_type.elem_type
        if elem != onnx.TensorProto.FLOAT:
            result.fail(ShapeError, f"{kind} '{name}' is {onnx.TensorProto.DataType.Name(elem)}, expected FLOAT")
        _compare(f"declared {kind} '{name}'", _dims(values[0]), shape, result)


def check_inferred_shapes(model: onnx.ModelProto, spec: NetSpec, result: CheckResult) -> None:
    """Shape inference from the input alone must arrive at the expected output shape."""
    bare = copy.deepcopy(model)
    for out in bare.graph.output:
        out.type.tensor_type.ClearField("shape")
    del bare.graph.value_info[:]
    try:
        inferred = onnx.shape_inference.infer_shapes(bare, check_type=True, strict_mode=True, data_prop=True)
    except (onnx.shape_inference.InferenceError, onnx.checker.ValidationError) as e:
        result.fail(CheckerError, f"shape inference failed: {first_line(e)}")
        return
    outs = [o for o in inferred.graph.output if o.name == spec.output_name]
    if not outs:
        return  # already reported by check_signature
    found = _dims(outs[0])
    result.inferred_output = [d if d is not None else "?" for d in found]
    _compare(f"inferred output '{spec.output_name}'", found, spec.output_shape(), result)


def make_inputs(spec: NetSpec, batch: int, seed: int) -> np.ndarray:
    """Latents ~ N(0, 1) for a generator; images ~ U(-1, 1) (the image range) otherwise."""
    rng = np.random.default_rng([seed, batch])
    shape = spec.input_shape(batch)
    if spec.role == "generator":
        return rng.standard_normal(shape, dtype=np.float32)
    return rng.uniform(-1.0, 1.0, shape).astype(np.float32)


def check_runs(
    path: str | Path,
    reference: nn.Module,
    spec: NetSpec,
    atol: float | None,
    batches: tuple[int, ...],
    seed: int,
    result: CheckResult,
) -> None:
    options = ort.SessionOptions()
    options.log_severity_level = 3  # keep ORT's warnings off the user's terminal
    options.intra_op_num_threads = 1
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as e:  # ORT raises its own exception types for unloadable models
        result.fail(CheckerError, f"ONNX Runtime cannot load the model: {first_line(e)}")
        return
    batch_fixed = _batch_is_fixed(session)
    ran, run_errors = [], []
    for batch in batches:
        x = make_inputs(spec, batch, seed)
        try:
            (got,) = session.run([spec.output_name], {spec.input_name: x})
        except Exception as e:
            run_errors.append((batch, first_line(e)))
            continue
        ran.append(batch)
        expected_shape = spec.output_shape(batch)
        if list(got.shape) != expected_shape:
            kind = DynamicBatchError if list(got.shape[1:]) == expected_shape[1:] else ShapeError
            result.fail(kind, f"batch {batch} gave output shape {list(got.shape)}, expected {expected_shape}")
            continue
        if got.dtype != np.float32:
            result.fail(ShapeError, f"output is {got.dtype}, expected float32")
        with torch.no_grad():
            want = reference(torch.from_numpy(x)).numpy()
        _compare_values(batch, got, want, atol, result)
    for batch, message in run_errors:
        # A model that runs at some batch sizes (or declares a fixed one) is not dynamic; one
        # with a symbolic batch that runs at none is broken.
        kind = DynamicBatchError if ran or batch_fixed else CheckerError
        result.fail(kind, f"ONNX Runtime failed at batch {batch}: {message}")


def _batch_is_fixed(session: ort.InferenceSession) -> bool:
    # ORT reports a fixed dimension as an int, a symbolic one as its name (or None).
    inputs = session.get_inputs()
    return bool(inputs) and bool(inputs[0].shape) and isinstance(inputs[0].shape[0], int)


def _compare_values(batch: int, got: np.ndarray, want: np.ndarray, atol: float | None,
                    result: CheckResult) -> None:
    if not (np.isfinite(got).all() and np.isfinite(want).all()):
        result.parity[batch] = math.nan
        result.fail(ParityError, f"batch {batch}: non-finite values in the outputs")
        return
    diff = float(np.abs(got.astype(np.float64) - want.astype(np.float64)).max(initial=0.0))
    result.parity[batch] = diff
    if atol is not None and diff > atol:
        result.fail(ParityError, f"batch {batch}: max |diff| {diff:.3g} > atol {atol:g}")
