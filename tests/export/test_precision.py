"""fp16 and int8 exports: what a user gets, how close it is to fp32, and the quality gate."""
from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from click.testing import CliRunner
from onnx import numpy_helper

from dcgan.export import (
    ExportOptions,
    OptionError,
    QualityError,
    export_discriminator,
    export_generator,
    prepare_generator,
)
from dcgan.core.images import from_uint8, to_uint8
from dcgan.core.latents import latents_for_seeds
from dcgan.core.metadata import METADATA_KEY
from dcgan.export.cli import main
from dcgan.export.errors import (
    Float16Error,
    LatentGemmError,
    PassError,
    QuantizationError,
    SubpixelError,
)
from dcgan.export.onnx_export import discriminator_spec
from dcgan.export.passes import quantize
from dcgan.export.passes.float16 import to_float16
from dcgan.export.passes.latent_gemm import latent_layer_as_gemm
from dcgan.export.passes.subpixel import rewrite_subpixel
from dcgan.export.precision import discriminator_inputs
from dcgan.export.source import build_generator, load_source
from dcgan.runtime import Discriminator, Generator
from dcgan.train.model import Discriminator as TorchDiscriminator

from export_helpers import SMALL, files_in, trained_like_models

# Enough images for stable figures on a width-8 model, few enough to keep the tests fast.
FEW = {"quality_images": 48, "calibration_inputs": 64}


def _meta(path) -> dict:
    return json.loads({p.key: p.value for p in onnx.load(str(path)).metadata_props}[METADATA_KEY])


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


@pytest.fixture(scope="module")
def fp32_graph(small_run, tmp_path_factory):
    """The traced fp32 generator of the small run, in memory (not written anywhere)."""
    pending, _ = prepare_generator(small_run, tmp_path_factory.mktemp("fp32") / "g.onnx",
                                   ExportOptions(checks=False))
    model = onnx.load(str(pending.tmp))
    pending.discard()
    return model


@pytest.fixture(scope="module")
def traced_graph(small_run, tmp_path_factory):
    """The same generator as traced, before the fp32 form's graph pass (a model step sees it)."""
    seen = []
    options = ExportOptions(checks=False, steps=[lambda m: seen.append(m) or m])
    pending, _ = prepare_generator(small_run, tmp_path_factory.mktemp("traced") / "g.onnx", options)
    pending.discard()
    return seen[0]


@pytest.fixture(scope="module", params=["fp16", "int8"])
def variant(request, small_run, tmp_path_factory):
    precision = request.param
    out = tmp_path_factory.mktemp(precision) / f"g-{precision}.onnx"
    report = export_generator(small_run, out, precision=precision, **FEW)
    return precision, out, report


def test_variant_loads_in_the_runtime_and_draws_images_close_to_fp32(variant, small_run, tmp_path):
    precision, out, report = variant
    fp32 = export_generator(small_run, tmp_path / "g32.onnx")
    a = Generator.load(fp32.path, provider="cpu").sample(16, seed=3)
    b = Generator.load(out, provider="cpu").sample(16, seed=3)
    assert a.shape == b.shape == (16, 64, 64, 3) and b.dtype == np.uint8
    mse = np.mean((a.astype(float) - b.astype(float)) ** 2)
    assert mse == 0 or 10 * np.log10(255**2 / mse) >= 30
    # The export measured the same kind of figure over its own images, and says so.
    assert report.quality.psnr_db is None or report.quality.psnr_db >= 30
    assert f"{precision}: " in str(report) and "vs fp32" in str(report)


def test_metadata_records_the_precision_and_the_quality_figures(variant):
    precision, out, report = variant
    meta = _meta(out)
    assert meta["precision"] == precision
    q = meta["quality_vs_fp32"]
    assert q["reference"] == "fp32" and q["images"] == FEW["quality_images"]
    assert {"psnr_db", "max_abs_error", "swd_x1e3"} <= set(q)
    assert ("calibration" in q) == (precision == "int8")
    assert Generator.load(out, provider="cpu").info.precision == precision


def test_variant_keeps_float32_input_and_output(variant):
    precision, out, _ = variant
    model = onnx.load(str(out))
    for value in (*model.graph.input, *model.graph.output):
        assert value.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    inits = {onnx.TensorProto.DataType.Name(t.data_type) for t in model.graph.initializer}
    assert ("FLOAT16" in inits) if precision == "fp16" else ("INT8" in inits)


def test_fp16_variant_is_smaller_and_int8_smaller_still(variant, small_run, tmp_path):
    precision, out, _ = variant
    fp32 = export_generator(small_run, tmp_path / "g32.onnx")
    ratio = out.stat().st_size / fp32.path.stat().st_size
    assert ratio < (0.6 if precision == "fp16" else 0.4)


def test_cli_writes_both_networks_at_the_requested_precision(small_run, tmp_path):
    out = tmp_path / "int8.onnx"
    result = CliRunner().invoke(main, [str(out), "--checkpoint", str(small_run), "--precision", "int8"])
    assert result.exit_code == 0, result.output
    assert files_in(tmp_path) == ["int8.discriminator.onnx", "int8.onnx"]
    assert result.stdout.count("int8: ") == 2 and "logit PSNR" in result.stdout
    assert "calibrated on images of the checkpoint's generator" in result.stdout
    assert _meta(tmp_path / "int8.discriminator.onnx")["precision"] == "int8"
    d = Discriminator.load(tmp_path / "int8.discriminator.onnx", provider="cpu")
    assert d.score(Generator.load(out, provider="cpu").sample(5, seed=0)).shape == (5,)


def test_a_variant_below_the_threshold_is_refused_and_nothing_is_written(small_run, tmp_path):
    result = CliRunner().invoke(main, [str(tmp_path / "g.onnx"), "--checkpoint", str(small_run),
                                       "--precision", "int8", "--min-psnr", "200"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    err = result.stderr.strip()
    assert "\n" not in err and "refused, below the minimum 200 dB" in err and "nothing written" in err
    assert files_in(tmp_path) == []


def test_the_api_raises_quality_error_for_the_discriminator_too(small_run, tmp_path):
    with pytest.raises(QualityError, match="int8 discriminator refused"):
        export_discriminator(small_run, tmp_path / "d.onnx", precision="int8", min_psnr=500, **FEW)
    assert files_in(tmp_path) == []


def test_fp32_ignores_the_threshold(small_run, tmp_path):
    report = export_generator(small_run, tmp_path / "g.onnx", min_psnr=500)
    assert report.quality is None and _meta(report.path)["precision"] == "fp32"
    assert "quality_vs_fp32" not in _meta(report.path)


def test_unknown_precision_is_refused(small_run, tmp_path):
    with pytest.raises(OptionError, match="precision must be one of fp32, fp16, int8, got 'int4'"):
        export_generator(small_run, tmp_path / "g.onnx", precision="int4")
    result = CliRunner().invoke(main, [str(tmp_path / "g.onnx"), "--checkpoint", str(small_run),
                                       "--precision", "bf16"])
    assert result.exit_code == 2 and "bf16" in result.stderr


# --- the graph passes behind the variants ---------------------------------------------------


def test_subpixel_rewrite_computes_the_same_images_without_conv_transpose(fp32_graph):
    rewritten = rewrite_subpixel(fp32_graph)
    onnx.checker.check_model(rewritten, full_check=True)
    ops = {n.op_type for n in rewritten.graph.node}
    assert "ConvTranspose" not in ops and "Conv" in ops
    z = np.random.default_rng(0).standard_normal((3, 100, 1, 1), dtype=np.float32)
    want = _run(fp32_graph, z)
    assert np.abs(want).max() > 0.05  # a generator whose output carries signal
    np.testing.assert_allclose(_run(rewritten, z), want, atol=1e-5)


def test_latent_layer_becomes_one_gemm_with_the_same_images_and_a_symbolic_batch(traced_graph, fp32_graph):
    first = lambda m: [n.op_type for n in m.graph.node][:3]  # noqa: E731
    assert first(traced_graph)[0] == "ConvTranspose"
    assert first(fp32_graph) == ["Flatten", "Gemm", "Reshape"]  # what an fp32 export writes
    onnx.checker.check_model(fp32_graph, full_check=True)
    assert sum(n.op_type == "ConvTranspose" for n in fp32_graph.graph.node) == sum(
        n.op_type == "ConvTranspose" for n in traced_graph.graph.node) - 1
    bare = onnx.ModelProto()
    bare.CopyFrom(fp32_graph)
    del bare.graph.value_info[:]
    bare.graph.output[0].type.tensor_type.ClearField("shape")
    inferred = onnx.shape_inference.infer_shapes(bare, strict_mode=True)
    dims = inferred.graph.output[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and [d.dim_value for d in dims[1:]] == [3, 64, 64]
    for batch in (1, 7):
        z = np.random.default_rng(batch).standard_normal((batch, 100, 1, 1), dtype=np.float32)
        want = _run(traced_graph, z)
        assert np.abs(want).max() > 0.05
        np.testing.assert_allclose(_run(fp32_graph, z), want, atol=1e-5)


def test_latent_gemm_refuses_a_graph_without_a_transposed_convolution_of_the_latent(fp32_graph):
    with pytest.raises(LatentGemmError, match="one ConvTranspose"):
        latent_layer_as_gemm(fp32_graph)  # already in Gemm form


def test_subpixel_rewrite_reads_either_form_of_the_first_layer(traced_graph, fp32_graph):
    z = np.random.default_rng(2).standard_normal((4, 100, 1, 1), dtype=np.float32)
    np.testing.assert_allclose(_run(rewrite_subpixel(fp32_graph), z),
                               _run(rewrite_subpixel(traced_graph), z), atol=1e-5)
    broken = onnx.ModelProto()
    broken.CopyFrom(fp32_graph)
    gemm = next(n for n in broken.graph.node if n.op_type == "Gemm")
    gemm.attribute.append(onnx.helper.make_attribute("transB", 1))
    with pytest.raises(SubpixelError, match="plain Gemm"):
        rewrite_subpixel(broken)


def test_subpixel_rewrite_refuses_a_graph_it_does_not_understand(fp32_graph):
    broken = onnx.ModelProto()
    broken.CopyFrom(fp32_graph)
    relu = next(n for n in broken.graph.node if n.op_type == "Relu")
    relu.op_type = "Sigmoid"  # an inner activation the rewrite does not expect
    with pytest.raises(SubpixelError, match="inner layers must end in one Relu"):
        rewrite_subpixel(broken)


def test_float16_pass_casts_at_the_boundary_only(fp32_graph):
    half = to_float16(fp32_graph)
    onnx.checker.check_model(half, full_check=True)
    casts = [n for n in half.graph.node if n.op_type == "Cast"]
    assert [c.input[0] for c in casts] == ["z", "image.fp16"] and casts[-1].output[0] == "image"
    z = np.random.default_rng(1).standard_normal((2, 100, 1, 1), dtype=np.float32)
    got = _run(half, z)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, _run(fp32_graph, z), atol=5e-3)


def test_a_bare_discriminator_module_is_calibrated_on_uniform_images(tmp_path):
    _, d, _ = trained_like_models(SMALL, seed=4)
    assert isinstance(d, TorchDiscriminator)
    report = export_discriminator(d, tmp_path / "d.onnx", precision="int8", **FEW)
    assert report.calibration == "uniform images in [-1, 1]"
    assert _meta(report.path)["quality_vs_fp32"]["calibration"] == report.calibration
    assert report.quality.rank_correlation > 0.9


def test_discriminator_inputs_are_its_generator_images_at_the_uint8_levels_the_runtime_scores(small_run):
    generator, _ = build_generator(load_source(small_run))
    inputs = discriminator_inputs(discriminator_spec(3, 64), ExportOptions(quality_images=4, calibration_inputs=2),
                                  generator)
    assert inputs.calibration.shape == (2, 3, 64, 64) and inputs.evaluation.shape == (4, 3, 64, 64)
    for images in (inputs.calibration, inputs.evaluation):
        assert images.dtype == np.float32
        # Bit for bit what dcgan.runtime's Discriminator feeds for the same uint8 images.
        np.testing.assert_array_equal(from_uint8(to_uint8(images)), images)
    z = torch.from_numpy(latents_for_seeds(range(4), 100).reshape(4, 100, 1, 1))
    with torch.no_grad():
        want = generator(z).numpy()
    assert len(np.unique(inputs.evaluation)) > 64  # many levels: images, not a constant
    assert np.abs(inputs.evaluation - want).max() <= 1 / 255 + 1e-6  # within half a level


# --- typed failures of the passes -------------------------------------------------------------


def test_a_quantizer_failure_arrives_as_one_typed_error_and_nothing_is_written(small_run, tmp_path, monkeypatch):
    def failing_quantizer(*args, **kwargs):
        raise RuntimeError("calibration\n  went wrong")

    monkeypatch.setattr(quantize, "quantize_static", failing_quantizer)
    says = ("making the int8 generator failed: ONNX Runtime's quantizer failed: "
            "RuntimeError: calibration went wrong")
    with pytest.raises(QuantizationError) as info:
        export_generator(small_run, tmp_path / "g.onnx", precision="int8", **FEW)
    assert str(info.value) == says and isinstance(info.value, PassError)
    assert isinstance(info.value.__cause__.__cause__, RuntimeError)  # the quantizer's own error kept
    result = CliRunner().invoke(main, [str(tmp_path / "g.onnx"), "--checkpoint", str(small_run),
                                       "--precision", "int8"])
    assert result.exit_code == 1 and result.stderr == f"dcgan-export: error: {says}\n"
    assert files_in(tmp_path) == []


def _weight_beyond_float16(model: onnx.ModelProto) -> onnx.ModelProto:
    weight = next(t for t in model.graph.initializer if t.name.endswith("weight"))
    w = numpy_helper.to_array(weight).copy()
    w.flat[0] = 1e5
    weight.CopyFrom(numpy_helper.from_array(w, weight.name))
    return model


def test_a_pass_error_says_which_variant_was_being_made(small_run, tmp_path):
    options = ExportOptions(precision="fp16", steps=[_weight_beyond_float16], checks=False, **FEW)
    with pytest.raises(Float16Error, match=r"^making the fp16 generator failed: tensor .* beyond the float16 range$"):
        prepare_generator(small_run, tmp_path / "g.onnx", options)
    assert files_in(tmp_path) == []


def _logits_beyond_float16(model: onnx.ModelProto) -> onnx.ModelProto:
    """Scale the last convolution so that the logits overflow in float16 but not in float32."""
    last = [n for n in model.graph.node if n.op_type == "Conv"][-1]
    weight = next(t for t in model.graph.initializer if t.name == last.input[1])
    w = numpy_helper.to_array(weight).copy()
    w *= 60000 / np.abs(w).max()  # every weight still a float16 number
    weight.CopyFrom(numpy_helper.from_array(w, weight.name))
    return model


def test_a_variant_that_computes_non_finite_values_is_refused_even_unchecked(tmp_path):
    _, d, _ = trained_like_models(SMALL, seed=4)
    with pytest.raises(QualityError, match=r"^fp16 discriminator refused: it computes NaN or infinite values"):
        export_discriminator(d, tmp_path / "d.onnx", precision="fp16", steps=[_logits_beyond_float16],
                             checks=False, **FEW)
    assert files_in(tmp_path) == []
