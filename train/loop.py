"""The training loop: one importable function whose body reads in commented sections.

It takes the decoded images (a uint8 array), the resolved options and a run folder; the CLI
only validates and calls it.  Each step follows the seed's two updates (discriminator, then
generator) with BCE-with-logits losses and Adam.
"""
from __future__ import annotations

import copy
import math
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from . import plots, run_folder
from .checkpoint import FILENAME as CHECKPOINT
from .checkpoint import atomic_save, make_checkpoint
from .config import TrainConfig
from .distributed import Distributed, resolve_device, wrap_ddp
from .augment import diff_augment, parse_policy
from .evaluation import SWDEvaluator
from .model import build_models, recompute_batchnorm_stats
from .run_state import ema_update, restore, rng_state, seed_for
from .signals import StopRequest

N_SAMPLES = 21  # the seed's 3x7 grid


class TrainError(Exception):
    """A run that cannot start or go on; the message is one line for the user."""


class NonFiniteLossError(TrainError):
    pass


@dataclass
class TrainResult:
    status: str  # "completed" or "interrupted"
    epoch: int  # completed epochs
    step: int
    device: str
    last: dict | None  # the last epoch's metrics row
    signum: int | None = None


def check_run(cfg: TrainConfig, n_images: int, world_size: int, device: torch.device) -> None:
    """Raise TrainError for options that cannot work with this data and machine."""
    if cfg.batch_size % world_size:
        raise TrainError(f"--batch-size {cfg.batch_size} does not split evenly over "
                         f"{world_size} ranks")
    if n_images < cfg.batch_size:
        raise TrainError(f"the dataset has {n_images} images, fewer than one batch of "
                         f"{cfg.batch_size}; lower --batch-size")
    if cfg.amp and device.type not in ("cuda", "cpu"):
        raise TrainError(f"--amp (bf16 autocast) runs on CUDA or CPU, not {device.type}")
    if cfg.sync_bn and world_size > 1 and device.type != "cuda":
        raise TrainError("--sync-bn needs CUDA devices (SyncBatchNorm has no CPU kernels)")


def use_channels_last(cfg: TrainConfig, device: torch.device) -> bool:
    """The option, or by default the layout measured faster: channels_last on CPU (oneDNN
    convolutions avoid reordering NCHW activations: about 1.2x for this model on AVX-512) and
    on CUDA with bf16 autocast (tensor-core convolutions want NHWC); NCHW otherwise."""
    if cfg.channels_last is not None:
        return cfg.channels_last
    return device.type == "cpu" or (device.type == "cuda" and cfg.amp)


def train(
    images: np.ndarray,
    cfg: TrainConfig,
    out: str | Path,
    *,
    dataset: dict | None = None,
    checkpoint: dict | None = None,
    dist: Distributed | None = None,
    device: torch.device | None = None,
    progress: bool | None = None,
    on_step: Callable[[int, nn.Module, nn.Module], None] | None = None,
) -> TrainResult:
    """Train to ``cfg.epochs`` epochs in total, from scratch or from ``checkpoint``.

    ``images``: (N, 64, 64, 3) uint8.  Returns when done or when SIGINT/SIGTERM asked it to
    stop (after saving); raises NonFiniteLossError, leaving the last good checkpoint alone.
    ``progress``: None shows a bar only on a terminal and a line per epoch; False shows
    nothing.  ``on_step`` is a test hook, called after every optimizer step.
    """
    out = Path(out)
    dist = dist or Distributed()
    device = device or resolve_device(cfg.device)
    check_run(cfg, len(images), dist.world_size, device)
    dataset = dict(dataset or {}, count=len(images))
    local_batch = cfg.batch_size // dist.world_size
    steps_per_epoch = len(images) // cfg.batch_size  # the last partial batch is dropped
    fmt = torch.channels_last if use_channels_last(cfg, device) else torch.contiguous_format

    # --- Networks, optimizers, EMA: the same initial weights on every rank --------------------
    torch.manual_seed(cfg.seed)
    g, d = build_models(cfg.model, cfg.init)
    if cfg.sync_bn and dist.enabled:
        g = nn.SyncBatchNorm.convert_sync_batchnorm(g)
        d = nn.SyncBatchNorm.convert_sync_batchnorm(d)
    g.to(device, memory_format=fmt)
    d.to(device, memory_format=fmt)
    adam = dict(lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), fused=device.type == "cuda" or None)
    opt_g = torch.optim.Adam(g.parameters(), **adam)
    opt_d = torch.optim.Adam(d.parameters(), **adam)
    # The EMA generator is never trained and always in eval mode; it averages the weights, and
    # its BN statistics are recomputed for those weights whenever it is drawn or saved.
    ema = copy.deepcopy(g).requires_grad_(False).eval() if cfg.ema else None
    shuffle_gen = torch.Generator().manual_seed(seed_for(cfg.seed, "shuffle"))
    noise_gen = torch.Generator(device).manual_seed(seed_for(cfg.seed, "noise", dist.rank))
    fixed_z = torch.randn(N_SAMPLES, cfg.latent_dim, 1, 1,
                          generator=torch.Generator().manual_seed(seed_for(cfg.seed, "samples")))
    fixed_z = fixed_z.to(device)

    evaluate = None
    if cfg.eval_every and dist.is_main:
        evaluate = SWDEvaluator(images, cfg.latent_dim, samples=cfg.eval_samples,
                                seed=seed_for(cfg.seed, "eval"), device=device)

    def calibrate_ema() -> None:
        """BN statistics for the EMA weights, before the EMA generator is drawn or saved."""
        if ema is not None:
            recompute_batchnorm_stats(ema, cfg.latent_dim, samples=256, batch_size=128,
                                      seed=seed_for(cfg.seed, "bn_stats"))

    # --- Resume: weights, optimizers, EMA, RNG states, position, history ----------------------
    epoch, step, history, partial = 0, 0, [], None
    if checkpoint is not None:
        epoch, step, history, partial = restore(
            checkpoint, g, d, ema, opt_g, opt_d, shuffle_gen, noise_gen, dist, cfg.seed)
    first = step - epoch * steps_per_epoch  # batches of the current epoch already done
    if not 0 <= first < steps_per_epoch:
        raise TrainError(f"the checkpoint's position (epoch {epoch}, step {step}) does not fit "
                         f"{steps_per_epoch} steps per epoch; was the data or batch size changed?")
    last_saved = f"epoch {epoch}, step {step}" if checkpoint is not None else None

    # --- Wrapping for DDP and torch.compile ---------------------------------------------------
    g_train, d_train = g, d
    if dist.enabled:
        g_train, d_train = wrap_ddp(g, device), wrap_ddp(d, device)
    # The generator's loss back-propagates through the discriminator, but only the generator
    # may learn from it.  It therefore goes through the bare discriminator, not its DDP wrapper:
    # the wrapper would all-reduce gradients that the next discriminator step discards (and
    # expect a second reduction in one iteration).  backward(inputs=generator params) also
    # skips computing those discriminator weight gradients at all.
    d_for_g = d
    if cfg.compile:
        g_train, d_train = torch.compile(g_train), torch.compile(d_train)
        d_for_g = torch.compile(d) if dist.enabled else d_train

    # --- Data: the whole uint8 array on the device once; batches are indexed there ----------
    # (N, 64, 64, 3) viewed as (N, 3, 64, 64) is already channels_last in memory.
    data = torch.from_numpy(np.ascontiguousarray(images)).to(device).permute(0, 3, 1, 2)
    data = data.contiguous(memory_format=fmt)

    bce = nn.BCEWithLogitsLoss()
    # DiffAugment: the discriminator sees real and fake through fresh random transformations in
    # every pass (the generator's too), drawn from the checkpointed noise stream.
    policy = parse_policy(cfg.diffaugment)
    augment = (lambda t: diff_augment(t, policy, noise_gen)) if policy else (lambda t: t)
    ones = torch.ones(local_batch, 1, 1, 1, device=device)
    zeros = torch.zeros(local_batch, 1, 1, 1, device=device)
    g_params = list(g.parameters())
    autocast = (lambda: torch.autocast(device.type, torch.bfloat16)) if cfg.amp else nullcontext
    # Per-step statistics stay on the device (no host sync); read every log_every steps.
    sums = torch.zeros(4, device=device)  # loss_D, loss_G, D(x), D(G(z))
    seconds = 0.0
    if partial is not None:  # an epoch interrupted midway: its statistics so far
        if dist.is_main:  # stored as the mean over ranks; the epoch end sums over ranks
            sums += torch.tensor(partial["sums"], device=device) * dist.world_size
        seconds = float(partial["seconds"])

    # tqdm's disable=None: a bar only when stderr is a terminal.
    no_bar = True if not dist.is_main else (None if progress is None else not progress)
    stop = StopRequest()
    with stop:
        while epoch < cfg.epochs:
            # --- Shuffle: one permutation on every rank (shared generator), each takes a slice
            epoch_state = shuffle_gen.get_state()
            perm = torch.randperm(len(images), generator=shuffle_gen)
            perm = perm[dist.rank::dist.world_size][: steps_per_epoch * local_batch]
            batches = perm.to(device).view(steps_per_epoch, local_batch)
            bar = tqdm(total=steps_per_epoch, initial=first, desc=f"epoch {epoch + 1}/{cfg.epochs}",
                       disable=no_bar, leave=False, dynamic_ncols=True)
            t0 = t_log = time.perf_counter()
            log_step, stopping = step, False
            for i in range(first, steps_per_epoch):
                # --- Batch: index, to float in [-1, 1], optional flip, all on the device
                x = data[batches[i]].to(torch.float32).mul_(1 / 127.5).sub_(1)
                if cfg.flip:
                    flip = torch.rand(local_batch, 1, 1, 1, device=device, generator=noise_gen) < 0.5
                    x = torch.where(flip, x.flip(3), x)
                z = torch.randn(local_batch, cfg.latent_dim, 1, 1, device=device,
                                generator=noise_gen)
                with autocast():
                    fake = g_train(z)  # reused by both updates: same weights, same output

                # --- Discriminator update: real and fake in separate passes, as the seed does
                opt_d.zero_grad(set_to_none=True)
                with autocast():
                    real_logit = d_train(augment(x))
                    fake_logit = d_train(augment(fake.detach()))
                    loss_d = (bce(real_logit.float(), ones) + bce(fake_logit.float(), zeros)) / 2
                loss_d.backward()
                opt_d.step()

                # --- Generator update: through the freshly updated discriminator
                opt_g.zero_grad(set_to_none=True)
                with autocast():
                    loss_g = bce(d_for_g(augment(fake)).float(), ones)
                loss_g.backward(inputs=g_params)
                opt_g.step()

                # --- EMA of the generator, then statistics (device tensors only)
                if ema is not None:
                    ema_update(ema, g, cfg.ema_decay, step)
                sums += torch.stack([loss_d.detach(), loss_g.detach(),
                                     torch.sigmoid(real_logit.detach().float()).mean(),
                                     torch.sigmoid(fake_logit.detach().float()).mean()])
                step += 1
                bar.update(1)
                if on_step is not None:
                    on_step(step, g, d)

                # --- Host-side checks: stop requests every step, the losses every log_every
                stopping = dist.vote(stop.requested)[0]
                if step % cfg.log_every == 0 or stopping or i + 1 == steps_per_epoch:
                    totals = sums.tolist()  # the one host sync of a log interval
                    if dist.vote(not all(map(math.isfinite, totals)))[0]:
                        raise _non_finite("loss", epoch + 1, step, last_saved, out)
                    now = time.perf_counter()
                    bar.set_postfix_str(
                        f"loss_D {totals[0] / (i + 1):.3f}, loss_G {totals[1] / (i + 1):.3f}, "
                        f"{(step - log_step) * cfg.batch_size / max(now - t_log, 1e-9):.1f} img/s")
                    t_log, log_step = now, step
                if stopping and i + 1 < steps_per_epoch:
                    break
            bar.close()
            seconds += time.perf_counter() - t0
            first = 0

            if stopping and step < (epoch + 1) * steps_per_epoch:
                # --- Interrupted midway: save the position and the epoch's statistics so far
                dist.sum_(sums)
                partial = {"sums": (sums / dist.world_size).tolist(), "seconds": seconds}
                if dist.vote(not _all_finite(g, d))[0]:
                    raise _non_finite("weights", epoch + 1, step, last_saved, out)
                ckpt_rng = rng_state(shuffle_state=epoch_state, noise_gen=noise_gen, dist=dist)

                def write_partial() -> None:
                    calibrate_ema()
                    atomic_save(dict(make_checkpoint(
                        cfg.model, g, d, generator_ema=ema, opt_g=opt_g, opt_d=opt_d,
                        epoch=epoch, step=step, config=cfg.to_dict(), dataset=dataset,
                        rng=ckpt_rng, history=history), partial=partial), out / CHECKPOINT)

                _write(dist, write_partial)
                return TrainResult("interrupted", epoch, step, str(device),
                                   history[-1] if history else None, stop.signum)

            # --- Epoch end: statistics over all ranks, then pictures, metrics, checkpoint
            dist.sum_(sums)
            means = (sums / (dist.world_size * steps_per_epoch)).tolist()
            sums.zero_()
            finite = all(map(math.isfinite, means)) and _all_finite(g, d)
            if dist.vote(not finite)[0]:
                raise _non_finite("loss or weights", epoch + 1, step, last_saved, out)
            epoch += 1
            row = {"epoch": epoch, "step": step, "loss_D": means[0], "loss_G": means[1],
                   "D(x)": means[2], "D(G(z))": means[3],
                   "images_per_sec": steps_per_epoch * cfg.batch_size / seconds,
                   "seconds": seconds}
            history.append(row)
            seconds, partial = 0.0, None
            ckpt_rng = rng_state(shuffle_state=shuffle_gen.get_state(), noise_gen=noise_gen,
                                 dist=dist)

            def write_epoch() -> None:
                # Samples with the generator in eval mode (running BN statistics), unlike the
                # seed, which draws them in train mode so that each picture depends on the other
                # 20 through batch statistics.  Eval mode is what export folds into the ONNX
                # model, so the grid shows what dcgan-gen will produce.  With --ema, the EMA.
                calibrate_ema()
                sampler = ema if ema is not None else g
                was_training = sampler.training
                sampler.eval()
                with torch.no_grad():
                    pictures = sampler(fixed_z)
                if evaluate is not None and epoch % cfg.eval_every == 0:
                    row.update(evaluate(sampler))
                sampler.train(was_training)
                plots.save_grid(pictures, run_folder.sample_path(out, epoch))
                run_folder.write_metrics(out, history)
                plots.save_loss_plot(history, out / run_folder.LOSS_PLOT)
                atomic_save(make_checkpoint(
                    cfg.model, g, d, generator_ema=ema, opt_g=opt_g, opt_d=opt_d, epoch=epoch,
                    step=step, config=cfg.to_dict(), dataset=dataset, rng=ckpt_rng,
                    history=history), out / CHECKPOINT)

            _write(dist, write_epoch)
            last_saved = f"epoch {epoch}, step {step}"
            if dist.is_main and progress is not False:
                tqdm.write(f"epoch {epoch}/{cfg.epochs}  loss_D {row['loss_D']:.3f}  "
                           f"loss_G {row['loss_G']:.3f}  D(x) {row['D(x)']:.3f}  "
                           f"D(G(z)) {row['D(G(z))']:.3f}  {row['images_per_sec']:.1f} img/s  "
                           f"{row['seconds']:.1f}s"
                           + (f"  SWD {row['swd']:.1f} (floor {row['swd_floor']:.1f})"
                              if "swd" in row else ""))
            if stopping:
                return TrainResult("interrupted", epoch, step, str(device), row, stop.signum)
    return TrainResult("completed", epoch, step, str(device), history[-1] if history else None)


def _non_finite(what: str, epoch: int, step: int, last_saved: str | None,
                out: Path) -> NonFiniteLossError:
    kept = (f"the last good checkpoint ({last_saved}) is kept in {out}" if last_saved
            else "no checkpoint was saved")
    return NonFiniteLossError(f"{what} became non-finite (NaN or inf) in epoch {epoch} by step "
                              f"{step}; stopped, {kept}. Try a lower --lr.")


def _all_finite(*modules: nn.Module) -> bool:
    flags = [torch.isfinite(p).all() for m in modules for p in m.parameters()]
    return bool(torch.stack(flags).all())


def _write(dist: Distributed, write: Callable[[], None]) -> None:
    """Rank 0 writes; every rank learns whether it failed, so none waits for a dead peer."""
    error = None
    if dist.is_main:
        try:
            write()
        except OSError as e:
            error = e
    if dist.vote(error is not None)[0]:
        if error is not None:
            raise TrainError(f"cannot write the run folder: {error}") from None
        raise TrainError("rank 0 could not write the run folder")
