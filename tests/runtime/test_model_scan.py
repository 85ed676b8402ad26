"""A model file may reference nothing: tensors with external data are refused before ONNX
Runtime sees the file (which older versions would read from anywhere the path leads)."""
from __future__ import annotations

import os

import pytest
from click.testing import CliRunner
from runtime_fixtures import DISC, EXTERNAL, GEN

from dcgan.runtime import Generator, ModelLoadError
from dcgan.runtime import model_file
from dcgan.runtime.cli import main
from dcgan.runtime.model_scan import MalformedModel, external_tensors, fields

OUTSIDE = b"../../../../etc/passwd"


def test_a_tensor_stored_outside_the_file_is_refused_before_a_session_exists(monkeypatch):
    def no_session(*args, **kwargs):
        raise AssertionError("ONNX Runtime was handed a model with external data")

    monkeypatch.setattr(model_file, "create_session", no_session)
    with pytest.raises(ModelLoadError, match=r"keeps its data in another file \('\.\./\.\./\.\./\.\./etc/passwd'\)"):
        Generator.load(EXTERNAL, provider="cpu")


def test_a_symlink_beside_the_model_is_no_way_around_it(tmp_path):
    # The same fixture with the location renamed (same length, so the protobuf stays valid)
    # to a file beside the model, which is a symlink to the file it really wants.
    beside = b"weights-beside-it.bin_"
    assert len(beside) == len(OUTSIDE)
    model = tmp_path / "model.onnx"
    model.write_bytes(EXTERNAL.read_bytes().replace(OUTSIDE, beside))
    os.symlink("/etc/passwd", tmp_path / beside.decode())
    with pytest.raises(ModelLoadError, match="weights-beside-it.bin_"):
        Generator.load(model, provider="cpu")


def test_dcgan_gen_says_so_in_one_line(tmp_path):
    r = CliRunner().invoke(main, ["--model", str(EXTERNAL), "--out", str(tmp_path / "g.png")])
    assert r.exit_code == 1 and r.stderr.count("\n") == 1
    assert "self-contained" in r.stderr and not (tmp_path / "g.png").exists()


def test_the_project_s_own_models_reference_nothing():
    for path in (GEN, DISC, model_file.bundled_model()):
        assert external_tensors(path.read_bytes()) == []


def test_truncated_bytes_are_malformed_not_a_crash():
    data = GEN.read_bytes()
    with pytest.raises(MalformedModel):
        external_tensors(data[: len(data) // 2])
    assert list(fields(memoryview(b""))) == []


def test_field_numbers_are_those_of_onnx_proto():
    onnx = pytest.importorskip("onnx")
    from dcgan.runtime import model_scan as s

    number = lambda message, name: message.DESCRIPTOR.fields_by_name[name].number  # noqa: E731
    assert (number(onnx.ModelProto, "graph"), number(onnx.ModelProto, "functions")) == (s.MODEL_GRAPH, s.MODEL_FUNCTIONS)
    assert [number(onnx.GraphProto, n) for n in ("node", "initializer", "sparse_initializer")] == \
        [s.GRAPH_NODE, s.GRAPH_INITIALIZER, s.GRAPH_SPARSE_INITIALIZER]
    assert number(onnx.FunctionProto, "node") == s.FUNCTION_NODE
    assert number(onnx.NodeProto, "attribute") == s.NODE_ATTRIBUTE
    assert [number(onnx.AttributeProto, n) for n in ("t", "g", "tensors", "graphs", "sparse_tensor",
                                                    "sparse_tensors")] == \
        [s.ATTR_T, s.ATTR_G, s.ATTR_TENSORS, s.ATTR_GRAPHS, s.ATTR_SPARSE_TENSOR, s.ATTR_SPARSE_TENSORS]
    assert [number(onnx.SparseTensorProto, n) for n in ("values", "indices")] == [s.SPARSE_VALUES, s.SPARSE_INDICES]
    assert [number(onnx.TensorProto, n) for n in ("name", "external_data", "data_location")] == \
        [s.TENSOR_NAME, s.TENSOR_EXTERNAL_DATA, s.TENSOR_DATA_LOCATION]
    assert onnx.TensorProto.EXTERNAL == s.EXTERNAL


def test_external_data_inside_a_subgraph_and_a_constant_is_found():
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    def external(name):
        t = helper.make_tensor(name, TensorProto.FLOAT, [1], [0.0])
        t.ClearField("float_data")
        t.data_location = TensorProto.EXTERNAL
        t.external_data.add(key="location", value=f"{name}.bin")
        return t

    const = helper.make_node("Constant", [], ["c"], value=external("in_constant"))
    inner = helper.make_graph([helper.make_node("Identity", ["c"], ["y"])], "inner", [],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
                              initializer=[external("in_subgraph")])
    branch = helper.make_node("If", ["cond"], ["out"], then_branch=inner, else_branch=inner)
    graph = helper.make_graph([const, branch], "outer",
                              [helper.make_tensor_value_info("cond", TensorProto.BOOL, [])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1])])
    found = external_tensors(helper.make_model(graph).SerializeToString())
    assert sorted(found) == [("in_constant", "in_constant.bin"), ("in_subgraph", "in_subgraph.bin"),
                             ("in_subgraph", "in_subgraph.bin")]
