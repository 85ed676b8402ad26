"""Grey and RGBA generators of other sizes, as dcgan-gen samples and writes them: every output
format, alpha in each, ranking, and models whose metadata and graph disagree."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from runtime_fixtures import DISC, DISC_RGBA, GEN_GREY, GEN_RGBA

from dcgan.core.images import composite, make_grid, picture_grid, premultiply, unpremultiply
from dcgan.runtime import Discriminator, Generator
from dcgan.runtime.cli import main
from dcgan.runtime.errors import SignatureError
from dcgan.runtime.model_file import load_model


def gen(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def rgba():
    return Generator.load(GEN_RGBA, provider="cpu", threads=1)


def pixels(path) -> tuple[str, np.ndarray]:
    with Image.open(path) as im:
        return im.mode, np.asarray(im)


def test_the_generators_say_their_shape_and_alpha(rgba):
    grey = Generator.load(GEN_GREY, provider="cpu", threads=1)
    assert rgba.image_shape == (32, 32, 4) and rgba.info.alpha == "premultiplied"
    assert grey.image_shape == (128, 128, 1) and grey.info.alpha is None
    assert grey.sample(2).shape == (2, 128, 128, 1)


def test_rgba_images_are_premultiplied_with_colour_clamped_to_alpha(rgba):
    images = rgba.sample(16, seed=0)
    assert (images[..., :3] <= images[..., 3:]).all()
    alpha = images[..., 3]
    assert alpha.min() < 64 and alpha.max() > 192  # transparency and opacity both drawn


def test_png_grids_and_seed_files_hold_straight_alpha_and_transparent_gaps(rgba, tmp_path):
    r = gen("--model", GEN_RGBA, "--n", 9, "--nrow", 3, "--out", tmp_path / "g.png")
    assert r.exit_code == 0, r.stderr
    mode, grid = pixels(tmp_path / "g.png")
    images = rgba.sample(9)
    assert mode == "RGBA" and np.array_equal(grid, picture_grid(images, nrow=3))
    assert grid[:2].max() == 0  # a gap: fully transparent
    assert gen("--model", GEN_RGBA, "--seeds", "0-2", "--out-dir", tmp_path / "d").exit_code == 0
    for s in range(3):
        mode, one = pixels(tmp_path / "d" / f"seed{s:06d}.png")
        assert mode == "RGBA" and np.array_equal(one, unpremultiply(images[s]))


def test_npy_holds_straight_alpha_that_premultiplies_back_exactly(rgba, tmp_path):
    r = gen("--model", GEN_RGBA, "--n", 70, "--batch-size", 16, "--out", tmp_path / "s.npy")
    assert r.exit_code == 0, r.stderr
    stored, images = np.load(tmp_path / "s.npy"), rgba.sample(70)
    assert stored.shape == (70, 32, 32, 4) and np.array_equal(stored, unpremultiply(images))
    assert np.array_equal(premultiply(stored), images)


def test_webp_keeps_alpha_and_jpeg_is_composited_over_white_and_says_so(rgba, tmp_path):
    images = rgba.sample(4)
    flat = picture_grid(images, nrow=4)
    assert gen("--model", GEN_RGBA, "--n", 4, "--out", tmp_path / "g.webp").exit_code == 0
    mode, webp = pixels(tmp_path / "g.webp")
    assert mode == "RGBA" and np.array_equal(webp[..., 3], flat[..., 3])  # alpha kept losslessly
    r = gen("--model", GEN_RGBA, "--n", 4, "--out", tmp_path / "g.jpg")
    assert r.exit_code == 0 and "RGBA composited over white (JPEG keeps no alpha" in r.stderr
    mode, jpeg = pixels(tmp_path / "g.jpg")
    over_white = composite(make_grid(images, nrow=4), (255, 255, 255))
    over_black = make_grid(images, nrow=4)[..., :3]
    # Noise-like tiles lose detail to JPEG's chroma subsampling; their colour stays.
    assert mode == "RGB" and abs(jpeg.mean() - over_white.mean()) < 2 < abs(jpeg.mean() - over_black.mean())
    assert jpeg[:2].mean() > 245  # the gaps are white, not black


def test_a_gif_walk_of_rgba_is_composited_over_white(rgba, tmp_path):
    r = gen("--model", GEN_RGBA, "--interpolate", "3,4", "--steps", 3, "--out", tmp_path / "w.gif")
    assert r.exit_code == 0 and "GIF keeps no alpha" in r.stderr
    with Image.open(tmp_path / "w.gif") as im:
        assert im.n_frames == 3 and "transparency" not in im.info
        first = np.asarray(im.convert("RGB")).astype(int)
    want = composite(rgba.sample(1, seed=3)[0], (255, 255, 255))
    assert np.abs(first - want).mean() < 6  # GIF's palette of 256 colours


def test_grey_models_write_grey_pngs_and_one_channel_npy(tmp_path):
    grey = Generator.load(GEN_GREY, provider="cpu", threads=1)
    assert gen("--model", GEN_GREY, "--n", 3, "--out", tmp_path / "g.png").exit_code == 0
    mode, grid = pixels(tmp_path / "g.png")
    assert mode == "L" and np.array_equal(grid, picture_grid(grey.sample(3))[..., 0])
    assert gen("--model", GEN_GREY, "--n", 3, "--out", tmp_path / "g.npy").exit_code == 0
    assert np.array_equal(np.load(tmp_path / "g.npy"), grey.sample(3))


def test_ranking_feeds_the_discriminator_the_premultiplied_images(rgba, tmp_path):
    r = gen("--model", GEN_RGBA, "--rank-with", DISC_RGBA, "--n", 3, "--oversample", 4,
            "--out-dir", tmp_path / "best")
    assert r.exit_code == 0, r.stderr
    manifest = json.loads(next((tmp_path / "best").glob("manifest-*.json")).read_text())
    d = Discriminator.load(DISC_RGBA, provider="cpu", threads=1)
    seeds = [int(s) for s in manifest["images"]]
    images = rgba.sample_seeds(seeds)
    logged = [manifest["images"][str(s)]["logit"] for s in seeds]
    np.testing.assert_allclose(logged, d.score(images), atol=1e-5)
    assert not np.allclose(logged, d.score(unpremultiply(images)), atol=1e-3)


def test_a_discriminator_of_another_shape_is_refused_before_sampling(tmp_path):
    r = gen("--model", GEN_RGBA, "--rank-with", DISC, "--n", 2, "--out", tmp_path / "b.png")
    assert r.exit_code == 1 and r.stderr.count("\n") == 1
    assert r.stderr.endswith("takes images [N, 3, 64, 64], the generator makes [N, 4, 32, 32]\n")
    assert list(tmp_path.iterdir()) == []


def _with_metadata_edit(src, tmp_path, old: bytes, new: bytes):
    """A copy of ``src`` whose metadata text has ``old`` replaced by ``new`` (same length, so the
    protobuf stays valid)."""
    data = src.read_bytes()
    assert len(old) == len(new) and data.count(old) == 1
    path = tmp_path / src.name
    path.write_bytes(data.replace(old, new))
    return path


def test_metadata_that_names_another_size_than_the_graph_is_refused_in_one_line(tmp_path):
    lying = _with_metadata_edit(GEN_RGBA, tmp_path, b'"image_size": 32', b'"image_size": 64')
    r = gen("--model", lying, "--n", 2, "--out", tmp_path / "g.png")
    assert r.exit_code == 1 and r.stderr.count("\n") == 1
    assert ("metadata does not match the graph: metadata 64x64 RGBA (premultiplied alpha) images "
            "[N, 4, 64, 64], graph image: float [batch, 4, 32, 32]") in r.stderr
    d_lying = _with_metadata_edit(DISC_RGBA, tmp_path, b'"image_size": 32', b'"image_size": 64')
    with pytest.raises(SignatureError, match="metadata does not match the graph"):
        Discriminator.load(d_lying, provider="cpu")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["disc_rgba32.onnx", "gen_rgba32.onnx"]


def test_metadata_that_names_other_channels_than_the_graph_is_refused(tmp_path):
    model = load_model(GEN_GREY, "cpu")
    model.metadata_text = model.metadata_text.replace('"channels": 1', '"channels": 3')
    with pytest.raises(SignatureError, match=r"metadata 128x128 RGB images \[N, 3, 128, 128\]"):
        Generator(model)


def test_a_4_channel_graph_without_metadata_is_refused():
    model = load_model(GEN_RGBA, "cpu")
    model.metadata_text = None
    with pytest.raises(SignatureError, match="has no metadata to say how they hold alpha"):
        Generator(model)


def test_info_shows_size_channels_and_alpha():
    r = gen("--info", "--model", GEN_RGBA)
    assert r.exit_code == 0 and "images:     32x32 RGBA (premultiplied alpha), 4 channels\n" in r.stdout
    assert '"alpha": "premultiplied"' in r.stdout
    r = gen("--info", "--model", GEN_GREY)
    assert "images:     128x128 grey, 1 channel, no alpha\n" in r.stdout
    r = gen("--info", "--model", DISC_RGBA)
    assert "images:     32x32 RGBA (premultiplied alpha), 4 channels" in r.stdout
