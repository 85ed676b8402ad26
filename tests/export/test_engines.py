"""Exported files on other engines (dcgan.export.engines, engine_parity, dcgan-export
--check-engines): what each engine makes of fp32, fp16 and int8 exports, the failures known
today reported with the engine's own message, and the command refusing what fails.

An engine that is not installed skips its tests, unless DCGAN_ENGINES_TEST=required (CI, which
installs the engines extra): then they fail. An engine that the installed version of its package
does not have (OpenCV's classic engine from 5.1) skips them in either case; .ci/run checks it
with the version that has it.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import numpy_helper

from dcgan.core.metadata import METADATA_KEY
from dcgan.export import export_discriminator, export_generator
from dcgan.export.cli import main
from dcgan.export.engine_parity import ENGINE_BATCHES, check_engines, format_table
from dcgan.export.engines import ENGINES, REFERENCE, installed_engines, requested_engines
from dcgan.export.errors import EngineUnavailableError
from dcgan.export.metadata import attach_metadata
from dcgan.export.passes.float16 import to_float16

from export_helpers import files_in

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
REQUIRED = os.environ.get("DCGAN_ENGINES_TEST") == "required"
OTHERS = [name for name in ENGINES if name != REFERENCE]
IMAGE_VALUES = sum(ENGINE_BATCHES) * 3 * 64 * 64

# (file, engine) -> what the failure's reason says; every pair not listed passes.
KNOWN_FAILURES = {
    ("g-fp16", "opencv-classic"): "'input' is 7 (CV_16FC1)",
    ("d-fp16", "opencv-classic"): "'input' is 7 (CV_16FC1)",
    ("g-int8", "opencv"): "bufidx >= 0 in function 'argTensor'",
    ("g-fp16-gemm", "tract"): 'Gemm ToTypedTranslator (caused by: Output mismatch',
    ("g-fp16-gemm", "opencv-classic"): "'input' is 7 (CV_16FC1)",
}


def need(*names: str) -> None:
    missing = [n for n in names if importlib.util.find_spec(ENGINES[n].module) is None]
    if missing:
        message = f"not installed: {', '.join(missing)} (pip install 'dcgan-edge[engines]')"
        if REQUIRED:
            pytest.fail(f"{message}, and DCGAN_ENGINES_TEST=required")
        pytest.skip(message)
    absent = [n for n in names if not ENGINES[n].installed]
    if absent:
        pytest.skip("; ".join(f"{n}: {ENGINES[n].install_hint}" for n in absent))


def _with_precision(model: onnx.ModelProto, precision: str) -> onnx.ModelProto:
    meta = json.loads({p.key: p.value for p in model.metadata_props}[METADATA_KEY])
    attach_metadata(model, {**meta, "precision": precision})
    return model


@pytest.fixture(scope="module")
def exported(small_run, tmp_path_factory) -> dict[str, Path]:
    """The small run's networks as dcgan-export writes them, and the fp16 form of the
    generator before its first layer became MatMul + Add (a float16 Gemm, which tract refuses)."""
    folder = tmp_path_factory.mktemp("engines")
    files = {name: folder / f"{name}.onnx" for name in ("g-fp32", "d-fp32", "g-fp16", "d-fp16", "g-int8")}
    for name, path in files.items():
        export = export_generator if name.startswith("g") else export_discriminator
        export(small_run, path, precision=name.split("-")[1], quality_images=16)
    gemm = to_float16(onnx.load(str(files["g-fp32"])))
    files["g-fp16-gemm"] = folder / "g-fp16-gemm.onnx"
    onnx.save(_with_precision(gemm, "fp16"), str(files["g-fp16-gemm"]))
    return files


def _rows(table: str) -> dict[tuple[str, str], list[str]]:
    """(file, engine) -> the cells of its row."""
    lines = table.splitlines()
    assert re.split(r"\s{2,}", lines[1]) == ["file", "precision", "engine", "loads", "batch",
                                            "max|diff|", "uint8 off", "result", "note"]
    rows = [re.split(r"\s{2,}", line, maxsplit=8) for line in lines[2:]]
    return {(r[0], r[2]): r for r in rows}


@pytest.mark.parametrize("engine", OTHERS)
def test_every_engine_against_onnxruntime_on_each_precision(engine, exported):
    need(engine)
    results = check_engines([(path, name) for name, path in exported.items()], [engine])
    assert [(r.file, r.engine) for r in results] == [(name, engine) for name in exported]
    rows = _rows(format_table(results))
    for r in results:
        row = rows[r.file, engine]
        expected = KNOWN_FAILURES.get((r.file, engine))
        if expected is None:
            assert r.passed, r.problem
            assert (r.loads, r.dynamic_batch, r.nonfinite) == (True, True, 0)
            assert r.max_diff <= r.tolerance
            if r.precision == "fp32":
                assert r.max_diff <= 1e-4
            if r.role == "generator":
                assert r.uint8_values == IMAGE_VALUES and 0 <= r.uint8_off < IMAGE_VALUES // 100
                assert row[6] == f"{r.uint8_off}/{IMAGE_VALUES}"
            else:
                assert r.uint8_off is None and row[6] == "-"
            assert row[3:6] == ["yes", "yes", f"{r.max_diff:.2g}"] and row[7] == "pass"
        else:
            assert not r.passed and not r.loads, f"{r.file} on {engine} now passes: update KNOWN_FAILURES"
            assert expected in r.reason and r.reason.startswith("does not run it: ")
            assert "\n" not in r.reason and "backtrace" not in r.reason.lower()
            assert "/io/opencv" not in r.reason  # the source path is cut
            assert row[3:8] == ["no", "-", "-", "-", "FAIL"] and expected in row[8]


def test_openvino_runs_in_float32_and_says_so(exported):
    need("openvino")
    (result,) = check_engines([(exported["g-fp32"], "g.onnx")], ["openvino"])
    assert result.passed and result.max_diff < 1e-5  # bf16, the CPU default, is ~1e-2 off
    assert "f32 precision hint" in _rows(format_table([result]))["g.onnx", "openvino"][8]


def test_nan_from_an_engine_is_counted_and_fails(tmp_path):
    """OpenCV 5.0's tanh returns NaN for inputs between about 44 and 88: a generator whose last
    layer reaches them (here the fixture's, scaled up) gives NaN there and +-1 elsewhere."""
    need("opencv", "tract")
    import cv2

    if tuple(int(v) for v in cv2.__version__.split(".")[:2]) >= (5, 1):
        pytest.skip(f"OpenCV {cv2.__version__} computes tanh there; .ci/run checks with 5.0")
    model = onnx.load(str(FIXTURES / "gen_tiny.onnx"))
    last = next(t for t in model.graph.initializer if t.name == "net.4.weight")
    last.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(last) * 60, last.name))
    onnx.save(model, str(tmp_path / "hot.onnx"))
    results = check_engines([(tmp_path / "hot.onnx", "hot.onnx")], ["tract", "opencv", "opencv-classic"])
    tract, *opencv = results
    assert tract.passed, tract.problem
    rows = _rows(format_table(results))
    for r in opencv:
        assert r.loads and r.dynamic_batch and 0 < r.nonfinite < IMAGE_VALUES
        assert r.reason == f"{r.nonfinite} NaN/Inf values" and r.uint8_off is None
        assert rows["hot.onnx", r.engine][6:8] == ["-", "FAIL"]


def _stub(monkeypatch, name: str, load) -> None:
    monkeypatch.setitem(ENGINES, name, dataclasses.replace(ENGINES[REFERENCE], name=name, load=load))


def test_a_lost_batch_axis_and_an_engine_error_are_reported_on_one_line(monkeypatch):
    reference = ENGINES[REFERENCE].load

    def first_image_only(path, threads):
        run = reference(path, threads)
        return lambda x: run(x[:1])

    def refuses(path, threads):
        raise RuntimeError("cannot read\nthis model\n")

    _stub(monkeypatch, "fixed-batch", first_image_only)
    _stub(monkeypatch, "refuses", refuses)
    fixed, refused = check_engines([(FIXTURES / "gen_tiny.onnx", "g")], ["fixed-batch", "refuses"])
    assert fixed.loads and fixed.dynamic_batch is False and not fixed.passed
    assert fixed.reason == f"loses the dynamic batch: at batch {ENGINE_BATCHES[1]} an output of shape " \
                           f"[1, 3, 64, 64], expected [{ENGINE_BATCHES[1]}, 3, 64, 64]"
    assert fixed.max_diff < 1e-6  # batch 1 still compared
    assert not refused.loads and refused.reason == "does not run it: cannot read this model"


def test_a_discriminator_is_fed_the_images_of_the_generator_checked_with_it(monkeypatch):
    seen = []
    reference = ENGINES[REFERENCE].load

    def recording(path, threads):
        run = reference(path, threads)
        return lambda x: (seen.append(x), run(x))[1]

    _stub(monkeypatch, "recording", recording)
    files = [(FIXTURES / "disc_tiny.onnx", "d"), (FIXTURES / "gen_tiny.onnx", "g")]
    d, g = check_engines(files, ["recording"])
    assert d.passed and g.passed and d.role == "discriminator"
    images = seen[-1]  # the discriminator ran last: generators go first
    assert images.shape == (ENGINE_BATCHES[1], 3, 64, 64)
    levels = (images + 1.0) * 127.5
    assert np.allclose(levels, np.rint(levels), atol=1e-3)  # uint8 images, not uniform noise


def test_engine_lists_name_what_is_missing(monkeypatch):
    assert requested_engines("all") == [n for n in installed_engines() if n != REFERENCE]
    assert requested_engines("onnxruntime-noopt, onnxruntime-noopt,") == ["onnxruntime-noopt"]
    with pytest.raises(EngineUnavailableError, match=r"unknown engine 'trt' \(known: onnxruntime, "):
        requested_engines("onnxruntime-noopt,trt")
    monkeypatch.setitem(ENGINES, "tract", dataclasses.replace(ENGINES["tract"], module="dcgan_no_such_engine"))
    with pytest.raises(EngineUnavailableError) as e:
        requested_engines("tract")
    assert str(e.value) == "tract is not installed (pip install 'dcgan-edge[engines]')"
    assert "tract" not in requested_engines("all")


def _invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_export_refuses_files_an_engine_asked_for_cannot_run(small_run, tmp_path):
    need("opencv-classic")
    out = tmp_path / "m.onnx"
    result = _invoke(out, "--checkpoint", small_run, "--precision", "fp16", "--bn-latents", 0,
                     "--check-engines", "opencv-classic")
    assert result.exit_code == 1 and files_in(tmp_path) == []  # no temp file left either
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"dcgan-export: error: nothing written: 2 engine checks failed: {out} on "
                           "opencv-classic: does not run it: (-2:Unspecified error) in function")
    assert f"; {tmp_path / 'm.discriminator.onnx'} on opencv-classic: does not run it: " in line
    rows = _rows(result.stdout[result.stdout.index("engines against"):])
    assert [r[7] for r in rows.values()] == ["FAIL", "FAIL"]


def test_export_with_engines_that_pass_writes_the_files_and_prints_the_table(small_run, tmp_path):
    """tract runs the fp16 generator: its first layer is written as MatMul + Add, not the
    float16 Gemm tract refuses (KNOWN_FAILURES, g-fp16-gemm)."""
    need("tract")
    out = tmp_path / "m.onnx"
    result = _invoke(out, "--checkpoint", small_run, "--precision", "fp16", "--bn-latents", 0,
                     "--no-discriminator", "--check-engines", "tract,onnxruntime-noopt")
    assert result.exit_code == 0, result.output
    assert files_in(tmp_path) == ["m.onnx"] and result.stderr == ""
    rows = _rows(result.stdout[result.stdout.index("engines against"):])
    assert list(rows) == [(str(out), "tract"), (str(out), "onnxruntime-noopt")]
    assert all(r[3:5] == ["yes", "yes"] and r[7] == "pass" for r in rows.values())


@pytest.mark.parametrize("engines, says", [
    ("onnxruntime-noopt,trt", "unknown engine 'trt' (known: onnxruntime, onnxruntime-noopt, openvino, tract"),
    ("openvino", "openvino is not installed (pip install 'dcgan-edge[engines]')"),
])
def test_export_refuses_an_unknown_or_missing_engine_before_any_work(engines, says, monkeypatch, tmp_path):
    monkeypatch.setitem(ENGINES, "openvino", dataclasses.replace(ENGINES["openvino"], module="dcgan_no_such_engine"))
    # The checkpoint does not exist: the engines are refused before it is looked for.
    result = _invoke(tmp_path / "m.onnx", "--checkpoint", tmp_path / "none", "--check-engines", engines)
    assert result.exit_code == 2 and files_in(tmp_path) == []
    (line,) = result.stderr.splitlines()
    assert line.startswith("dcgan-export: error: Invalid value for --check-engines: ") and says in line
    assert result.stdout == ""


def test_the_benchmark_prints_a_row_per_engine_with_speeds_and_cold_starts(tmp_path):
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "engines.py"
    r = subprocess.run([sys.executable, str(script), str(FIXTURES / "gen_tiny.onnx"), "--engines",
                        "onnxruntime-noopt", "--reps", "1", "--cold-reps", "1"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.startswith("CPU: ") and "flags: " in r.stdout.splitlines()[0]
    (row,) = [line for line in r.stdout.splitlines() if line.startswith("| gen_tiny.onnx |")]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[:2] == ["gen_tiny.onnx", "onnxruntime-noopt"] and int(cells[2]) >= 1
    assert cells[3:7] == ["yes", "pass", "0", f"0/{IMAGE_VALUES}"]
    assert all(re.fullmatch(r"[\d,]+ \([\d,]+, [\d.]+x\)", c) for c in cells[7:9]), cells
    assert re.fullmatch(r"[\d.]+ \([\d.]+\)", cells[9]), cells
