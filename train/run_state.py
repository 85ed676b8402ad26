"""The state of a run: networks, optimizers, EMA, random streams and position, as one object
that is built from the options, restored from a checkpoint and turned back into one."""
from __future__ import annotations

import copy
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
import torch
from torch import nn

from .checkpoint import load_state, make_checkpoint
from .config import TrainConfig
from .distributed import Distributed
from .errors import CheckpointError, TrainError
from .model import build_models, recompute_batchnorm_stats

# One independent random stream per purpose, all derived from the run's --seed.
PURPOSES = {"shuffle": 1, "noise": 2, "samples": 3, "bn_stats": 4, "eval": 5}


def seed_for(seed: int, purpose: str, *keys: int) -> int:
    """A 63-bit seed for one purpose (and rank, ...) of a run, via numpy's SeedSequence."""
    words = np.random.SeedSequence(seed, spawn_key=(PURPOSES[purpose], *keys)).generate_state(2)
    return (int(words[0]) << 31) ^ int(words[1])


def ema_decay_at(decay: float, step: int) -> float:
    """The EMA decay for update number ``step`` (0-based): ramped up from 0.1 towards ``decay``.

    With a fixed 0.999 the average still holds e^-1 of the random initial weights after 1,000
    steps, which is dozens of epochs on a small dataset; the ramp (1 + t) / (10 + t) lets the
    early average follow the generator closely and reaches the full decay after ~10^4 steps.
    """
    return min(decay, (1.0 + step) / (10.0 + step))


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, decay: float, step: int) -> None:
    """ema <- d * ema + (1 - d) * model for the parameters, d = ema_decay_at(decay, step).

    BatchNorm buffers are not averaged: statistics gathered with other weights do not describe
    the averaged ones.  They are recomputed for the EMA weights whenever the EMA generator is
    used or saved (model.recompute_batchnorm_stats); counters are copied.
    """
    d = ema_decay_at(decay, step)
    torch._foreach_lerp_(list(ema.parameters()), list(model.parameters()), 1.0 - d)
    for e, m in zip(ema.buffers(), model.buffers()):
        if not e.is_floating_point():
            e.copy_(m)


@dataclass
class TrainingState:
    """What a checkpoint holds. ``g``, ``d`` and ``ema`` are the bare modules, never their DDP
    or compiled wrappers, so that their state_dicts keep plain names."""

    cfg: TrainConfig
    g: nn.Module
    d: nn.Module
    ema: nn.Module | None  # never trained, always in eval mode
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    shuffle_gen: torch.Generator  # one permutation per epoch, the same on every rank
    noise_gen: torch.Generator  # this rank's latents, flips and DiffAugment draws
    epoch: int = 0  # completed epochs
    step: int = 0  # optimizer steps
    history: list[dict] = field(default_factory=list)  # one metrics row per completed epoch
    partial: dict | None = None  # statistics of the epoch in progress when it was saved
    epoch_shuffle: torch.Tensor | None = None  # shuffle_gen before this epoch's permutation
    calibrated_step: int | None = None  # the step the EMA's BN statistics were computed at

    @classmethod
    def build(cls, cfg: TrainConfig, dist: Distributed, device: torch.device,
              memory_format: torch.memory_format) -> "TrainingState":
        """Fresh networks, optimizers and streams: the same initial weights on every rank."""
        torch.manual_seed(cfg.seed)
        g, d = build_models(cfg.model, cfg.init)
        if cfg.sync_bn and dist.enabled:
            g = nn.SyncBatchNorm.convert_sync_batchnorm(g)
            d = nn.SyncBatchNorm.convert_sync_batchnorm(d)
        g.to(device, memory_format=memory_format)
        d.to(device, memory_format=memory_format)
        adam = dict(lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), fused=device.type == "cuda" or None)
        return cls(
            cfg, g, d,
            ema=copy.deepcopy(g).requires_grad_(False).eval() if cfg.ema else None,
            opt_g=torch.optim.Adam(g.parameters(), **adam),
            opt_d=torch.optim.Adam(d.parameters(), **adam),
            shuffle_gen=torch.Generator().manual_seed(seed_for(cfg.seed, "shuffle")),
            noise_gen=torch.Generator(device).manual_seed(seed_for(cfg.seed, "noise", dist.rank)))

    def restore(self, ckpt: dict, dist: Distributed) -> None:
        """Load a checkpoint: weights, optimizers, EMA, random streams, position, history."""
        load_state(self.g, ckpt["generator"], "generator")
        load_state(self.d, ckpt["discriminator"], "discriminator")
        if self.ema is not None:
            if ckpt.get("generator_ema") is None:
                raise CheckpointError("the checkpoint has no EMA generator to continue")
            load_state(self.ema, ckpt["generator_ema"], "EMA generator")
        for opt, key in ((self.opt_g, "opt_g"), (self.opt_d, "opt_d")):
            if ckpt.get(key) is None:
                raise CheckpointError(f"the checkpoint lacks the optimizer state '{key}'")
            try:
                opt.load_state_dict(ckpt[key])
            except (ValueError, KeyError) as e:
                raise CheckpointError(f"optimizer state '{key}' does not fit: {e}") from None
        rng = ckpt.get("rng") or {}
        if "torch" in rng:
            torch.set_rng_state(rng["torch"])
        cuda = rng.get("cuda")
        if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)
        if "loader" in rng:
            self.shuffle_gen.set_state(rng["loader"])
        noise = rng.get("noise") or []
        if len(noise) == dist.world_size and rng.get("noise_device") == self.noise_gen.device.type:
            self.noise_gen.set_state(noise[dist.rank])
        else:
            # Another world size or device kind: fresh streams, still determined by the seed.
            seed = seed_for(self.cfg.seed, "noise", dist.rank, int(ckpt["step"]))
            self.noise_gen.manual_seed(seed)
        self.epoch, self.step = int(ckpt["epoch"]), int(ckpt["step"])
        self.history = list(ckpt.get("history") or [])
        self.partial = ckpt.get("partial")
        self.calibrated_step = None

    def steps_done_in_epoch(self, steps_per_epoch: int) -> int:
        """Batches of the current epoch already trained (0 unless an epoch was interrupted)."""
        done = self.step - self.epoch * steps_per_epoch
        if not 0 <= done < steps_per_epoch:
            raise TrainError(f"the checkpoint's position (epoch {self.epoch}, step {self.step}) "
                             f"does not fit {steps_per_epoch} steps per epoch; was the data or "
                             f"batch size changed?")
        return done

    def draw_permutation(self, n: int) -> torch.Tensor:
        """This epoch's order of the n images; the stream's state before it is kept, so that an
        epoch interrupted midway resumes with the same order."""
        self.epoch_shuffle = self.shuffle_gen.get_state()
        return torch.randperm(n, generator=self.shuffle_gen)

    def weights_finite(self) -> bool:
        flags = [torch.isfinite(p).all() for m in (self.g, self.d) for p in m.parameters()]
        return bool(torch.stack(flags).all())

    def calibrate_ema(self) -> None:
        """BN statistics for the EMA weights of this step, before the EMA is drawn or saved."""
        if self.ema is not None and self.calibrated_step != self.step:
            recompute_batchnorm_stats(self.ema, self.cfg.latent_dim, samples=256, batch_size=128,
                                      seed=seed_for(self.cfg.seed, "bn_stats"))
            self.calibrated_step = self.step

    @contextmanager
    def sampling(self) -> Iterator[nn.Module]:
        """The generator that pictures and figures are drawn from (the EMA when the run keeps
        one), in eval mode: running BN statistics, as export folds them into the ONNX model,
        so that what the run shows is what dcgan-gen will produce.  (The d2l chapter draws in
        train mode, where each picture depends on the others through batch statistics.)"""
        self.calibrate_ema()
        sampler = self.ema if self.ema is not None else self.g
        was_training = sampler.training
        sampler.eval()
        try:
            with torch.no_grad():
                yield sampler
        finally:
            sampler.train(was_training)

    def rng_state(self, dist: Distributed) -> dict:
        """The checkpoint's ``rng`` entry.  A collective: every rank must call it."""
        midway = self.partial is not None  # the shuffle stream as this epoch's order needs it
        state = {
            "torch": torch.get_rng_state(),
            "loader": self.epoch_shuffle if midway else self.shuffle_gen.get_state(),
            "noise": dist.gather(self.noise_gen.get_state()),  # one per rank
            "noise_device": self.noise_gen.device.type,
        }
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def checkpoint(self, dataset: dict, rng: dict) -> dict:
        """The checkpoint dict (see checkpoint.py), with ``partial`` for an unfinished epoch."""
        self.calibrate_ema()
        ckpt = make_checkpoint(self.cfg.model, self.g, self.d, generator_ema=self.ema,
                               opt_g=self.opt_g, opt_d=self.opt_d, epoch=self.epoch,
                               step=self.step, config=self.cfg.to_dict(), dataset=dataset,
                               rng=rng, history=self.history)
        if self.partial is not None:
            ckpt["partial"] = self.partial
        return ckpt
