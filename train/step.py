"""One optimizer step of both networks, and the statistics an epoch gathers from its steps.

Each step follows the d2l chapter's two updates (discriminator, then generator) with
BCE-with-logits losses and Adam; one generator forward serves both updates.
"""
from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import torch
from torch import nn

from .augment import diff_augment
from .distributed import Distributed, wrap_ddp
from .run_state import TrainingState, ema_update


class EpochStats:
    """Sums over the epoch's steps of loss_D, loss_G, D(x) and D(G(z)), kept on the device (no
    host sync per step), and the epoch's seconds of training."""

    def __init__(self, device: torch.device, dist: Distributed, partial: dict | None):
        self.dist = dist
        self.sums = torch.zeros(4, device=device)
        self.seconds = 0.0
        if partial is not None:  # an epoch interrupted midway: its statistics so far
            if dist.is_main:  # stored as the mean over ranks; the epoch end sums over ranks
                self.sums += torch.tensor(partial["sums"], device=device) * dist.world_size
            self.seconds = float(partial["seconds"])

    def add(self, loss_d, loss_g, real_logit, fake_logit) -> None:
        self.sums += torch.stack([loss_d.detach(), loss_g.detach(),
                                  torch.sigmoid(real_logit.detach().float()).mean(),
                                  torch.sigmoid(fake_logit.detach().float()).mean()])

    def partial(self) -> dict:
        """The statistics so far of an unfinished epoch, as a checkpoint keeps them.  A
        collective: every rank must call it."""
        self.dist.sum_(self.sums)
        return {"sums": (self.sums / self.dist.world_size).tolist(), "seconds": self.seconds}

    def epoch_means(self, steps_per_epoch: int) -> tuple[list[float], float]:
        """(means over all ranks and steps, seconds) of a finished epoch; then starts afresh.
        A collective."""
        self.dist.sum_(self.sums)
        means = (self.sums / (self.dist.world_size * steps_per_epoch)).tolist()
        seconds = self.seconds
        self.sums.zero_()
        self.seconds = 0.0
        return means, seconds


class TrainStep:
    """``step(indices)``: one update of both networks on the batch of those images."""

    def __init__(self, state: TrainingState, images: np.ndarray, dist: Distributed,
                 device: torch.device, memory_format: torch.memory_format):
        cfg = self.cfg = state.cfg
        self.state, self.dist, self.device = state, dist, device
        self.local_batch = cfg.batch_size // dist.world_size
        self.steps_per_epoch = len(images) // cfg.batch_size  # the last partial batch is dropped
        self.stats = EpochStats(device, dist, state.partial)

        self.g, self.d = state.g, state.d
        if dist.enabled:
            self.g, self.d = wrap_ddp(state.g, device), wrap_ddp(state.d, device)
        # The generator's loss back-propagates through the discriminator, but only the
        # generator may learn from it.  It therefore goes through the bare discriminator, not
        # its DDP wrapper: the wrapper would all-reduce gradients that the next discriminator
        # step discards (and expect a second reduction in one iteration).
        # backward(inputs=generator params) also skips those discriminator weight gradients.
        self.d_for_g = state.d
        if cfg.compile:
            self.g, self.d = torch.compile(self.g), torch.compile(self.d)
            self.d_for_g = torch.compile(state.d) if dist.enabled else self.d
        self.g_params = list(state.g.parameters())

        # The whole uint8 array on the device once; batches are indexed there.  (N, S, S, C)
        # viewed as (N, C, S, S) is already channels_last in memory.
        data = torch.from_numpy(np.ascontiguousarray(images)).to(device).permute(0, 3, 1, 2)
        self.data = data.contiguous(memory_format=memory_format)

        self.policy = cfg.augment_policy
        self.bce = nn.BCEWithLogitsLoss()
        self.ones = torch.ones(self.local_batch, 1, 1, 1, device=device)
        self.zeros = torch.zeros(self.local_batch, 1, 1, 1, device=device)
        self.autocast = (lambda: torch.autocast(device.type, torch.bfloat16)) if cfg.amp \
            else nullcontext

    def epoch_batches(self) -> torch.Tensor:
        """(steps, local batch) image indices: one permutation on every rank (a shared
        stream), of which each rank takes its own slice."""
        perm = self.state.draw_permutation(len(self.data))
        perm = perm[self.dist.rank::self.dist.world_size][: self.steps_per_epoch * self.local_batch]
        return perm.to(self.device).view(self.steps_per_epoch, self.local_batch)

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        """DiffAugment: the discriminator sees real and fake through fresh random
        transformations in every pass (the generator's too), drawn from the checkpointed
        noise stream."""
        return diff_augment(x, self.policy, self.state.noise_gen) if self.policy else x

    def __call__(self, indices: torch.Tensor) -> None:
        cfg, state, noise = self.cfg, self.state, self.state.noise_gen
        # --- Batch: index, to float in [-1, 1], optional flip, all on the device
        x = self.data[indices].to(torch.float32).mul_(1 / 127.5).sub_(1)
        if cfg.flip:
            flip = torch.rand(self.local_batch, 1, 1, 1, device=self.device, generator=noise) < 0.5
            x = torch.where(flip, x.flip(3), x)
        z = torch.randn(self.local_batch, cfg.latent_dim, 1, 1, device=self.device, generator=noise)
        with self.autocast():
            fake = self.g(z)  # reused by both updates: same weights, same output

        # --- Discriminator update: real and fake in separate passes, as the d2l chapter does
        state.opt_d.zero_grad(set_to_none=True)
        with self.autocast():
            real_logit = self.d(self.augment(x))
            fake_logit = self.d(self.augment(fake.detach()))
            loss_d = (self.bce(real_logit.float(), self.ones)
                      + self.bce(fake_logit.float(), self.zeros)) / 2
        loss_d.backward()
        state.opt_d.step()

        # --- Generator update: through the freshly updated discriminator
        state.opt_g.zero_grad(set_to_none=True)
        with self.autocast():
            loss_g = self.bce(self.d_for_g(self.augment(fake)).float(), self.ones)
        loss_g.backward(inputs=self.g_params)
        state.opt_g.step()

        # --- EMA of the generator, then statistics (device tensors only)
        if state.ema is not None:
            ema_update(state.ema, state.g, cfg.ema_decay, state.step)
        self.stats.add(loss_d, loss_g, real_logit, fake_logit)
        state.step += 1
