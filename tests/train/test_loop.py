"""The training loop: run folder contents, exact resume, interruption, non-finite losses, EMA."""
from __future__ import annotations

import json
import os
import signal

import numpy as np
import pytest
import torch
from PIL import Image

from dcgan.train.checkpoint import load_checkpoint
from dcgan.train.config import TrainConfig
from dcgan.train.errors import NonFiniteLossError
from dcgan.train.loop import train
from dcgan.train.run_folder import open_run_folder

N_IMAGES, BATCH = 52, 8  # 6 steps per epoch; the last 4 images are dropped each epoch


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).integers(0, 256, (N_IMAGES, 64, 64, 3), dtype=np.uint8)


def small(**kw) -> TrainConfig:
    base = dict(data="fake", batch_size=BATCH, epochs=2, g_width=4, d_width=4, latent_dim=8,
                lr=2e-3, device="cpu", seed=7, log_every=2)
    base.update(kw)
    return TrainConfig(**base)


def run(images, out, cfg, checkpoint=None, **kw):
    out = open_run_folder(out, resume=checkpoint is not None)
    return train(images, cfg, out, dataset={"name": "test", "fingerprint": "f"},
                 checkpoint=checkpoint, progress=False, **kw)


def assert_same_state(a: dict, b: dict) -> None:
    for key in ("generator", "discriminator", "generator_ema"):
        if a[key] is None:
            assert b[key] is None
            continue
        for name, t in a[key].items():
            assert torch.equal(t, b[key][name]), f"{key}.{name} differs"
    for key in ("opt_g", "opt_d"):
        for pid, st in a[key]["state"].items():
            for name, t in st.items():
                assert torch.equal(t, b[key]["state"][pid][name]), f"{key}[{pid}].{name} differs"
    assert (a["epoch"], a["step"]) == (b["epoch"], b["step"])
    strip = lambda h: [{k: v for k, v in r.items() if k not in ("seconds", "images_per_sec")}
                       for r in h]
    assert strip(a["history"]) == strip(b["history"])


def test_run_folder_holds_every_output(images, tmp_path):
    result = run(images, tmp_path / "run", small())
    out = tmp_path / "run"
    assert result.status == "completed" and result.epoch == 2
    assert result.step == 2 * (N_IMAGES // BATCH)  # partial batches dropped
    lines = (out / "metrics.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["epoch"] for r in rows] == [1, 2]
    for r in rows:
        assert 0 <= r["D(x)"] <= 1 and 0 <= r["D(G(z))"] <= 1
        assert r["images_per_sec"] > 0 and r["loss_D"] > 0 and r["loss_G"] > 0
    grids = sorted(p.name for p in (out / "samples").iterdir())
    assert grids == ["epoch_0001.png", "epoch_0002.png"]
    with Image.open(out / "samples" / "epoch_0002.png") as im:
        assert im.size == (7 * 64 + 8 * 2, 3 * 64 + 4 * 2) and im.mode == "RGB"  # white padding
        assert im.getpixel((0, 0)) == im.getpixel((66, 100)) == (255, 255, 255)
    with Image.open(out / "loss.png") as im:
        assert im.format == "PNG"
    # plain types only: the strict loader accepts it
    ckpt = torch.load(out / "checkpoint.pt", weights_only=True)
    assert ckpt["epoch"] == 2 and ckpt["history"] == rows
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_same_seed_same_weights_and_different_seed_differs(images, tmp_path):
    run(images, tmp_path / "a", small(epochs=1))
    run(images, tmp_path / "b", small(epochs=1))
    run(images, tmp_path / "c", small(epochs=1, seed=8))
    a, b, c = (load_checkpoint(tmp_path / n) for n in "abc")
    assert_same_state(a, b)
    assert not torch.equal(a["generator"]["net.0.0.weight"], c["generator"]["net.0.0.weight"])


@pytest.mark.parametrize("extras", [{}, {"flip": True, "ema": True, "ema_decay": 0.9,
                                    "diffaugment": "color,translation,cutout"}])
def test_resume_at_epoch_end_equals_straight_run(images, tmp_path, extras):
    run(images, tmp_path / "straight", small(epochs=2, **extras))
    run(images, tmp_path / "split", small(epochs=1, **extras))
    first = load_checkpoint(tmp_path / "split")
    run(images, tmp_path / "split", small(epochs=2, **extras), checkpoint=first)
    assert_same_state(load_checkpoint(tmp_path / "straight"), load_checkpoint(tmp_path / "split"))


def test_signal_mid_epoch_saves_and_resume_is_exact(images, tmp_path):
    run(images, tmp_path / "straight", small(epochs=2, ema=True, flip=True))

    def interrupt(step, g, d):
        if step == 8:  # the middle of epoch 2
            os.kill(os.getpid(), signal.SIGTERM)

    cfg = small(epochs=2, ema=True, flip=True)
    result = run(images, tmp_path / "cut", cfg, on_step=interrupt)
    assert result.status == "interrupted" and result.signum == signal.SIGTERM
    assert (result.epoch, result.step) == (1, 8)
    saved = load_checkpoint(tmp_path / "cut")
    assert (saved["epoch"], saved["step"]) == (1, 8) and saved["partial"] is not None
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers restored

    run(images, tmp_path / "cut", cfg, checkpoint=saved)
    assert_same_state(load_checkpoint(tmp_path / "straight"), load_checkpoint(tmp_path / "cut"))


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(images, tmp_path):
    run(images, tmp_path / "run", small(epochs=1))
    path = tmp_path / "run" / "checkpoint.pt"
    before = path.read_bytes()

    def poison(step, g, d):
        if step == 8:
            with torch.no_grad():
                next(g.parameters()).fill_(float("nan"))

    with pytest.raises(NonFiniteLossError, match=r"non-finite.*epoch 2.*epoch 1, step 6"):
        run(images, tmp_path / "run", small(epochs=3), checkpoint=load_checkpoint(path),
            on_step=poison)
    assert path.read_bytes() == before
    assert load_checkpoint(path)["epoch"] == 1


def test_ema_follows_the_ramped_recurrence_and_gets_its_own_bn_statistics(images, tmp_path):
    decay = 0.8
    steps = []

    def record(step, g, d):
        steps.append({k: v.detach().clone() for k, v in g.named_parameters()})

    cfg = small(epochs=1, ema=True, ema_decay=decay)
    # the initial generator: rebuilt the way the loop builds it
    from dcgan.train.model import Generator, build_models, recompute_batchnorm_stats
    from dcgan.train.run_state import ema_decay_at, seed_for
    torch.manual_seed(cfg.seed)
    g_init, _ = build_models(cfg.model, cfg.init)
    expected = {k: v.detach().clone() for k, v in g_init.named_parameters()}

    run(images, tmp_path / "run", cfg, on_step=record)
    ema = load_checkpoint(tmp_path / "run")["generator_ema"]
    for t, params in enumerate(steps):
        d = ema_decay_at(decay, t)
        for k, v in params.items():
            expected[k] = d * expected[k] + (1 - d) * v
    assert ema_decay_at(decay, 0) == pytest.approx(0.1)  # the ramp starts low
    for k in expected:
        torch.testing.assert_close(ema[k], expected[k], rtol=1e-5, atol=1e-6, msg=k)
    assert not torch.equal(ema["net.0.0.weight"], steps[-1]["net.0.0.weight"])

    # The saved BN statistics are those of the averaged weights, not of the trained generator.
    g = Generator(cfg.model)
    g.load_state_dict(ema)
    recompute_batchnorm_stats(g, cfg.latent_dim, samples=256, batch_size=128,
                              seed=seed_for(cfg.seed, "bn_stats"))
    for k, v in g.state_dict().items():
        torch.testing.assert_close(ema[k], v, msg=k)


def test_recomputed_bn_statistics_make_eval_mode_match_train_mode():
    """Statistics left over from other weights wash eval-mode images out to flat grey."""
    from dcgan.train.model import ModelConfig, build_models, recompute_batchnorm_stats
    torch.manual_seed(0)
    g, _ = build_models(ModelConfig(latent_dim=8, g_width=8, d_width=4), "dcgan")
    for m in g.modules():  # statistics of some other network
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_var.fill_(25.0)
    z = torch.randn(64, 8, 1, 1)
    with torch.no_grad():
        train_std = g.train()(z).std(0).mean()
        stale_std = g.eval()(z).std(0).mean()
        recompute_batchnorm_stats(g, 8, samples=1024, batch_size=128)
        fresh_std = g(z).std(0).mean()
    assert not g.training
    assert stale_std < 0.5 * train_std
    assert fresh_std == pytest.approx(float(train_std), rel=0.15)


@pytest.mark.parametrize("layout", [False, True])
def test_bf16_autocast_and_both_layouts_train(images, tmp_path, layout):
    result = run(images, tmp_path / "run", small(epochs=1, amp=True, channels_last=layout))
    ckpt = load_checkpoint(tmp_path / "run")
    assert result.status == "completed" and np.isfinite(result.last["loss_D"])
    assert all(t.dtype == torch.float32 for t in ckpt["generator"].values() if t.is_floating_point())


def test_swd_evaluation_is_logged_every_n_epochs_and_leaves_training_alone(images, tmp_path):
    run(images, tmp_path / "eval", small(epochs=2, eval_every=2, eval_samples=32, ema=True))
    run(images, tmp_path / "plain", small(epochs=2, eval_every=0, ema=True))
    rows = [json.loads(x) for x in (tmp_path / "eval" / "metrics.jsonl").read_text().splitlines()]
    assert "swd" not in rows[0]
    last = rows[1]
    assert set(last["swd_levels"]) == {"64", "32", "16", "mean"}
    assert last["swd_samples"] == 32
    # an untrained 4-channel generator is far from the data; two halves of the data are close
    assert 0 < last["swd_floor"] < last["swd"]
    with_eval, without = load_checkpoint(tmp_path / "eval"), load_checkpoint(tmp_path / "plain")
    for ckpt in (with_eval, without):
        ckpt["history"] = [{k: v for k, v in r.items() if not k.startswith("swd")}
                           for r in ckpt["history"]]
    assert_same_state(with_eval, without)
