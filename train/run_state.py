"""The parts of a run's state that are not weights: seeds, RNG states, EMA, and their restoring."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .checkpoint import CheckpointError, load_state
from .distributed import Distributed

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


def rng_state(shuffle_state: torch.Tensor, noise_gen: torch.Generator, dist: Distributed) -> dict:
    """The checkpoint's ``rng`` entry.  A collective: every rank must call it."""
    state = {
        "torch": torch.get_rng_state(),
        "loader": shuffle_state,  # the shuffle generator, as the next permutation needs it
        "noise": dist.gather(noise_gen.get_state()),  # one per rank: latents and flips
        "noise_device": noise_gen.device.type,
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore(ckpt: dict, g: nn.Module, d: nn.Module, ema: nn.Module | None,
            opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
            shuffle_gen: torch.Generator, noise_gen: torch.Generator,
            dist: Distributed, seed: int) -> tuple[int, int, list, dict | None]:
    """Load a checkpoint into the live objects; return (epoch, step, history, partial)."""
    load_state(g, ckpt["generator"], "generator")
    load_state(d, ckpt["discriminator"], "discriminator")
    if ema is not None:
        if ckpt.get("generator_ema") is None:
            raise CheckpointError("the checkpoint has no EMA generator to continue")
        load_state(ema, ckpt["generator_ema"], "EMA generator")
    for opt, key in ((opt_g, "opt_g"), (opt_d, "opt_d")):
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
        shuffle_gen.set_state(rng["loader"])
    noise = rng.get("noise") or []
    if len(noise) == dist.world_size and rng.get("noise_device") == noise_gen.device.type:
        noise_gen.set_state(noise[dist.rank])
    else:
        # Another world size or device kind: fresh streams, still determined by the seed.
        noise_gen.manual_seed(seed_for(seed, "noise", dist.rank, int(ckpt["step"])))
    return int(ckpt["epoch"]), int(ckpt["step"]), list(ckpt.get("history") or []), ckpt.get("partial")
