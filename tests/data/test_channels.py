"""Grey and RGBA decoding: one channel for grey, transparency kept as premultiplied alpha for
RGBA, and a decoded cache and fingerprint per size and channel count."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dcgan.core.images import premultiply
from dcgan.data import DataError, load_dataset
from dcgan.data.decode import DecodeOptions, decode_image

RED = (250, 20, 20)


def png(im: Image.Image, **save) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=save.pop("format", "PNG"), **save)
    return buf.getvalue()


def decode(data: bytes, channels: int, size: int = 64, **kw) -> np.ndarray:
    return decode_image(data, DecodeOptions(size=size, channels=channels, **kw))


def palette_half_transparent(fmt: str = "PNG") -> bytes:
    """A 'P' image with a transparency index, like the sprites: left half transparent."""
    im = Image.new("P", (64, 64), 0)
    im.putpalette([9, 9, 9, *RED] + [0] * (254 * 3))  # the transparent index holds a colour
    im.paste(1, (32, 0, 64, 64))
    return png(im, format=fmt, transparency=0)


@pytest.mark.parametrize("fmt", ["PNG", "GIF"])
def test_palette_transparency_becomes_alpha(fmt):
    img = decode(palette_half_transparent(fmt), 4)
    assert img.shape == (64, 64, 4) and img.dtype == np.uint8 and img.flags["C_CONTIGUOUS"]
    assert (img[:, :32] == 0).all()  # transparent: (0, 0, 0, 0), not the index's colour
    assert (img[:, 32:] == (*RED, 255)).all()


def test_rgba_png_keeps_partial_alpha_premultiplied():
    straight = np.zeros((64, 64, 4), np.uint8)
    straight[:, :16] = (200, 100, 50, 0)  # invisible colour
    straight[:, 16:32] = (200, 100, 50, 128)
    straight[:, 32:] = (200, 100, 50, 255)
    img = decode(png(Image.fromarray(straight, "RGBA")), 4)
    assert np.array_equal(img, premultiply(straight))
    assert (img[:, :16] == 0).all() and tuple(img[0, 20]) == (100, 50, 25, 128)


@pytest.mark.parametrize("make", [
    lambda: Image.new("RGB", (40, 30), RED),
    lambda: Image.new("L", (40, 30), 77),
])
def test_images_without_alpha_get_an_opaque_one(make):
    img = decode(png(make()), 4)
    assert (img[..., 3] == 255).all()
    rgb = decode(png(make()), 3)
    assert np.array_equal(img[..., :3], rgb)  # opaque: the RGB decode, untouched


def test_colour_key_becomes_alpha():
    im = Image.new("RGB", (64, 64), (1, 2, 3))
    im.paste(RED, (0, 32, 64, 64))
    img = decode(png(im, transparency=(1, 2, 3)), 4)
    assert (img[:32] == 0).all() and (img[32:] == (*RED, 255)).all()


def test_webp_alpha_is_kept():
    straight = np.zeros((64, 64, 4), np.uint8)
    straight[16:48, 16:48] = (*RED, 255)
    img = decode(png(Image.fromarray(straight, "RGBA"), format="WEBP", lossless=True), 4)
    assert (img[:8] == 0).all() and (img[24:40, 24:40] == (*RED, 255)).all()


def test_grey_is_one_channel_and_composited_over_the_background():
    grey = Image.new("L", (64, 64), 90)
    assert np.array_equal(decode(png(grey), 1), np.full((64, 64, 1), 90, np.uint8))
    img = decode(palette_half_transparent(), 1, background=(0, 0, 255))
    assert img.shape == (64, 64, 1)
    assert (img[:, :30] == 29).all()  # the background's luma: 0.114 x 255
    assert (img[:, 34:] == 89).all()  # RED's luma: (250 x 299 + 20 x 587 + 20 x 114) / 1000
    rgb = decode(png(Image.new("RGB", (64, 64), (10, 200, 60))), 1)
    assert (rgb == 127).all()  # ITU-R 601 luma, as for every RGB source


def test_resizing_mixes_by_alpha_and_keeps_colour_within_alpha():
    """Shrinking or enlarging never lets the invisible colour of transparent pixels bleed into
    the visible ones (a dark halo), and never leaves colour above alpha."""
    straight = np.zeros((40, 40, 4), np.uint8)
    straight[..., :3] = (0, 0, 0)  # transparent black around
    straight[10:30, 10:30] = (255, 255, 255, 255)  # a white square
    for size in (32, 128):
        img = decode(png(Image.fromarray(straight, "RGBA")), 4, size=size).astype(int)
        colour, alpha = img[..., :3], img[..., 3:]
        assert (colour <= alpha).all()
        edge = (alpha[..., 0] > 0) & (alpha[..., 0] < 255)
        assert edge.any() and (np.abs(colour - alpha)[edge] <= 1).all()  # still white


def test_pad_is_transparent_for_rgba():
    wide = Image.new("RGB", (128, 64), RED)
    img = decode(png(wide), 4, fit="pad")
    assert (img[:12] == 0).all() and (img[-12:] == 0).all()
    assert (img[20:44] == (*RED, 255)).all()


def test_keys_name_size_and_channels_and_rgb_keeps_its_key():
    rgb = DecodeOptions()
    # The key of the versions before grey and RGBA: stored fingerprints of RGB runs match.
    assert rgb.key() == {"decoder": 1, "size": 64, "fit": "stretch", "background": [255, 255, 255]}
    keys = [DecodeOptions(size=s, channels=c).key() for s in (32, 64) for c in (1, 3, 4)]
    assert len({str(sorted(k.items())) for k in keys}) == 6
    assert "background" not in DecodeOptions(channels=4).key()  # RGBA composites over nothing
    assert DecodeOptions(channels=4, background=(0, 0, 0)).key() == DecodeOptions(channels=4).key()


def test_each_channel_count_has_its_own_cache_and_fingerprint(tmp_path):
    folder = tmp_path / "sprites"
    folder.mkdir()
    for i in range(3):
        (folder / f"{i}.png").write_bytes(palette_half_transparent())
    cache = tmp_path / "cache"
    sets = {c: load_dataset(str(folder), cache_dir=cache, channels=c, image_size=32,
                            progress=False) for c in (1, 3, 4)}
    assert {c: s.images.shape for c, s in sets.items()} == {
        1: (3, 32, 32, 1), 3: (3, 32, 32, 3), 4: (3, 32, 32, 4)}
    assert len({s.fingerprint for s in sets.values()}) == 3
    assert len(list((cache / "decoded").iterdir())) == 3
    again = load_dataset(str(folder), cache_dir=cache, channels=4, image_size=32, progress=False)
    assert again.fingerprint == sets[4].fingerprint and np.array_equal(again.images, sets[4].images)
    assert len(list((cache / "decoded").iterdir())) == 3  # read from the cache


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_fake_images_in_every_channel_count(channels):
    ds = load_dataset("fake:6", image_size=32, channels=channels, progress=False)
    assert ds.images.shape == (6, 32, 32, channels)
    if channels == 4:
        img = ds.images.astype(int)
        assert (img[:, 0, 0] == 0).all()  # the background is transparent
        assert (img[..., 3] == 255).any() and (img[..., :3] <= img[..., 3:]).all()
    rgb = load_dataset("fake:6", image_size=32, progress=False)
    assert ds.fingerprint != rgb.fingerprint or channels == 3


def test_bad_channel_count_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="channels"):
        load_dataset("fake:4", channels=2, progress=False)


def test_real_sprites_keep_their_transparency():
    """The training sprites, when present (they are not part of the repository)."""
    sprites = Path(__file__).resolve().parents[2] / "sprites" / "pokemon"
    files = sorted(sprites.glob("*.gif"))[:4] if sprites.is_dir() else []
    if not files:
        pytest.skip("no sprites in sprites/pokemon")
    for f in files:
        img = decode(f.read_bytes(), 4).astype(int)
        assert (img[0, 0] == 0).all() and (img[..., 3] == 255).mean() > 0.1
        assert (img[..., :3] <= img[..., 3:]).all()
