"""The metadata schema's image fields: size, channels and alpha, as written and as read."""
from __future__ import annotations

import json

import pytest

from dcgan.core.metadata import MetadataError, build_metadata, dump_metadata, parse_metadata

BASE = {"schema": 1, "role": "generator", "latent_dim": 100, "input_name": "z", "output_name": "image"}


def read(**fields):
    return parse_metadata(json.dumps({**BASE, **fields}))


@pytest.mark.parametrize("size", [32, 64, 128, 256])
@pytest.mark.parametrize("channels, alpha", [(1, None), (3, None), (4, "premultiplied")])
def test_every_shape_dcgan_train_builds_is_written_and_read_back(size, channels, alpha):
    for role in ("generator", "discriminator"):
        meta = build_metadata(role=role, latent_dim=100, image_size=size, channels=channels,
                              alpha=alpha, input_name="z", output_name="image")
        assert meta["alpha"] == alpha  # recorded, null included, for both networks
        info = parse_metadata(dump_metadata(meta))
        assert (info.image_size, info.channels, info.alpha) == (size, channels, alpha)


def test_a_file_written_before_alpha_was_recorded_reads_as_no_alpha():
    for channels in (1, 3):
        assert read(image_size=64, channels=channels).alpha is None
    assert read().describe_images() == "64x64 RGB"  # older still: no size or channels either
    assert read(image_size=32, channels=4, alpha="premultiplied").describe_images() == \
        "32x32 RGBA (premultiplied alpha)"
    assert read(image_size=128, channels=1).describe_images() == "128x128 grey"


@pytest.mark.parametrize("fields, says", [
    ({"channels": 2}, "channels must be one of 1, 3, 4, found 2"),
    ({"channels": "3"}, "channels must be one of 1, 3, 4, found '3'"),
    ({"image_size": 48}, "image_size must be a power of two from 32 to 256, found 48"),
    ({"image_size": 512}, "found 512"),
    ({"image_size": 64.0}, "found 64.0"),
    ({"channels": 4}, "4-channel images must say alpha 'premultiplied', found None"),
    ({"channels": 4, "alpha": "straight"}, "found 'straight'"),
    ({"channels": 3, "alpha": "premultiplied"}, "alpha 'premultiplied' with 3-channel images: only 4 channels have alpha"),
    ({"channels": 1, "alpha": False}, "alpha False with 1-channel images"),
])
def test_image_fields_that_do_not_fit_together_are_refused_in_one_line(fields, says):
    with pytest.raises(MetadataError, match=says.replace("(", r"\(").replace(")", r"\)")) as e:
        read(**fields)
    assert "\n" not in str(e.value)


def test_the_writer_refuses_what_the_reader_would():
    meta = build_metadata(role="generator", latent_dim=8, image_size=32, channels=4,
                          input_name="z", output_name="image")  # alpha forgotten
    with pytest.raises(MetadataError, match="must say alpha"):
        dump_metadata(meta)
