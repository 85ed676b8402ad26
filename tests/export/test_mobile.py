"""dcgan-export --ort-format: the ORT-format files for ONNX Runtime Mobile, made by onnxruntime's
own converter, checked against the ONNX file, written with it or not at all."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from click.testing import CliRunner

from dcgan.core.latents import latents_for_seeds
from dcgan.core.metadata import METADATA_KEY
from dcgan.export import mobile
from dcgan.export.cli import main

from export_helpers import files_in

FEW = ["--bn-latents", "0"]


@pytest.fixture(scope="module")
def exported(small_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("mobile")
    r = CliRunner().invoke(main, [str(out / "g.onnx"), "--checkpoint", str(small_run), "--ort-format", *FEW])
    assert r.exit_code == 0, r.output
    return out, r.output


def test_writes_the_ort_file_and_operator_config_of_both_networks(exported):
    out, text = exported
    assert files_in(out) == sorted(["g.onnx", "g.ort", "g.required_operators.config", "g.discriminator.onnx",
                                    "g.discriminator.ort", "g.discriminator.required_operators.config"])
    config = (out / "g.required_operators.config").read_text()
    ops = {op for line in config.splitlines() if not line.startswith("#") and line
           for op in line.split(";")[2].split(",")}
    assert {"ConvTranspose", "Gemm", "Clip", "Tanh"} <= ops
    assert text.count("ORT format: ") == 2 and "same outputs as the ONNX file" in text
    assert "NNAPI" in text  # the mobile usability checker's verdict is reported


def test_the_ort_file_computes_the_onnx_file_images_and_keeps_the_metadata(exported):
    out, _ = exported
    z = latents_for_seeds(range(7), 100).reshape(7, 100, 1, 1)
    onnx_session, ort_session = (ort.InferenceSession(str(out / name), providers=["CPUExecutionProvider"])
                                 for name in ("g.onnx", "g.ort"))
    want = onnx_session.run(None, {"z": z})[0]
    got = ort_session.run(None, {"z": z})[0]
    assert got.shape == (7, 3, 64, 64) and np.abs(got - want).max() <= 1e-5
    assert METADATA_KEY in ort_session.get_modelmeta().custom_metadata_map
    assert ort_session.get_inputs()[0].shape[0] == "batch"  # still any batch size


def test_a_failing_converter_leaves_nothing_behind(small_run, tmp_path, monkeypatch):
    monkeypatch.setattr(mobile, "CONVERT", "onnxruntime.tools.no_such_converter")
    r = CliRunner().invoke(main, [str(tmp_path / "g.onnx"), "--checkpoint", str(small_run), "--ort-format",
                                  "--no-discriminator", *FEW])
    assert r.exit_code == 1
    assert r.stderr.startswith("dcgan-export: error: converting to the ORT format failed: ")
    assert len(r.stderr.strip().splitlines()) == 1
    assert files_in(tmp_path) == []


def test_an_ort_file_that_computes_otherwise_is_refused(small_run, tmp_path, monkeypatch):
    monkeypatch.setattr(mobile, "tolerance", lambda info, want: -1.0)  # nothing can pass
    r = CliRunner().invoke(main, [str(tmp_path / "g.onnx"), "--checkpoint", str(small_run), "--ort-format",
                                  "--no-discriminator", *FEW])
    assert r.exit_code == 1 and "the ORT file computes other outputs than the ONNX file" in r.stderr
    assert files_in(tmp_path) == []


def test_an_ort_path_that_cannot_be_written_is_refused_before_any_work(small_run, tmp_path):
    (tmp_path / "g.ort").mkdir()
    r = CliRunner().invoke(main, [str(tmp_path / "g.onnx"), "--checkpoint", str(small_run), "--ort-format",
                                  "--no-discriminator", *FEW])
    assert r.exit_code != 0 and "g.ort" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert files_in(tmp_path) == ["g.ort"]


def test_the_usability_verdicts_are_read_from_old_and_new_checkers():
    old = """INFO:  Checking NNAPI
INFO:  Model should perform well with NNAPI as is: NO
INFO:  Model should perform well with NNAPI if modified to have fixed input shapes: NO
INFO:  Model should perform well with CoreML as is: NO
"""  # ONNX Runtime 1.18
    assert mobile.parse_usability(old) == {"NNAPI": "no as exported, no with a fixed batch", "CoreML": "no as exported"}
    new = """INFO:  1 partitions with a total of 27/185 nodes can be handled by the NNAPI EP.
INFO:  Model should perform well with NNAPI as is: NO
INFO:  1 partitions with a total of 185/185 nodes can be handled by the NNAPI EP.
INFO:  Model should perform well with NNAPI if modified to have fixed input shapes: YES
"""  # ONNX Runtime 1.32
    assert mobile.parse_usability(new) == {
        "NNAPI": "no as exported (27/185 nodes in 1 partition), yes with a fixed batch (185/185 nodes in 1 partition)"}
    assert mobile.parse_usability("no verdicts here") == {}
