"""Periodic quality figures during training: multi-scale SWD of generated against real images.

The figure is dcgan.core.swd's, the one export and dcgan-score report: the generator's output
is rounded to uint8 as the exported model's is, and compared on the CPU.  The real side
(descriptors of up to ``samples`` training images, and the real-vs-real floor of two disjoint
halves of them) is computed once per run; each evaluation then draws ``samples`` images from
fixed latents, so successive figures differ only by what the generator learned.  Nothing here
touches the training random streams: resuming stays exact.

Grey and RGB are compared on their channels.  RGBA is compared on its 4 premultiplied channels
directly, real and generated alike (the generator's colour clamped to its alpha, as every
picture of it is): alpha is one more plane of the descriptors, so a silhouette that is wrong
counts even where a composite over one background would hide it (an opaque pixel of the
background's colour looks transparent).  No background enters the figure; RGBA figures are
read against their own real-vs-real floor, not against those of RGB runs.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from dcgan.core.images import generated_images
from dcgan.core.swd import descriptors, pyramid_resolutions, swd, swd_from_descriptors

_CHUNK = 128  # latents per generator call


class SWDEvaluator:
    def __init__(self, images: np.ndarray, latent_dim: int, *, samples: int, seed: int,
                 device: torch.device):
        rng = np.random.default_rng(seed)
        real = images[rng.permutation(len(images))[:samples]]  # random order: halves are random
        self.samples = len(real)
        self.device = device
        self.seed = seed
        self.resolutions = pyramid_resolutions(images.shape[1])
        gen = torch.Generator().manual_seed(seed)
        self.latents = torch.randn(self.samples, latent_dim, 1, 1, generator=gen)
        self._real = real
        self._real_desc = None
        self.floor = None

    def _prepare(self) -> None:
        if self._real_desc is None:
            self._real_desc = descriptors(self._real, seed=self.seed)
            half = len(self._real) // 2
            self.floor = swd(self._real[:half], self._real[half: 2 * half], seed=self.seed).mean

    @torch.no_grad()
    def __call__(self, generator: nn.Module) -> dict:
        """SWD x1e3 (mean and per level) of the generator in eval mode, and the floor."""
        self._prepare()
        was_training = generator.training
        generator.eval()
        fake = np.concatenate([
            generated_images(generator(z.to(self.device)).float().cpu().numpy())
            for z in self.latents.split(_CHUNK)
        ])
        generator.train(was_training)
        result = swd_from_descriptors(self._real_desc, descriptors(fake, seed=self.seed),
                                      self.resolutions, seed=self.seed)
        return {"swd": result.mean, "swd_levels": result.as_dict(), "swd_floor": self.floor,
                "swd_samples": self.samples}
