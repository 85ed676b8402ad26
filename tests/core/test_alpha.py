"""Premultiplied RGBA: the conversions every part shares, grids and previews, PNG with alpha."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from dcgan.core.images import (CHECKER, checkerboard, clamp_to_alpha, composite, encode_png,
                               make_grid, over_checkerboard, picture_grid, premultiply,
                               unpremultiply)


def every_colour_and_alpha() -> np.ndarray:
    """(256, 256, 4): colour c and alpha a for every pair, grey (c, c, c)."""
    c, a = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
    return np.stack([c, c, c, a], axis=-1).astype(np.uint8)


def test_premultiply_rounds_as_pillow_does():
    straight = every_colour_and_alpha()
    pillow = np.asarray(Image.fromarray(straight, "RGBA").convert("RGBa"))
    assert np.array_equal(premultiply(straight), pillow)
    assert np.array_equal(premultiply(straight)[..., 3], straight[..., 3])  # alpha untouched


def test_unpremultiply_inverts_to_the_nearest_level_and_clears_invisible_colour():
    straight = every_colour_and_alpha()
    back = unpremultiply(premultiply(straight)).astype(int)
    opaque = straight[:, 255, :3]
    assert np.array_equal(back[:, 255, :3], opaque)  # opaque pixels come back exactly
    # Premultiplying keeps about alpha levels of colour: the error is at most 255 / (2 alpha).
    a = np.arange(1, 256)
    err = np.abs(back[:, 1:, 0] - straight[:, 1:, 0]).max(axis=0)
    assert (err <= np.ceil(255 / (2 * a))).all()
    assert (back[:, 0] == 0).all()  # alpha 0: (0, 0, 0, 0), whatever colour it held
    # A colour above its alpha (a network's output) clips to white, never wraps.
    assert unpremultiply(np.array([[200, 10, 100, 100]], np.uint8)).tolist() == [[255, 26, 255, 100]]


def test_clamp_limits_colour_to_alpha():
    x = np.array([[[250, 40, 90, 80], [0, 0, 0, 0], [255, 255, 255, 255]]], np.uint8)
    assert clamp_to_alpha(x).tolist() == [[[80, 40, 80, 80], [0, 0, 0, 0], [255, 255, 255, 255]]]
    with pytest.raises(ValueError, match="RGBA"):
        clamp_to_alpha(x[..., :3])


@pytest.mark.parametrize("background", [(255, 255, 255), (0, 0, 0), (10, 200, 90)])
def test_compositing_premultiplied_pixels_is_exact(background):
    straight = every_colour_and_alpha()
    got = composite(premultiply(straight), background).astype(int)
    c, a = straight[..., :3].astype(float), straight[..., 3:].astype(float) / 255
    expected = c * a + np.array(background) * (1 - a)  # the straight-alpha blend, in floats
    assert np.abs(got - expected).max() <= 1  # two roundings to uint8, never more
    assert np.array_equal(got[:, 0], np.broadcast_to(background, (256, 3)))  # transparent
    assert np.array_equal(got[:, 255], straight[:, 255, :3])  # opaque


def test_checkerboard_preview_shows_transparency_and_keeps_opaque_pixels():
    board = checkerboard(16, 24, square=8)
    assert board.shape == (16, 24, 3)
    assert tuple(board[0, 0]) == CHECKER[0] and tuple(board[0, 8]) == CHECKER[1]
    assert tuple(board[8, 0]) == CHECKER[1] and tuple(board[8, 8]) == CHECKER[0]
    image = np.zeros((16, 24, 4), np.uint8)
    image[:, 12:] = (200, 20, 20, 255)
    shown = over_checkerboard(image, square=8)
    assert np.array_equal(shown[:, :12], board[:, :12]) and (shown[:, 12:] == (200, 20, 20)).all()


def test_rgba_grid_has_transparent_gaps_and_straight_alpha():
    tiles = np.zeros((3, 4, 4, 4), np.uint8)
    tiles[...] = premultiply(np.array([[[[100, 200, 50, 128]]]], np.uint8))
    grid = picture_grid(tiles, nrow=2, padding=1, pad_value=255)
    assert grid.shape == (11, 11, 4)
    assert (grid[0] == 0).all() and (grid[:, 0] == 0).all()  # gaps: transparent
    assert (grid[6:10, 6:10] == 0).all()  # the missing fourth tile: transparent
    assert np.abs(grid[1:5, 1:5].astype(int) - (100, 200, 50, 128)).max() <= 1  # straight
    rgb = np.full((3, 4, 4, 3), 7, np.uint8)
    assert np.array_equal(picture_grid(rgb, 2, 1, 255), make_grid(rgb, 2, 1, 255))


@pytest.mark.parametrize("channels, mode", [(1, "L"), (3, "RGB"), (4, "RGBA")])
def test_png_keeps_every_channel(channels, mode):
    pixels = np.random.default_rng(0).integers(0, 256, (5, 7, channels), dtype=np.uint8)
    with Image.open(io.BytesIO(encode_png(pixels))) as im:
        assert im.mode == mode
        assert np.array_equal(np.asarray(im).reshape(5, 7, channels), pixels)
