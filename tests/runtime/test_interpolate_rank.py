"""Latent walks (--interpolate) and discriminator ranking (--rank-with)."""
from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner
from PIL import Image
from runtime_fixtures import DISC, GEN

from dcgan.runtime import Discriminator
from dcgan.runtime.cli import main
from dcgan.runtime.discriminator import rank_samples
from dcgan.core.latents import interpolation_path, interpolation_rows, slerp


def gen_cli(*args):
    return CliRunner().invoke(main, ["--model", str(GEN), *map(str, args)])


def test_slerp_ends_exactly_at_both_latents_and_keeps_the_norm():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(100).astype(np.float32), rng.standard_normal(100).astype(np.float32)
    assert np.array_equal(slerp(a, b, 0.0), a) and np.array_equal(slerp(a, b, 1.0), b)
    mid_norm = np.linalg.norm(slerp(a, b, 0.5))
    lerp_norm = np.linalg.norm((a + b) / 2)
    # a straight line sags towards the origin; the spherical path does not
    assert mid_norm > 0.95 * min(np.linalg.norm(a), np.linalg.norm(b)) > lerp_norm


def test_slerp_of_parallel_vectors_does_not_divide_by_zero():
    a = np.ones(4, np.float32)
    assert np.allclose(slerp(a, 2 * a, 0.5), 1.5 * a)


def test_path_joins_rows_without_repeating_shared_ends():
    rows = interpolation_rows([1, 2, 3], 4, 8)
    path = interpolation_path([1, 2, 3], 4, 8)
    assert rows.shape == (2, 4, 8) and path.shape == (7, 8)
    assert np.array_equal(path[3], rows[1, 0])


def test_interpolation_grid_has_a_row_per_pair_from_seed_to_seed(tmp_path, gen):
    out = tmp_path / "walk.png"
    r = gen_cli("--interpolate", "1,2,3", "--steps", 4, "--out", out)
    assert r.exit_code == 0, r.stderr
    grid = np.asarray(Image.open(out))
    assert grid.shape == (2 * 66 + 2, 4 * 66 + 2, 3)
    tile = lambda r_, c: grid[2 + r_ * 66 : 66 + r_ * 66, 2 + c * 66 : 66 + c * 66]  # noqa: E731
    assert np.array_equal(tile(0, 0), gen.sample(1, seed=1)[0])
    assert np.array_equal(tile(0, 3), gen.sample(1, seed=2)[0])
    assert np.array_equal(tile(1, 3), gen.sample(1, seed=3)[0])
    assert not np.array_equal(tile(0, 1), tile(0, 0))


def test_interpolation_gif_animates_the_whole_walk(tmp_path):
    out = tmp_path / "walk.gif"
    assert gen_cli("--interpolate", "5,9,5", "--steps", 5, "--out", out).exit_code == 0
    with Image.open(out) as im:
        assert im.n_frames == 2 * 4 + 1 and im.size == (64, 64)


def test_ranking_keeps_the_best_scored_of_the_candidates(tmp_path, gen):
    out = tmp_path / "best.npy"
    r = gen_cli("--rank-with", DISC, "--oversample", 3, "--n", 4, "--seed", 10, "--out", out)
    assert r.exit_code == 0, r.stderr
    candidates = gen.sample(12, seed=10)
    scores = Discriminator.load(DISC, "cpu").score(candidates)
    best = np.argsort(-scores, kind="stable")[:4]
    assert np.array_equal(np.load(out), candidates[best])


def test_ranking_does_not_depend_on_chunking(gen):
    d = Discriminator.load(DISC, "cpu")
    a = rank_samples(gen, d, range(0, 20), 5, batch_size=3)
    b = rank_samples(gen, d, range(0, 20), 5, batch_size=64)
    assert a[0] == b[0] and np.array_equal(a[1], b[1])
    assert list(a[2]) == sorted(a[2], reverse=True)


def test_ranked_folder_records_ranks_and_logits(tmp_path):
    r = gen_cli("--rank-with", DISC, "--oversample", 2, "--n", 3, "--out-dir", tmp_path)
    assert r.exit_code == 0, r.stderr
    manifest = json.loads((tmp_path / "manifest-ranked000000-000005.json").read_text())
    ranks = sorted(manifest["images"].values(), key=lambda v: v["rank"])
    assert [v["rank"] for v in ranks] == [0, 1, 2]
    assert ranks[0]["logit"] >= ranks[1]["logit"] >= ranks[2]["logit"]
    assert len(list(tmp_path.glob("seed*.png"))) == 3


def test_an_interrupted_ranked_folder_job_can_run_again(tmp_path, monkeypatch):
    from dcgan.runtime import jobs

    real_save, saved = jobs.save_image, []

    def dies_after_one(img, path):
        if saved:
            raise KeyboardInterrupt
        saved.append(path)
        real_save(img, path)

    args = ["--rank-with", DISC, "--n", 3, "--oversample", 4, "--out-dir", tmp_path]
    monkeypatch.setattr(jobs, "save_image", dies_after_one)
    assert gen_cli(*args).exit_code == 130
    assert len([p for p in tmp_path.iterdir() if p.suffix == ".png"]) == 1
    monkeypatch.setattr(jobs, "save_image", real_save)
    r = gen_cli(*args)
    assert r.exit_code == 0, r.stderr
    assert len([p for p in tmp_path.iterdir() if p.suffix == ".png"]) == 3


def test_a_discriminator_of_another_checkpoint_is_pointed_out(monkeypatch, tmp_path):
    from dcgan.core.metadata import ModelInfo

    from types import SimpleNamespace

    def info(role="generator", **raw):
        return ModelInfo(role, 8, 64, 3, "x", "y", raw=raw)

    own = "a" * 64
    d = SimpleNamespace(model=SimpleNamespace(metadata=lambda: info("discriminator", checkpoint_sha256=own)))
    assert Discriminator.pairs_with(d, info(checkpoint_sha256=own)) is True
    assert Discriminator.pairs_with(d, info(checkpoint_sha256="0" * 64)) is False
    assert Discriminator.pairs_with(d, info()) is None  # a model that does not say: no claim
    assert Discriminator.load(DISC).pairs_with(info(checkpoint_sha256=own)) is None  # fixture: null

    monkeypatch.setattr(Discriminator, "pairs_with", lambda self, info: False)
    r = gen_cli("--rank-with", DISC, "--n", 2, "--oversample", 2, "--out", tmp_path / "best.png")
    assert "another checkpoint than the generator" in r.stderr
