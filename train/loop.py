"""The training loop: one importable function whose body reads in commented sections.

It takes the decoded images (a uint8 array), the resolved options and a run folder; the caller
(dcgan-train's session) has checked the options against the data and the machine.  The parts
live beside it: the run's state (run_state), one optimizer step (step), what is written to the
run folder (run_writer) and the SWD figure (evaluation).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .config import TrainConfig
from .distributed import Distributed, resolve_device
from .errors import TrainError
from .evaluation import SWDEvaluator
from .run_state import TrainingState, seed_for
from .run_writer import RunWriter
from .step import TrainStep
from .stop_request import StopRequest


@dataclass
class TrainResult:
    status: str  # "completed" or "interrupted"
    epoch: int  # completed epochs
    step: int
    device: str
    last: dict | None  # the last epoch's metrics row
    signum: int | None = None

    @classmethod
    def of(cls, state: TrainingState, status: str, device: torch.device,
           signum: int | None = None) -> "TrainResult":
        return cls(status, state.epoch, state.step, str(device),
                   state.history[-1] if state.history else None, signum)


def use_channels_last(cfg: TrainConfig, device: torch.device) -> bool:
    """The option, or by default the layout measured faster: channels_last on CPU (oneDNN
    convolutions avoid reordering NCHW activations) and on CUDA with bf16 autocast
    (tensor-core convolutions want NHWC); NCHW otherwise."""
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

    ``images``: (N, S, S, C) uint8 with S, C = cfg.image_size, cfg.channels (RGBA
    premultiplied).  Returns when done or when SIGINT/SIGTERM asked it to stop (after
    saving); raises NonFiniteLossError, leaving the last good checkpoint alone.
    ``progress``: None shows a bar only on a terminal and a line per epoch; False shows
    nothing.  ``on_step`` is a test hook, called after every optimizer step.
    """
    shape = (cfg.image_size, cfg.image_size, cfg.channels)
    if images.ndim != 4 or images.shape[1:] != shape:
        raise TrainError(f"the images are {images.shape[1:]}, the networks want {shape}")
    out, dist = Path(out), dist or Distributed()
    device = device or resolve_device(cfg.device)
    layout = torch.channels_last if use_channels_last(cfg, device) else torch.contiguous_format

    # --- Build: networks, optimizers, EMA and streams, the same on every rank; then resume
    state = TrainingState.build(cfg, dist, device, layout)
    if checkpoint is not None:
        state.restore(checkpoint, dist)
    step = TrainStep(state, images, dist, device, layout)  # wraps for DDP and torch.compile
    first = state.steps_done_in_epoch(step.steps_per_epoch)
    writer = RunWriter(out, state, dist, device, dict(dataset or {}, count=len(images)),
                       resumed=checkpoint is not None)
    evaluate = None
    if cfg.eval_every and dist.is_main:
        evaluate = SWDEvaluator(images, cfg.latent_dim, samples=cfg.eval_samples,
                                seed=seed_for(cfg.seed, "eval"), device=device)
    # tqdm's disable=None: a bar only when stderr is a terminal.
    no_bar = True if not dist.is_main else (None if progress is None else not progress)

    with StopRequest() as stop:
        while state.epoch < cfg.epochs:
            # --- Epoch: this rank's batches from the first not yet trained
            stopping = run_epoch(step, first, stop, writer, no_bar, on_step)
            first = 0
            if stopping and state.step < (state.epoch + 1) * step.steps_per_epoch:
                # --- Save, interrupted midway: the position and the epoch's statistics so far
                state.partial = step.stats.partial()
                if dist.vote(not state.weights_finite())[0]:
                    raise writer.non_finite("weights", state.epoch + 1, state.step)
                writer.save(state)
                return TrainResult.of(state, "interrupted", device, stop.signum)

            # --- Evaluate: the epoch's means over all ranks, and every eval_every epochs the SWD
            row = end_epoch(step, writer)
            if evaluate is not None and state.epoch % cfg.eval_every == 0:
                with state.sampling() as sampler:
                    row.update(evaluate(sampler))

            # --- Save: sample grid, metrics, loss plot, checkpoint
            writer.save(state)
            if dist.is_main and progress is not False:
                tqdm.write(epoch_line(row, cfg.epochs))
            if stopping:
                return TrainResult.of(state, "interrupted", device, stop.signum)
    return TrainResult.of(state, "completed", device)


def run_epoch(step: TrainStep, first: int, stop: StopRequest, writer: RunWriter,
              no_bar: bool | None, on_step: Callable | None) -> bool:
    """Train the current epoch from its batch ``first``; True when a stop was requested,
    which ends the epoch after the step in progress.  Host-side checks: stop requests every
    step, the losses every log_every steps."""
    state, cfg, dist = step.state, step.cfg, step.dist
    batches = step.epoch_batches()
    bar = tqdm(total=step.steps_per_epoch, initial=first, disable=no_bar, leave=False,
               desc=f"epoch {state.epoch + 1}/{cfg.epochs}", dynamic_ncols=True)
    t0 = t_log = time.perf_counter()
    log_step, stopping = state.step, False
    for i in range(first, step.steps_per_epoch):
        step(batches[i])
        bar.update(1)
        if on_step is not None:
            on_step(state.step, state.g, state.d)
        stopping = dist.vote(stop.requested)[0]
        if state.step % cfg.log_every == 0 or stopping or i + 1 == step.steps_per_epoch:
            totals = step.stats.sums.tolist()  # the one host sync of a log interval
            if dist.vote(not all(map(math.isfinite, totals)))[0]:
                raise writer.non_finite("loss", state.epoch + 1, state.step)
            now = time.perf_counter()
            rate = (state.step - log_step) * cfg.batch_size / max(now - t_log, 1e-9)
            bar.set_postfix_str(f"loss_D {totals[0] / (i + 1):.3f}, "
                                f"loss_G {totals[1] / (i + 1):.3f}, {rate:.1f} img/s")
            t_log, log_step = now, state.step
        if stopping and i + 1 < step.steps_per_epoch:
            break
    bar.close()
    step.stats.seconds += time.perf_counter() - t0
    return stopping


def end_epoch(step: TrainStep, writer: RunWriter) -> dict:
    """Close a finished epoch: its metrics row, appended to the history.  Every rank calls it."""
    state = step.state
    means, seconds = step.stats.epoch_means(step.steps_per_epoch)
    finite = all(map(math.isfinite, means)) and state.weights_finite()
    if step.dist.vote(not finite)[0]:
        raise writer.non_finite("loss or weights", state.epoch + 1, state.step)
    state.epoch += 1
    row = {"epoch": state.epoch, "step": state.step, "loss_D": means[0], "loss_G": means[1],
           "D(x)": means[2], "D(G(z))": means[3],
           "images_per_sec": step.steps_per_epoch * step.cfg.batch_size / seconds,
           "seconds": seconds}
    state.history.append(row)
    state.partial = None
    return row


def epoch_line(row: dict, epochs: int) -> str:
    swd = f"  SWD {row['swd']:.1f} (floor {row['swd_floor']:.1f})" if "swd" in row else ""
    return (f"epoch {row['epoch']}/{epochs}  loss_D {row['loss_D']:.3f}  "
            f"loss_G {row['loss_G']:.3f}  D(x) {row['D(x)']:.3f}  D(G(z)) {row['D(G(z))']:.3f}  "
            f"{row['images_per_sec']:.1f} img/s  {row['seconds']:.1f}s{swd}")
