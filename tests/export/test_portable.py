"""The portable forms (export/passes/portable.py): what other engines need, at no cost in what
ONNX Runtime computes."""
from __future__ import annotations

import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from dcgan.core.latents import latents_for_seeds
from dcgan.export import export_generator
from dcgan.export.passes.float16 import to_float16
from dcgan.export.engines import ENGINES
from dcgan.export.passes.portable import TANH_CLIP, clip_before_tanh

FEW = {"quality_images": 48, "calibration_inputs": 64}


def _tanh_graph(shape=("n",), first: str = "Mul") -> onnx.ModelProto:
    """x -> Mul(1) -> Tanh, float32, a 1-D input of any length; or x -> ConvTranspose (1x1,
    weight 1) -> Tanh on an image ``shape``, the generator's last two layers."""
    weight = np.array(1.0, np.float32) if first == "Mul" else np.ones((1, 1, 1, 1), np.float32)
    nodes = [helper.make_node(first, ["x", "w"], ["pre"], name="first"),
             helper.make_node("Tanh", ["pre"], ["y"], name="tanh")]
    graph = helper.make_graph(nodes, "tanh", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(shape))],
                              [numpy_helper.from_array(weight, "w")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    s = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return s.run(None, {s.get_inputs()[0].name: x})[0]


def _engine(name: str):
    try:
        return __import__(name)
    except ImportError:
        if os.environ.get("DCGAN_ENGINES_TEST") == "required":
            pytest.fail(f"{name} is required here but not installed (pip install 'dcgan-edge[engines]')")
        pytest.skip(f"{name} is not installed")


@pytest.mark.parametrize("half", [False, True], ids=["fp32", "fp16"])
def test_the_clip_changes_no_output_of_onnx_runtime_anywhere(half):
    model = _tanh_graph()
    clipped = clip_before_tanh(model)
    x = np.linspace(-200, 200, 400_001, dtype=np.float32)
    x = np.concatenate([x, [np.inf, -np.inf, np.finfo(np.float32).max]]).astype(np.float32)
    if half:  # inputs a float16 graph holds exactly: ONNX Runtime may drop a Cast pair
        model, clipped = to_float16(model), to_float16(clipped)
        with np.errstate(over="ignore"):  # float32 max becomes inf, which the graph must take too
            x = np.unique(x.astype(np.float16)).astype(np.float32)
    onnx.checker.check_model(clipped, full_check=True)
    want, got = _run(model, x), _run(clipped, x)
    assert np.array_equal(got, want)
    assert [n.op_type for n in clipped.graph.node if n.op_type in ("Clip", "Tanh")] == ["Clip", "Tanh"]


def test_the_pass_runs_twice_without_a_second_clip():
    once = clip_before_tanh(_tanh_graph())
    twice = clip_before_tanh(once)
    assert sum(n.op_type == "Clip" for n in twice.graph.node) == 1
    assert len(twice.graph.initializer) == len(once.graph.initializer)


def _clip_bounds(model: onnx.ModelProto) -> tuple[float, float]:
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    consts = {n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in model.graph.node
              if n.op_type == "Constant"}
    inits.update(consts)
    (clip,) = [n for n in model.graph.node if n.op_type == "Clip"]
    (tanh,) = [n for n in model.graph.node if n.op_type == "Tanh"]
    assert tanh.input[0] == clip.output[0]
    return tuple(float(inits[name]) for name in clip.input[1:])


@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8"])
def test_every_exported_generator_clips_its_tanh_input(small_run, tmp_path, precision):
    out = tmp_path / f"g-{precision}.onnx"
    export_generator(small_run, out, precision=precision, **FEW)
    model = onnx.load(str(out))
    assert _clip_bounds(model) == (-TANH_CLIP, TANH_CLIP)
    ops = [n.op_type for n in model.graph.node]
    if precision == "fp16":  # the first layer as MatMul + Add: tract refuses a float16 Gemm
        assert "Gemm" not in ops and ops.count("MatMul") == 1
    if precision == "int8":  # after the last dequantization: the quantizer must not fold it
        producer = {o: n for n in model.graph.node for o in n.output}
        clip = next(n for n in model.graph.node if n.op_type == "Clip")
        assert producer[clip.input[0]].op_type != "QuantizeLinear"


@pytest.mark.parametrize("classic", [False, True], ids=["engine", "classic"])
def test_opencv_returns_nan_for_large_tanh_inputs_and_the_clip_removes_it(tmp_path, classic):
    cv2 = _engine("cv2")
    if classic and not ENGINES["opencv-classic"].installed:
        pytest.skip(f"OpenCV {cv2.__version__} has no classic engine (5.1 removed it; .ci/run "
                    "checks it with 5.0)")
    x = np.linspace(-100, 100, 64, dtype=np.float32).reshape(1, 1, 8, 8)

    def opencv(model: onnx.ModelProto) -> np.ndarray:
        path = tmp_path / "tanh.onnx"
        onnx.save(model, str(path))
        net = cv2.dnn.readNetFromONNX(str(path), *([cv2.dnn.ENGINE_CLASSIC] if classic else []))
        net.setInput(x)
        return net.forward()

    plain = opencv(_tanh_graph(x.shape, first="ConvTranspose"))
    # What the clip is for: OpenCV 5.0's tanh after a convolution overflows to NaN, in both of
    # its engines (5.1's engine computes it); the pass stays while 5.0 and 4.x are deployed.
    if tuple(int(v) for v in cv2.__version__.split(".")[:2]) < (5, 1):
        assert np.isnan(plain[x > 50]).all() and not np.isnan(plain[x < 40]).any()
    else:
        np.testing.assert_allclose(plain, np.tanh(x), atol=1e-6)
    fixed = opencv(clip_before_tanh(_tanh_graph(x.shape, first="ConvTranspose")))
    np.testing.assert_allclose(fixed, np.tanh(x), atol=1e-6)


def test_tract_runs_the_fp16_generator_it_refused_as_a_gemm(small_run, tmp_path):
    tract = _engine("tract")
    out = tmp_path / "g-fp16.onnx"
    export_generator(small_run, out, precision="fp16", **FEW)
    z = latents_for_seeds(range(5), 100).reshape(5, 100, 1, 1)
    want = _run(onnx.load(str(out)), z)
    got = tract.onnx().load(str(out)).into_model().into_runnable().run([z])[0].to_numpy()
    assert got.shape == want.shape and np.abs(got - want).max() < 5e-3


def test_int8_generator_weights_use_seven_bits_and_the_metadata_says_where_it_was_checked(small_run, tmp_path):
    import json

    from dcgan.core.metadata import METADATA_KEY

    out = tmp_path / "g-int8.onnx"
    export_generator(small_run, out, precision="int8", **FEW)
    model = onnx.load(str(out))
    weights = [numpy_helper.to_array(t) for t in model.graph.initializer if t.data_type == TensorProto.INT8]
    assert weights and all(-64 <= w.min() and w.max() <= 64 for w in weights)  # 2 x 255 x 64 < 2^15
    assert max(int(np.abs(w).max()) for w in weights) >= 60  # the 7-bit range is used, not less
    figures = json.loads({p.key: p.value for p in model.metadata_props}[METADATA_KEY])["quality_vs_fp32"]
    assert "7-bit" in figures["weights"] and figures["checked_on"].startswith(("x86-64", "not x86", "unknown"))
