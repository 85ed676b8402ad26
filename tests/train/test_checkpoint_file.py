"""checkpoint.pt survives a failure in the middle of being rewritten."""
from __future__ import annotations

import pytest
import torch

from dcgan.train import checkpoint as ckpt_mod
from dcgan.train.checkpoint import atomic_save, load_checkpoint, make_checkpoint
from dcgan.train.model import ModelConfig, build_models


def small_checkpoint(epoch: int) -> dict:
    cfg = ModelConfig(latent_dim=8, g_width=4, d_width=4)
    g, d = build_models(cfg)
    return make_checkpoint(cfg, g, d, epoch=epoch, step=epoch * 10)


def test_a_failed_save_leaves_the_previous_checkpoint_whole(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    atomic_save(small_checkpoint(epoch=1), path)
    before = path.read_bytes()

    real_save = torch.save

    def save_half_then_die(obj, f):
        real_save(obj, f)
        f.truncate(f.tell() // 2)  # a torn file, as a kill or a full disk would leave
        raise KeyboardInterrupt  # the kind of interruption a second Ctrl-C raises

    monkeypatch.setattr(ckpt_mod.torch, "save", save_half_then_die)
    with pytest.raises(KeyboardInterrupt):
        atomic_save(small_checkpoint(epoch=2), path)
    monkeypatch.undo()

    assert path.read_bytes() == before
    assert load_checkpoint(path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]  # no temp file left behind


def test_checkpoint_loads_with_weights_only(tmp_path):
    atomic_save(small_checkpoint(epoch=3), tmp_path / "checkpoint.pt")
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["step"] == 30
