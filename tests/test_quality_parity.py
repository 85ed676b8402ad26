"""The torch SWD used during training (dcgan.train.quality) and the numpy one of the runtime
(dcgan.runtime.quality) give the same figures on the same images and seed.

The two packages cannot import each other, so the metric exists twice; this keeps them in step.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from dcgan.core import swd as rq
from dcgan.core.images import to_uint8
from dcgan.train import quality as tq

torch.set_num_threads(1)  # the test machine is shared


def images(n: int, seed: int) -> np.ndarray:
    """Smooth colour fields plus a little noise: every pyramid level carries signal."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:64, 0:64] / 64
    phase = rng.uniform(0, 6.3, (n, 1, 1, 3))
    freq = rng.uniform(1, 12, (n, 1, 1, 3))
    field = 127 + 100 * np.sin(freq * (xx[None, ..., None] + yy[None, ..., None] ** 2) * 3 + phase)
    return np.clip(field + rng.normal(0, 12, field.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("n_a, n_b, seed", [(24, 24, 3), (20, 31, 11)])
def test_torch_and_numpy_swd_agree(n_a, n_b, seed):
    a, b = images(n_a, seed), images(n_b, seed + 1)
    ref = rq.swd(a, b, seed=seed)
    got = tq.swd(torch.from_numpy(a), b, seed=seed)
    assert got.resolutions == ref.resolutions == (64, 32, 16)
    np.testing.assert_allclose(got.levels, ref.levels, rtol=2e-5)
    assert got.mean == pytest.approx(ref.mean, rel=2e-5)
    assert min(ref.levels) > 1  # a comparison of equal zeros would prove nothing


def test_descriptors_agree():
    x = images(6, 0)
    for r, t in zip(rq.descriptors(x, seed=2), tq.descriptors(x, seed=2)):
        assert r.shape == tuple(t.shape) == (6 * 128, 147)
        np.testing.assert_allclose(t.numpy(), r, atol=2e-4)


def test_draws_are_the_same():
    np.testing.assert_array_equal(tq.neighbourhood_positions(5, 32, 4, 1),
                                  rq.neighbourhood_positions(5, 32, 4, 1))
    np.testing.assert_array_equal(tq.projection_directions(147, 4, 2),
                                  rq.projection_directions(147, 4, 2))
    for m, n in [(5, 5), (5, 8)]:
        for t, r in zip(tq.quantile_match(m, n), rq.quantile_match(m, n)):
            np.testing.assert_array_equal(t, r)


def test_training_images_round_as_the_exported_model_does():
    x = torch.rand(4, 3, 64, 64) * 2.2 - 1.1  # a little out of range, as a generator may be
    np.testing.assert_array_equal(tq.images_to_uint8(x).numpy(), to_uint8(x.numpy()))
