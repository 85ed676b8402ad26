"""The bundled models: found by name (--model pokemon-rgba) or by default, loaded from a folder
or a zipped install, and shipped trained, with their score, floor and recipe."""
from __future__ import annotations

import hashlib
import zipfile

import pytest
from click.testing import CliRunner
from PIL import Image
from runtime_fixtures import GEN, GEN_RGBA

from dcgan.runtime import Generator, model_file
from dcgan.runtime.cli import main
from dcgan.runtime.errors import ModelNotFoundError
from dcgan.runtime.model_file import BUNDLED_MODELS, DEFAULT_MODEL, bundled_model, bundled_name


@pytest.fixture
def two_bundled(monkeypatch):
    """The two bundled names resolve to the RGB and the RGBA fixture."""
    files = {"pokemon": GEN, "pokemon-rgba": GEN_RGBA}
    monkeypatch.setattr(model_file, "bundled_model", lambda name=DEFAULT_MODEL: files[name])
    return files


def test_no_model_means_the_default_bundled_model(bundled_is_fixture):
    g = Generator.load()
    assert g.model.bundled and g.sha256 == hashlib.sha256(GEN.read_bytes()).hexdigest()
    assert DEFAULT_MODEL == "pokemon" and BUNDLED_MODELS[DEFAULT_MODEL] == "dcgan-pokemon.onnx"


def test_a_bundled_name_loads_that_model(two_bundled):
    g = Generator.load("pokemon-rgba", provider="cpu")
    assert g.model.bundled and g.info.channels == 4 and g.info.alpha == "premultiplied"
    assert g.sha256 == hashlib.sha256(GEN_RGBA.read_bytes()).hexdigest()
    assert Generator.load("pokemon", provider="cpu").info.channels == 3


def test_a_file_of_that_name_is_a_path_not_the_bundled_model(two_bundled, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pokemon-rgba").write_bytes(GEN.read_bytes())
    assert bundled_name("pokemon-rgba") is None and bundled_name(None) == DEFAULT_MODEL
    g = Generator.load("pokemon-rgba", provider="cpu")
    assert not g.model.bundled and g.info.channels == 3


def test_an_unknown_name_lists_the_bundled_ones(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelNotFoundError, match=r"no model file at pokemon-rgb \(bundled models: "
                                                 r"pokemon, pokemon-rgba\)"):
        Generator.load("pokemon-rgb")
    with pytest.raises(ModelNotFoundError) as e:  # a path gets no list of names
        Generator.load("missing.onnx")
    assert "bundled" not in str(e.value)


def test_dcgan_gen_samples_a_bundled_model_by_name(two_bundled, tmp_path):
    out = tmp_path / "grid.png"
    r = CliRunner().invoke(main, ["--model", "pokemon-rgba", "--n", "4", "--out", str(out)])
    assert r.exit_code == 0, r.stderr
    with Image.open(out) as im:
        assert im.mode == "RGBA" and im.size == (4 * 34 + 2, 34 + 2)
    r = CliRunner().invoke(main, ["--model", "pokemon-rgba", "--info"])
    assert r.exit_code == 0 and "32x32 RGBA (premultiplied alpha)" in r.output
    assert "bundled" in r.output


def test_dcgan_gen_refuses_an_unknown_name_in_one_line(tmp_path):
    out = tmp_path / "grid.png"
    r = CliRunner().invoke(main, ["--model", "nosuch", "--out", str(out)])
    assert r.exit_code != 0 and not out.exists()
    assert r.stderr.strip().count("\n") == 0 and "bundled models: pokemon" in r.stderr


def test_missing_bundled_model_says_to_pass_a_model(monkeypatch, tmp_path):
    monkeypatch.setattr(model_file, "bundled_model", lambda name=DEFAULT_MODEL: tmp_path / "x.onnx")
    with pytest.raises(ModelNotFoundError, match="no bundled model pokemon-rgba .*--model"):
        Generator.load("pokemon-rgba")


def test_bundled_model_inside_a_zip_loads_from_its_bytes(monkeypatch, tmp_path):
    # a zipped install has no file ONNX Runtime could open: the bytes are passed instead
    archive = tmp_path / "site.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name, fixture in (("pokemon", GEN), ("pokemon-rgba", GEN_RGBA)):
            zf.write(fixture, f"dcgan/runtime/models/{BUNDLED_MODELS[name]}")
    monkeypatch.setattr(model_file, "bundled_model", lambda name=DEFAULT_MODEL: zipfile.Path(
        archive, f"dcgan/runtime/models/{BUNDLED_MODELS[name]}"))
    for name, fixture in (("pokemon", GEN), ("pokemon-rgba", GEN_RGBA)):
        g = Generator.load(None if name == DEFAULT_MODEL else name, provider="cpu")
        assert g.model.bundled and g.model.size_bytes == fixture.stat().st_size
        assert g.sha256 == hashlib.sha256(fixture.read_bytes()).hexdigest()
        assert g.sample(2).shape == (2, *g.image_shape)


@pytest.mark.parametrize("name", BUNDLED_MODELS)
def test_bundled_resource_is_the_packaged_file(name):
    res = bundled_model(name)
    assert res.name == BUNDLED_MODELS[name] and res.parent.name == "models"
    assert res.parent.parent.name == "runtime"


@pytest.mark.parametrize("name, channels, epochs", [("pokemon", 3, 340), ("pokemon-rgba", 4, 160)])
def test_bundled_model_ships_trained_with_its_score_floor_and_recipe(name, channels, epochs):
    res = bundled_model(name)
    if not res.is_file():
        pytest.skip(f"no bundled model {name} in this checkout")
    assert res.stat().st_size <= 15 * 10**6
    g = Generator.load(name, provider="cpu")
    info = g.info
    assert g.model.bundled and not info.placeholder
    assert (info.image_size, info.channels) == (64, channels)
    assert info.alpha == ("premultiplied" if channels == 4 else None)
    assert g.sample(1).shape == (1, 64, 64, channels)
    quality, training = info.raw["quality"], info.raw["training"]
    swd, floor = quality["swd_x1e3"]["mean"], quality["swd_floor_x1e3"]["mean"]
    # a trained generator: far from uniform noise (~183) and within 2x of the real-vs-real floor
    assert 0 < floor < swd < 2 * floor
    recipe = training["recipe"]
    assert recipe["diffaugment"] and recipe["ema"] and recipe["epochs"] >= epochs
