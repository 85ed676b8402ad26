"""What the training loop writes into the run folder: at an epoch end the sample grid (and for
RGBA its preview), the metrics, the loss plot and the checkpoint; for an epoch interrupted
midway the checkpoint alone.
Rank 0 writes; every rank learns whether that failed, so none waits for a dead peer.

The files of a save are all written to temp files first, then the checkpoint is renamed into
place, then the others: a failed write (a full disk) leaves the folder as the last save left
it, and no sample grid or metrics row claims an epoch whose checkpoint is not on disk.
"""
from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import torch

from dcgan.core.atomic import atomic_path

from . import plots, run_folder
from .checkpoint import FILENAME as CHECKPOINT
from .checkpoint import save_to
from .distributed import Distributed
from .errors import NonFiniteLossError, TrainError
from .run_state import TrainingState, seed_for

N_SAMPLES = plots.GRID_ROWS * plots.GRID_COLS  # the d2l chapter's 3x7 grid


class RunWriter:
    def __init__(self, out: Path, state: TrainingState, dist: Distributed, device: torch.device,
                 dataset: dict, resumed: bool):
        self.out, self.dist, self.dataset = out, dist, dataset
        # Where the last good checkpoint stands, for the message of a run that diverges.
        self.saved_at = f"epoch {state.epoch}, step {state.step}" if resumed else None
        # The same latents for every epoch's grid, so that the grids show what training changed.
        cfg = state.cfg
        stream = torch.Generator().manual_seed(seed_for(cfg.seed, "samples"))
        self.fixed_z = torch.randn(N_SAMPLES, cfg.latent_dim, 1, 1, generator=stream).to(device)

    def save(self, state: TrainingState) -> None:
        """Write the state: an unfinished epoch (``state.partial`` set) as its checkpoint; a
        finished one with its pictures and metrics too.  Every rank calls it."""
        rng = state.rng_state(self.dist)  # a collective
        error = None
        if self.dist.is_main:
            try:
                self._write(state, rng)
            except OSError as e:
                error = e
        if self.dist.vote(error is not None)[0]:
            if error is not None:
                raise TrainError(f"cannot write the run folder: {error}") from None
            raise TrainError("rank 0 could not write the run folder")
        self.saved_at = f"epoch {state.epoch}, step {state.step}"

    def _write(self, state: TrainingState, rng: dict) -> None:
        files = []
        if state.partial is None:
            with state.sampling() as sampler:
                tiles = plots.grid_tiles(sampler(self.fixed_z))
            files = [(run_folder.sample_path(self.out, state.epoch), plots.grid_png(tiles)),
                     (self.out / run_folder.METRICS, run_folder.metrics_jsonl(state.history)),
                     (self.out / run_folder.LOSS_PLOT, plots.loss_plot_png(state.history))]
            if tiles.shape[-1] == 4:
                files.append((self.out / run_folder.PREVIEW, plots.preview_png(tiles)))
        ckpt = state.checkpoint(self.dataset, rng)
        # Each file goes to a temp file that is renamed on leaving the stack, last entered first:
        # the checkpoint, entered last, is in place before the others; a failure anywhere
        # removes every temp file not yet renamed.
        with ExitStack() as stack:
            for path, data in files:
                with open(stack.enter_context(atomic_path(path)), "wb") as f:
                    f.write(data)
            with open(stack.enter_context(atomic_path(self.out / CHECKPOINT)), "wb") as f:
                save_to(ckpt, f)

    def non_finite(self, what: str, epoch: int, step: int) -> NonFiniteLossError:
        kept = (f"the last good checkpoint ({self.saved_at}) is kept in {self.out}"
                if self.saved_at else "no checkpoint was saved")
        return NonFiniteLossError(f"{what} became non-finite (NaN or inf) in epoch {epoch} by "
                                  f"step {step}; stopped, {kept}. Try a lower --lr.")

