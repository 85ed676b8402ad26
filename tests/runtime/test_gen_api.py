"""Generator.load / .sample: shapes, seed independence, metadata, refusal of foreign models."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest
from runtime_fixtures import DISC, FOREIGN, GEN, GEN_NOMETA

from dcgan.runtime import Generator
from dcgan.runtime.errors import ModelLoadError, ModelNotFoundError, SignatureError
from dcgan.core.images import to_uint8
from dcgan.core.metadata import dump_metadata
from dcgan.runtime.model_file import load_model


def test_sample_gives_uint8_nhwc_images(gen):
    images = gen.sample(5, seed=0)
    assert images.shape == (5, 64, 64, 3) and images.dtype == np.uint8
    assert images.std() > 10  # not flat grey: the fixture's images use the range


def test_image_depends_only_on_its_seed(gen):
    assert np.array_equal(gen.sample(5, seed=3)[2], gen.sample(1, seed=5)[0])


def test_chunking_never_changes_images(gen):
    whole = gen.sample(10, seed=7, batch_size=64)
    for batch_size in (1, 3, 4):
        assert np.array_equal(gen.sample(10, seed=7, batch_size=batch_size), whole)


def test_different_seeds_give_different_images(gen):
    a, b = gen.sample(2, seed=0)
    assert np.abs(a.astype(int) - b).mean() > 5


def test_latent_of_a_seed_is_its_own_numpy_generator(gen):
    # The documented contract, so other tools can reproduce a seed's latent.
    want = np.random.default_rng(123).standard_normal(8, dtype=np.float32)
    assert np.array_equal(gen.latents([123])[0], want)


def test_fresh_load_reproduces_images(gen):
    again = Generator.load(GEN, provider="cpu")
    assert np.array_equal(again.sample(4, seed=11), gen.sample(4, seed=11))


def test_bad_counts_and_seeds_are_value_errors(gen):
    with pytest.raises(ValueError):
        gen.sample(0)
    with pytest.raises(ValueError):
        gen.sample(2, seed=-1)


def test_generate_takes_n_latents_of_the_right_size(gen):
    assert gen.generate(np.zeros((0, gen.latent_dim))).shape == (0, *gen.image_shape)
    assert gen.generate(np.zeros((2, gen.latent_dim, 1, 1))).shape == (2, *gen.image_shape)
    for bad in (np.zeros((2, gen.latent_dim - 1)), np.zeros(gen.latent_dim), np.float32(1)):
        with pytest.raises(ValueError, match=f"latents must be \\(n, {gen.latent_dim}\\)"):
            gen.generate(bad)
    with pytest.raises(ValueError, match="batch_size"):
        gen.generate(np.zeros((2, gen.latent_dim)), batch_size=0)


def test_threads_below_one_are_a_value_error():
    with pytest.raises(ValueError, match="threads must be at least 1"):
        Generator.load(GEN, threads=-3)


@pytest.mark.parametrize("nrow, padding", [(0, 2), (3, -1)])
def test_grid_layout_out_of_range_is_a_value_error(tmp_path, nrow, padding):
    from dcgan.runtime import save_grid

    with pytest.raises(ValueError, match="nrow >= 1 and padding >= 0"):
        save_grid(np.zeros((4, 8, 8, 3), np.uint8), tmp_path / "g.png", nrow=nrow, padding=padding)
    assert list(tmp_path.iterdir()) == []


def test_facts_come_from_metadata(gen):
    assert not gen.info_inferred
    assert gen.latent_dim == 8 and gen.info.placeholder is True
    assert gen.provider == "CPUExecutionProvider"
    assert gen.sha256 == hashlib.sha256(GEN.read_bytes()).hexdigest()


def test_model_without_metadata_works_from_its_signature(gen):
    bare = Generator.load(GEN_NOMETA, provider="cpu")
    assert bare.info_inferred and bare.latent_dim == 8 and bare.info.placeholder is False
    assert np.array_equal(bare.sample(3, seed=2), gen.sample(3, seed=2))


def test_foreign_model_is_refused_with_expected_and_found_shapes():
    with pytest.raises(SignatureError) as e:
        Generator.load(FOREIGN)
    assert "expected one float input [N, L, 1, 1]" in str(e.value)
    assert "[batch, 8]" in str(e.value)


def test_discriminator_is_refused_as_a_generator():
    with pytest.raises(SignatureError, match="discriminator"):
        Generator.load(DISC)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ModelNotFoundError, match="no model file"):
        Generator.load(tmp_path / "absent.onnx")
    with pytest.raises(ModelNotFoundError, match="folder"):
        Generator.load(tmp_path)


@pytest.mark.parametrize("content", [b"", b"not an onnx model at all", "half"])
def test_corrupt_files_are_load_errors(tmp_path, content):
    if content == "half":
        data = GEN.read_bytes()
        content = data[: len(data) // 2]
    path = tmp_path / "broken.onnx"
    path.write_bytes(content)
    with pytest.raises(ModelLoadError, match="broken.onnx"):
        Generator.load(path)


def test_malformed_metadata_is_a_load_error():
    model = load_model(GEN, "cpu")
    model.metadata_text = '{"schema": 1, "role": "generator"'
    with pytest.raises(ModelLoadError, match="not valid JSON"):
        Generator(model)


def test_metadata_that_contradicts_the_graph_is_refused():
    model = load_model(GEN, "cpu")
    model.metadata_text = dump_metadata(
        {"role": "generator", "latent_dim": 100, "input_name": "z", "output_name": "image"}
    )
    with pytest.raises(SignatureError, match="latent_dim 100"):
        Generator(model)


def test_metadata_with_another_image_layout_is_refused():
    model = load_model(GEN, "cpu")
    model.metadata_text = dump_metadata(
        {"role": "generator", "latent_dim": 8, "input_name": "z", "output_name": "image",
         "layout": "NHWC"}
    )
    with pytest.raises(SignatureError, match="NHWC"):
        Generator(model)


def test_to_uint8_maps_the_output_range_and_rounds():
    x = np.array([-1.0, -0.999, 0.0, 1.0, 1.5, -7.0], dtype=np.float32).reshape(1, 1, 1, 6)
    # (1, C=1, H=1, W=6) -> (1, 1, 6, 1)
    assert to_uint8(x)[0, 0, :, 0].tolist() == [0, 0, 128, 255, 255, 0]
    assert to_uint8(np.full((1, 3, 2, 2), 0.5, np.float32), (0.0, 1.0)).max() == 128
