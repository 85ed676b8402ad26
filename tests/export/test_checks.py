"""Each check passes on a good export (see test_export) and fails on a bad one; a failure leaves
nothing at the output path and reports every problem at once."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

import dcgan.export.pipeline as pipeline
from dcgan.export import (
    CheckError,
    CheckerError,
    DynamicBatchError,
    ExportError,
    ExportOptions,
    OptionError,
    ParityError,
    ShapeError,
    export_generator,
    prepare_generator,
)
from dcgan.export.errors import CheckFailure, raise_failures

from export_helpers import files_in

OLD = b"a model that was here before"


@pytest.fixture
def out(tmp_path):
    """An output path that already holds a file: a failed export must leave it as it was."""
    path = tmp_path / "model.onnx"
    path.write_bytes(OLD)
    return path


def _untouched(out):
    assert out.read_bytes() == OLD
    assert files_in(out.parent) == [out.name]  # no temp file left behind


def _edit_first_weight(model: onnx.ModelProto, edit) -> None:
    weight = next(t for t in model.graph.initializer if t.name.endswith("weight"))
    w = numpy_helper.to_array(weight).copy()
    edit(w)
    weight.CopyFrom(numpy_helper.from_array(w, weight.name))


def _save_then(edit):
    """A save_model that writes the model, then alters a weight in the written file, the way
    a bug between tracing and saving (or a disk fault) would."""
    real_save = pipeline.save_model

    def save(model, path):
        real_save(model, path)
        m = onnx.load(str(path))
        _edit_first_weight(m, edit)
        real_save(m, path)

    return save


def test_tampered_weight_fails_parity_with_the_figure_reported(small_run, out, monkeypatch):
    monkeypatch.setattr(pipeline, "save_model", _save_then(lambda w: w.__imul__(1.05)))
    with pytest.raises(ParityError) as info:
        export_generator(small_run, out)
    e = info.value
    assert {f.kind for f in e.failures} == {ParityError}
    assert set(e.report.parity) == {1, 5} and min(e.report.parity.values()) > 1e-4
    assert "batch 1" in str(e) and "batch 5" in str(e) and "> atol" in str(e)
    assert "\n" not in str(e)
    _untouched(out)


def test_non_finite_output_fails_parity(small_run, out, monkeypatch):
    monkeypatch.setattr(pipeline, "save_model", _save_then(lambda w: w.__setitem__((0, 0, 0, 0), np.nan)))
    with pytest.raises(ParityError, match="non-finite"):
        export_generator(small_run, out)
    _untouched(out)


def test_skipping_checks_lets_a_tampered_model_through(small_run, out, monkeypatch):
    monkeypatch.setattr(pipeline, "save_model", _save_then(lambda w: w.__imul__(1.05)))
    report = export_generator(small_run, out, checks=False)
    assert out.read_bytes() != OLD and not report.checked


def test_fixed_batch_graph_fails_the_dynamic_batch_check(small_run, out, monkeypatch):
    real_trace = pipeline.trace_to_onnx
    monkeypatch.setattr(
        pipeline, "trace_to_onnx", lambda *a, **k: real_trace(*a, **{**k, "dynamic_batch": False})
    )
    with pytest.raises(DynamicBatchError) as info:
        export_generator(small_run, out)
    message = str(info.value)
    assert "batch dimension is fixed at 2" in message
    assert "failed at batch 5" in message
    _untouched(out)


def _break_graph(model: onnx.ModelProto) -> onnx.ModelProto:
    model.graph.node[1].input[0] = "no_such_tensor"
    return model


def test_broken_graph_fails_the_checker(small_run, out):
    with pytest.raises(CheckerError) as info:
        prepare_generator(small_run, out, ExportOptions(steps=[_break_graph]))
    assert "onnx.checker" in str(info.value)
    _untouched(out)


def _crop_output(model: onnx.ModelProto) -> onnx.ModelProto:
    """Slice the image to 32 columns and declare it so: a consistent graph of the wrong shape."""
    g = model.graph
    last = next(n for n in g.node if "image" in n.output)
    last.output[list(last.output).index("image")] = "uncropped"
    for name, value in (("starts", 0), ("ends", 32), ("axes", 3)):
        g.initializer.append(numpy_helper.from_array(np.array([value], dtype=np.int64), f"crop_{name}"))
    g.node.append(helper.make_node("Slice", ["uncropped", "crop_starts", "crop_ends", "crop_axes"], ["image"]))
    g.output[0].type.tensor_type.shape.dim[3].dim_value = 32
    return model


def test_wrong_output_shape_fails_the_shape_check(small_run, out):
    with pytest.raises(ShapeError) as info:
        prepare_generator(small_run, out, ExportOptions(steps=[_crop_output]))
    assert {f.kind for f in info.value.failures} == {ShapeError}
    assert "expected ['batch', 3, 64, 64]" in str(info.value)
    _untouched(out)


def _fix_input_batch_and_tamper(model: onnx.ModelProto) -> onnx.ModelProto:
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 1
    _edit_first_weight(model, lambda w: w.__imul__(1.05))
    return model


def test_failures_of_several_kinds_are_raised_together(small_run, out):
    with pytest.raises(CheckError) as info:
        prepare_generator(small_run, out, ExportOptions(steps=[_fix_input_batch_and_tamper]))
    e = info.value
    assert type(e) is CheckError  # no single kind: the common base, listing all of them
    assert {f.kind for f in e.failures} == {DynamicBatchError, ParityError}
    assert list(e.report.parity) == [1]  # batch 1 still ran: its figure is reported
    assert "parity:" in str(e) and "dynamic batch:" in str(e) and "batch 1:" in str(e)
    _untouched(out)


def test_raise_failures_picks_the_class():
    with pytest.raises(ShapeError):
        raise_failures([CheckFailure(ShapeError, "a"), CheckFailure(ShapeError, "b")])
    with pytest.raises(CheckError) as info:
        raise_failures([CheckFailure(ShapeError, "a"), CheckFailure(ParityError, "b")])
    assert type(info.value) is CheckError and "shapes: a; parity: b" in str(info.value)
    raise_failures([])  # nothing failed: nothing raised
    assert issubclass(CheckError, ExportError)


def test_an_atol_that_bounds_nothing_is_refused(small_run, tmp_path):
    for atol in (0.0, -1e-4, float("nan"), float("inf")):
        with pytest.raises(OptionError, match="^atol must be a positive, finite number"):
            export_generator(small_run, tmp_path / "g.onnx", atol=atol)
    assert files_in(tmp_path) == []
