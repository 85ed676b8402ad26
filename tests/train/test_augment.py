"""DiffAugment: each op changes images the way it says, keeps shapes, passes gradients, and
depends only on the generator it is given."""
from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

from dcgan.train.augment import color, cutout, diff_augment, parse_policy, translation
from dcgan.train.cli import main


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.fixture
def batch():
    return torch.rand(16, 3, 64, 64, generator=gen(1)) * 2 - 1


def test_policy_parsing():
    assert parse_policy("color, translation,cutout") == ("color", "translation", "cutout")
    assert parse_policy("") == ()
    with pytest.raises(ValueError, match="rotate"):
        parse_policy("color,rotate")


def test_translation_moves_content_and_fills_with_zero():
    x = torch.zeros(64, 1, 64, 64)
    x[:, :, 32, 32] = 1.0  # one bright pixel per image
    y = translation(x, gen())
    moved = (y[:, 0] == 1).nonzero()[:, 1:] - 32  # where the pixel went, per image
    assert len(moved) == 64  # a shift of at most 8 px never pushes it out
    assert moved.abs().max() <= 8 and moved.abs().sum() > 0
    ramp = torch.ones(8, 3, 64, 64)
    assert (translation(ramp, gen()) == 0).any()  # uncovered border pixels are zero


def test_cutout_zeroes_at_most_a_quarter(batch):
    ones = torch.ones_like(batch)
    y = cutout(ones, gen())
    zero_fraction = (y == 0).float().mean(dim=(1, 2, 3))
    assert (zero_fraction > 0).all() and (zero_fraction <= 0.25 + 1e-6).all()
    assert cutout(batch, gen()).shape == batch.shape


def test_color_changes_brightness_per_image(batch):
    y = color(batch, gen())
    shift = (y - batch).mean(dim=(1, 2, 3))
    assert shift.std() > 0.05  # each image gets its own change


def test_full_policy_is_differentiable_and_reproducible(batch):
    x = batch.clone().requires_grad_(True)
    policy = parse_policy("color,translation,cutout")
    y = diff_augment(x, policy, gen(3))
    y.square().sum().backward()
    assert y.shape == x.shape and x.grad is not None and x.grad.abs().sum() > 0
    assert torch.equal(diff_augment(batch, policy, gen(3)), diff_augment(batch, policy, gen(3)))
    assert not torch.equal(diff_augment(batch, policy, gen(3)), diff_augment(batch, policy, gen(4)))


def test_cli_refuses_an_unknown_augmentation(tmp_path):
    result = CliRunner().invoke(main, ["--data", "fake:40", "--diffaugment", "color,blur",
                                       "--out", str(tmp_path / "run"), "--device", "cpu"])
    assert result.exit_code != 0
    assert "blur" in result.stderr and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def rgba(straight: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Premultiplied RGBA in [-1, 1] from straight colour and alpha in [0, 1]."""
    return torch.cat([straight * alpha, alpha.expand(-1, 1, -1, -1)], dim=1) * 2 - 1


def test_color_on_opaque_rgba_is_color_on_rgb(batch):
    opaque = torch.cat([batch, torch.ones_like(batch[:, :1])], dim=1)
    y = color(opaque, gen(5))
    assert torch.allclose(y[:, :3], color(batch, gen(5)), atol=1e-5)
    assert torch.equal(y[:, 3:], opaque[:, 3:])  # alpha untouched


def test_color_keeps_rgba_premultiplied(batch):
    """Brightness, saturation and contrast act on the visible colour: un-premultiplied, a
    half-transparent image changes as the same opaque image does; transparent pixels stay
    exactly transparent, and the alpha is never changed."""
    straight = (batch + 1) / 2
    alpha = torch.full_like(batch[:, :1], 0.5)
    alpha[:, :, :16] = 0  # a transparent band
    x = rgba(straight, alpha)
    y = color(x, gen(6))
    assert torch.equal(y[:, 3:], x[:, 3:])
    assert (y[:, :, :16] == -1).all()  # (0, 0, 0, 0) stays (0, 0, 0, 0)
    # The contrast mean is the mean visible colour: the same as the opaque image's of the
    # visible band alone.
    visible = batch[:, :, 16:]
    expected = (color(visible, gen(6)) + 1) / 2
    got = (y[:, :3, 16:] + 1) / 2 / 0.5  # un-premultiplied
    assert torch.allclose(got, expected, atol=1e-5)


def test_translation_and_cutout_leave_rgba_transparent():
    x = torch.ones(32, 4, 32, 32)  # opaque white
    for op in (translation, cutout):
        y = op(x, gen(2))
        blank = (y == -1).all(dim=1)  # every channel, alpha included, at the transparent pixel
        assert blank.any() and ((y == 1).all(dim=1) | blank).all()
    assert (translation(torch.ones(8, 3, 32, 32), gen(2)) == 0).any()  # RGB: DiffAugment's 0


def test_grey_images_augment_in_one_channel():
    x = torch.rand(8, 1, 32, 32, generator=gen(1)) * 2 - 1
    y = diff_augment(x, parse_policy("color,translation,cutout"), gen(3))
    assert y.shape == x.shape
    # Saturation does nothing to one channel: colour is brightness then contrast alone.
    g = gen(4)
    b, _, c = (torch.rand(8, 1, 1, 1, generator=g) for _ in range(3))
    shifted = x + (b - 0.5)
    mean = shifted.mean(dim=(1, 2, 3), keepdim=True)
    assert torch.allclose(color(x, gen(4)), (shifted - mean) * (c + 0.5) + mean, atol=1e-6)
