"""Export through the Python API: what lands on disk, and that it computes what PyTorch does."""
from __future__ import annotations

import os
import stat

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from dcgan.export import OptionError, OutputError, SourceError, export_discriminator, export_generator
from dcgan.train.checkpoint import load_checkpoint, load_generator
from dcgan.train.model import Discriminator, ModelConfig, count_parameters

from export_helpers import files_in, trained_like_models


@pytest.fixture(scope="module")
def exported(small_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("export")
    g = export_generator(small_run, out / "g.onnx")
    d = export_discriminator(small_run / "checkpoint.pt", out / "d.onnx")
    return out, g, d


def _run(path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def _signature(path):
    m = onnx.load(str(path))
    dims = lambda v: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]  # noqa: E731
    return [(v.name, dims(v)) for v in m.graph.input], [(v.name, dims(v)) for v in m.graph.output]


def test_writes_one_self_contained_file_per_network(exported):
    out, g, d = exported
    # No side .data file, no temp file left over.
    assert files_in(out) == ["d.onnx", "g.onnx"]
    for report, path in ((g, out / "g.onnx"), (d, out / "d.onnx")):
        assert report.path == path and report.file_bytes == path.stat().st_size
        m = onnx.load(str(path), load_external_data=False)
        assert all(t.data_location == onnx.TensorProto.DEFAULT for t in m.graph.initializer)
        assert report.file_bytes > 4 * report.parameters  # the fp32 weights are inside


def test_the_file_gets_the_mode_a_plain_open_would_give(small_run, tmp_path):
    umask = os.umask(0o027)
    try:
        report = export_generator(small_run, tmp_path / "g.onnx", checks=False)
    finally:
        os.umask(umask)
    assert stat.S_IMODE(report.path.stat().st_mode) == 0o640  # not a private 0600 temp file


def test_an_output_that_cannot_be_a_model_file_is_refused_before_any_work(small_run, tmp_path):
    (tmp_path / "folder.onnx").mkdir()
    with pytest.raises(OutputError, match="is a folder"):
        export_generator(small_run, tmp_path / "folder.onnx")
    with pytest.raises(OutputError, match="must end in .onnx"):
        export_generator(small_run, tmp_path / "g.png")
    with pytest.raises(OutputError, match="does not exist"):
        export_generator(small_run, tmp_path / "missing" / "g.onnx")
    assert files_in(tmp_path) == ["folder.onnx"] and files_in(tmp_path / "folder.onnx") == []


def test_signature_has_named_inputs_and_a_symbolic_batch(exported):
    out, _, _ = exported
    assert _signature(out / "g.onnx") == ([("z", ["batch", 100, 1, 1])], [("image", ["batch", 3, 64, 64])])
    assert _signature(out / "d.onnx") == ([("image", ["batch", 3, 64, 64])], [("logit", ["batch"])])


def test_graphs_hold_only_the_expected_operators(exported):
    out, g, d = exported
    ops = lambda p: sorted({n.op_type for n in onnx.load(str(p)).graph.node})  # noqa: E731
    # BatchNorm folded away; the first layer is a Gemm over the batch (latent_gemm.py); the
    # Tanh takes its input through a Clip (portable.py)
    assert ops(out / "g.onnx") == ["Clip", "ConvTranspose", "Flatten", "Gemm", "Relu", "Reshape", "Tanh"]
    assert ops(out / "d.onnx") == ["Conv", "LeakyRelu", "Reshape"]
    assert g.node_count == 13 and g.op_counts == {
        "Flatten": 1, "Gemm": 1, "Reshape": 1, "ConvTranspose": 4, "Relu": 4, "Clip": 1, "Tanh": 1}
    assert d.node_count == 10


def test_onnx_generator_matches_pytorch_ema_generator_at_an_unchecked_batch_size(exported, small_run):
    out, g, _ = exported
    assert g.ema is True
    z = np.random.default_rng(7).standard_normal((3, 100, 1, 1), dtype=np.float32)
    with torch.no_grad():
        want = load_generator(small_run)(torch.from_numpy(z)).numpy()  # EMA weights by default
        raw = load_generator(small_run, ema=False)(torch.from_numpy(z)).numpy()
    got = _run(out / "g.onnx", z)
    assert got.shape == (3, 3, 64, 64)
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
    assert np.abs(got - raw).max() > 1e-3  # the EMA weights, not the raw ones
    assert got.min() >= -1 and got.max() <= 1


def test_onnx_discriminator_gives_one_logit_per_image(exported, small_run):
    out, _, d = exported
    x = np.random.default_rng(8).uniform(-1, 1, (4, 3, 64, 64)).astype(np.float32)
    net = Discriminator(ModelConfig(g_width=8, d_width=8))
    net.load_state_dict(load_checkpoint(small_run)["discriminator"])
    with torch.no_grad():
        want = net.eval()(torch.from_numpy(x)).reshape(-1).numpy()
    got = _run(out / "d.onnx", x)
    assert got.shape == (4,)
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


def test_report_carries_parity_figures_and_shapes(exported):
    _, g, d = exported
    for r in (g, d):
        assert set(r.parity) == {1, 5}
        assert all(0 <= v <= r.atol for v in r.parity.values())
        assert r.checked and r.bn_folded and r.opset == 18
    text = str(g)
    assert "z [batch, 100, 1, 1] -> image [batch, 3, 64, 64]" in text
    assert "opset 18" in text and "batch 5" in text and "KiB" in text


def test_raw_weights_on_request(small_run, tmp_path):
    r = export_generator(small_run, tmp_path / "g.onnx", ema=False, checks=False)
    z = np.random.default_rng(9).standard_normal((2, 100, 1, 1), dtype=np.float32)
    with torch.no_grad():
        want = load_generator(small_run, ema=False)(torch.from_numpy(z)).numpy()
    np.testing.assert_allclose(_run(tmp_path / "g.onnx", z), want, atol=1e-5, rtol=0)
    assert r.ema is False and not r.checked and r.parity == {}


def test_requiring_ema_from_a_checkpoint_without_it_is_refused(small_run_no_ema, tmp_path):
    with pytest.raises(SourceError, match="no EMA"):
        export_generator(small_run_no_ema, tmp_path / "g.onnx", ema=True)
    assert files_in(tmp_path) == []
    # Default: falls back to the raw weights and says so.
    assert export_generator(small_run_no_ema, tmp_path / "g.onnx").ema is False


def test_module_source_is_exported_without_changing_its_mode(tmp_path):
    g, d, _ = trained_like_models()
    g.train()
    r = export_generator(g, tmp_path / "g.onnx")
    assert g.training  # the caller's module is not switched to eval
    assert r.metadata["checkpoint_sha256"] is None and r.metadata["ema"] is None
    with pytest.raises(SourceError, match="expected a Generator"):
        export_generator(d, tmp_path / "x.onnx")


def test_bn_latents_replace_stale_batchnorm_statistics_on_a_copy(tmp_path):
    g, _, _ = trained_like_models()
    z = torch.randn(256, g.cfg.latent_dim, 1, 1, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        batch_stats = g.train()(z).numpy()  # what train-mode BatchNorm draws
    g.eval()
    bns = [m for m in g.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for m in bns:  # statistics that no longer describe the weights, as after a fast-moving run
        m.running_mean.fill_(3.0)
        m.running_var.fill_(50.0)
    stale = export_generator(g, tmp_path / "stale.onnx")
    fresh = export_generator(g, tmp_path / "fresh.onnx", bn_latents=512)
    assert all(float(m.running_var.mean()) == 50.0 for m in bns)  # the caller's module is untouched
    assert stale.metadata["bn_statistics_latents"] == 0
    assert fresh.metadata["bn_statistics_latents"] == 512
    assert max(fresh.parity.values()) <= 1e-4  # checked against the recomputed network
    err_stale = np.abs(_run(stale.path, z.numpy()) - batch_stats).mean()
    err_fresh = np.abs(_run(fresh.path, z.numpy()) - batch_stats).mean()
    assert err_fresh < 0.2 * err_stale, (err_fresh, err_stale)
    with pytest.raises(OptionError, match="bn_latents must be 0 or more"):
        export_generator(g, tmp_path / "x.onnx", bn_latents=-1)


def test_unfolded_export_keeps_batchnorm_and_still_matches(small_run, tmp_path):
    r = export_generator(small_run, tmp_path / "g.onnx", fold_bn=False)
    assert r.op_counts.get("BatchNormalization") == 4 and not r.bn_folded
    assert max(r.parity.values()) <= 1e-4


@pytest.mark.slow
def test_default_architecture_export(tmp_path):
    cfg = ModelConfig()
    g, _, _ = trained_like_models(cfg)
    assert 3.5e6 < count_parameters(g) < 3.7e6
    r = export_generator(g, tmp_path / "model.onnx", ema=True)
    assert r.op_counts == {"Flatten": 1, "Gemm": 1, "Reshape": 1, "ConvTranspose": 4, "Relu": 4,
                           "Clip": 1, "Tanh": 1}
    assert set(r.parity) == {1, 5} and max(r.parity.values()) <= 1e-4
    # One file holding all fp32 weights (4 bytes each) plus a little graph and metadata.
    assert 4 * r.parameters < r.file_bytes < 4 * r.parameters + 64 * 1024
    assert files_in(tmp_path) == ["model.onnx"]
