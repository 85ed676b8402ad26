"""dcgan-score as a user runs it: tiny image folders and the committed tiny generator ONNX."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from dcgan.runtime.score import main
from dcgan.core import quality, swd
from dcgan.runtime.generator import Generator

GEN = Path(__file__).resolve().parents[1] / "fixtures" / "gen_tiny.onnx"


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DCGAN_CACHE", str(tmp_path / "cache"))  # never the user's ~/.cache


def write_folder(folder: Path, images: np.ndarray) -> Path:
    folder.mkdir(parents=True)
    for i, img in enumerate(images):
        Image.fromarray(img).save(folder / f"{i:03d}.png")
    return folder


def blobs(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:64, 0:64]
    out = np.full((n, 64, 64, 3), 255, np.uint8)
    for img in out:
        cy, cx, r = rng.uniform(16, 48), rng.uniform(16, 48), rng.uniform(6, 16)
        img[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = rng.integers(0, 256, 3)
    return out


@pytest.fixture
def real(tmp_path):
    images = blobs(12, seed=0)
    return images, write_folder(tmp_path / "real", images)


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_scores_an_image_folder_and_writes_json(real, tmp_path):
    real_images, real_dir = real
    fakes = blobs(10, seed=1)
    out = tmp_path / "score.json"
    result = invoke("--images", write_folder(tmp_path / "fake", fakes), "--data", real_dir,
                    "--pairs", 20, "--json", out)
    assert result.exit_code == 0, result.output
    for line in ("samples vs real", "real vs real (2 x 6)", "MS-SSIM diversity"):
        assert line in result.stdout
    assert "uniform noise" not in result.stdout
    written = json.loads(out.read_text())
    expected = quality.score(real_images, fakes, seed=0, pairs=20)  # PNG round trip is lossless
    for key in ("swd", "floor", "diversity", "resolutions", "n_real", "n_samples"):
        assert written[key] == expected[key]
    assert f"{written['swd']['mean']:.2f}" in result.stdout


def test_scores_a_model_with_the_noise_reference(real, tmp_path):
    real_images, real_dir = real
    out = tmp_path / "score.json"
    result = invoke("--model", GEN, "--data", real_dir, "--n", 8, "--seed", 3, "--pairs", 10,
                    "--noise", "--provider", "cpu", "--json", out)
    assert result.exit_code == 0, result.output
    assert "uniform noise vs real" in result.stdout and "seeds 3-10" in result.stdout
    samples = Generator.load(GEN, provider="cpu").sample(8, seed=3)
    written = json.loads(out.read_text())
    assert written["swd"] == quality.score(real_images, samples, seed=3, pairs=10)["swd"]
    assert written["n_samples"] == 8 and set(written["noise"]) == {"64", "32", "16", "mean"}


def test_a_large_folder_is_subsampled_to_n(real, tmp_path):
    _, real_dir = real
    out = tmp_path / "s.json"
    result = invoke("--images", real_dir, "--data", real_dir, "--n", 5, "--pairs", 5, "--json", out)
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["n_samples"] == 5 and "(5 of 12 images)" in result.stdout


@pytest.mark.parametrize("case", ["neither", "both", "no data", "not onnx", "json folder missing",
                                  "n too small", "one real image"])
def test_bad_input_is_one_line_and_a_non_zero_exit(real, tmp_path, case):
    _, real_dir = real
    bogus = tmp_path / "bogus.onnx"
    bogus.write_bytes(b"not a model")
    one = write_folder(tmp_path / "one", blobs(1, seed=5))
    args = {
        "neither": ["--data", real_dir],
        "both": ["--model", GEN, "--images", real_dir, "--data", real_dir],
        "no data": ["--images", real_dir, "--data", tmp_path / "missing"],
        "not onnx": ["--model", bogus, "--data", real_dir],
        "json folder missing": ["--images", real_dir, "--data", real_dir,
                                "--json", tmp_path / "no" / "s.json"],
        "n too small": ["--images", real_dir, "--data", real_dir, "--n", 1],
        "one real image": ["--images", real_dir, "--data", one],
    }[case]
    result = invoke(*args)
    assert result.exit_code != 0
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("dcgan-score: error: ")
    assert not (tmp_path / "no").exists()


def test_runs_where_torch_cannot_be_imported(real, tmp_path):
    _, real_dir = real
    code = (
        "import sys\n"
        "for m in ('torch', 'torchvision', 'onnx'): sys.modules[m] = None\n"
        "from dcgan.runtime.score import main\n"
        f"main(['--model', {str(GEN)!r}, '--data', {str(real_dir)!r}, '--n', '4', '--pairs', '4',"
        " '--provider', 'cpu'])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "samples vs real" in done.stdout


def sprites(n: int, seed: int, size: int = 32) -> np.ndarray:
    """Straight-alpha RGBA discs on transparency, as sprite folders hold them."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    out = np.zeros((n, size, size, 4), np.uint8)
    for img in out:
        cy, cx, r = rng.uniform(8, size - 8, 2).tolist() + [rng.uniform(4, 8)]
        img[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = [*rng.integers(0, 256, 3), 255]
    return out


def test_an_rgba_model_is_scored_on_the_four_premultiplied_channels(tmp_path):
    from dcgan.core.images import premultiply
    from dcgan.data import load_dataset

    from runtime_fixtures import GEN_RGBA

    real_dir = write_folder(tmp_path / "sprites", sprites(12, seed=0))
    out = tmp_path / "score.json"
    result = invoke("--model", GEN_RGBA, "--data", real_dir, "--n", 8, "--pairs", 10,
                    "--provider", "cpu", "--json", out)
    assert result.exit_code == 0, result.output
    assert "32x32 RGBA (premultiplied alpha)" in result.stdout
    real = load_dataset(str(real_dir), image_size=32, channels=4)
    assert np.array_equal(real.images, premultiply(sprites(12, seed=0)))  # read at the model's channels
    samples = Generator.load(GEN_RGBA, provider="cpu").sample(8)  # clamped to alpha
    written = json.loads(out.read_text())
    assert written["swd"] == quality.score(real.images, samples, seed=0, pairs=10)["swd"]
    assert written["resolutions"] == [32, 16]


def test_an_rgba_sample_folder_is_read_at_the_size_and_channels_given(tmp_path):
    real_dir = write_folder(tmp_path / "sprites", sprites(12, seed=0))
    fake_dir = write_folder(tmp_path / "fake", sprites(6, seed=1))
    out = tmp_path / "s.json"
    result = invoke("--images", fake_dir, "--image-size", 32, "--channels", 4, "--data", real_dir,
                    "--pairs", 5, "--json", out)
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["resolutions"] == [32, 16]


@pytest.mark.parametrize("case", ["unreadable data", "channels with a model"])
def test_rgba_scoring_mistakes_are_one_line_and_write_nothing(tmp_path, case):
    from runtime_fixtures import GEN_RGBA

    broken = tmp_path / "broken"
    broken.mkdir()
    for i in range(3):
        (broken / f"{i}.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    args = {
        "unreadable data": ["--model", GEN_RGBA, "--data", broken, "--n", 4],
        "channels with a model": ["--model", GEN_RGBA, "--channels", 4, "--data", broken],
    }[case]
    result = invoke(*args, "--json", tmp_path / "s.json")
    assert result.exit_code != 0 and result.stdout == ""
    assert result.stderr.startswith("dcgan-score: error: ") and result.stderr.count("\n") == 1
    if case == "unreadable data":
        assert "read as 32x32 images of 4 channel(s) like the samples: none of the 3 image files" in result.stderr
    assert not (tmp_path / "s.json").exists()
