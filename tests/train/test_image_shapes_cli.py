"""dcgan-train --image-size and --channels: refused values, a 32x32 RGBA run whose pictures keep
real alpha, a grey run, and runs that resume with their stored shape and refuse another."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dcgan.train.checkpoint import load_checkpoint, load_generator
from test_stored_options import files_of
from test_train_cli import SMALL, assert_one_line_error, invoke, without


@pytest.mark.parametrize("args, fragment", [
    (["--image-size", "48"], "--image-size must be one of 32, 64, 128, 256, got 48"),
    (["--image-size", "512"], "--image-size must be one of 32, 64, 128, 256, got 512"),
    (["--image-size", "16"], "--image-size must be one of 32, 64, 128, 256, got 16"),
    (["--image-size", "big"], "--image-size"),
    (["--channels", "2"], "--channels must be one of 1, 3, 4, got 2"),
    (["--channels", "0"], "--channels must be one of 1, 3, 4, got 0"),
    (["--channels", "4", "--background", "0,0,0"], "--background applies to --channels 1 and 3"),
])
def test_other_sizes_and_channel_counts_are_one_line_errors(tmp_path, args, fragment):
    result = invoke(*SMALL, *args, "--out", tmp_path / "run", "--cache-dir", tmp_path / "cache")
    assert_one_line_error(result, fragment)
    assert not (tmp_path / "run").exists() and not (tmp_path / "cache").exists()


def sprite_folder(folder: Path, count: int = 16) -> Path:
    """RGBA PNGs like the sprites: a coloured disc, its edge half-transparent, on nothing."""
    folder.mkdir(parents=True)
    yy, xx = np.mgrid[0:40, 0:40]
    for i in range(count):
        r = np.hypot(yy - 20, xx - 20 + i % 5)
        straight = np.zeros((40, 40, 4), np.uint8)
        straight[..., :3] = (40 + 12 * i, 200 - 9 * i, 90)
        straight[..., 3] = np.where(r < 10 + i % 4, 255, np.where(r < 13 + i % 4, 128, 0))
        Image.fromarray(straight, "RGBA").save(folder / f"{i:02d}.png")
    return folder


@pytest.fixture(scope="module")
def rgba_run(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("rgba")
    out = base / "run"
    result = invoke(*without(SMALL, "--data"), "--data", sprite_folder(base / "sprites"),
                    "--cache-dir", base / "cache", "--image-size", "32", "--channels", "4",
                    "--epochs", "1", "--eval-every", "1", "--eval-samples", "16", "--out", out)
    assert result.exit_code == 0, result.output
    return out


def test_a_32x32_rgba_run_writes_pictures_with_real_alpha(rgba_run):
    with Image.open(rgba_run / "samples" / "epoch_0001.png") as im:
        assert im.mode == "RGBA" and im.size == (7 * 34 + 2, 3 * 34 + 2)
        grid = np.asarray(im)
    alpha = grid[..., 3]
    assert (alpha[:2] == 0).all() and (alpha[:, :2] == 0).all()  # transparent gaps
    tiles = alpha[2:-2, 2:-2]
    assert (tiles == 0).mean() < 0.9 and len(np.unique(tiles)) > 10  # alpha a network drew
    with Image.open(rgba_run / "preview.png") as im:
        assert im.mode == "RGB" and im.size == (7 * 34 + 2, 3 * 34 + 2)
    row = json.loads((rgba_run / "metrics.jsonl").read_text())
    assert row["swd"] > row["swd_floor"] > 0 and list(row["swd_levels"]) == ["32", "16", "mean"]


def test_size_channels_and_alpha_are_stored_for_everything_downstream(rgba_run):
    config = json.loads((rgba_run / "config.json").read_text())
    assert (config["image_size"], config["channels"], config["alpha"]) == (32, 4, "premultiplied")
    ckpt = load_checkpoint(rgba_run)
    assert (ckpt["config"]["image_size"], ckpt["config"]["channels"]) == (32, 4)
    assert ckpt["model"]["image_size"] == 32 and ckpt["model"]["channels"] == 4
    assert ckpt["model"]["alpha"] == "premultiplied"
    g = load_generator(rgba_run)
    assert g(torch.randn(2, 8, 1, 1)).shape == (2, 4, 32, 32)


def test_a_resumed_run_keeps_its_shape_and_refuses_another(rgba_run, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(rgba_run, out)
    before = files_of(out)
    for args, fragment in ((["--image-size", "64"], "--image-size 64"),
                           (["--channels", "3"], "--channels 3")):
        result = invoke("--resume", "--out", out, "--epochs", "2", *args)
        assert_one_line_error(result, fragment, "the architecture of a run is fixed")
    assert files_of(out) == before
    resumed = invoke("--resume", "--out", out, "--epochs", "2", "--eval-every", "0")
    assert resumed.exit_code == 0, resumed.output
    with Image.open(out / "samples" / "epoch_0002.png") as im:
        assert im.mode == "RGBA" and im.size == (7 * 34 + 2, 3 * 34 + 2)


def test_resume_refuses_a_stored_size_of_another_shape(rgba_run, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(rgba_run, out)
    config = json.loads((out / "config.json").read_text())
    (out / "config.json").write_text(json.dumps({**config, "image_size": 48}))
    before = files_of(out)
    assert_one_line_error(invoke("--resume", "--out", out, "--epochs", "2"),
                          str(out / "config.json"), "--image-size must be one of")
    assert files_of(out) == before


def test_a_grey_run_writes_grey_pictures(tmp_path):
    out = tmp_path / "run"
    result = invoke(*SMALL, "--channels", "1", "--image-size", "32", "--epochs", "1",
                    "--eval-every", "1", "--eval-samples", "16", "--out", out)
    assert result.exit_code == 0, result.output
    with Image.open(out / "samples" / "epoch_0001.png") as im:
        assert im.mode == "L" and im.size == (7 * 34 + 2, 3 * 34 + 2)
    assert not (out / "preview.png").exists()
    config = json.loads((out / "config.json").read_text())
    assert (config["channels"], config["alpha"]) == (1, None)


def test_the_loop_refuses_images_of_another_shape(tmp_path):
    from dcgan.train.config import TrainConfig
    from dcgan.train.errors import TrainError
    from dcgan.train.loop import train

    cfg = TrainConfig(data="fake", image_size=32, channels=4, batch_size=8, g_width=4,
                      d_width=4, latent_dim=8, device="cpu")
    with pytest.raises(TrainError, match=r"\(64, 64, 3\), the networks want \(32, 32, 4\)"):
        train(np.zeros((16, 64, 64, 3), np.uint8), cfg, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()
