"""Checkpoint files: plain types only, written atomically, loadable with weights_only=True.

Layout of the dict in ``checkpoint.pt`` (FORMAT, version 1):
    format, version           identify the file as ours
    model                     ModelConfig.to_dict(): rebuilds both networks
    config                    the training options of the run (plain JSON types)
    generator, discriminator  state_dicts
    generator_ema             state_dict or None
    opt_g, opt_d              optimizer state_dicts
    epoch, step               completed epochs and optimizer steps
    rng                       {"torch": ByteTensor, "cuda": [ByteTensor...], "loader": ByteTensor,
                               "noise": [ByteTensor per rank], "noise_device": "cpu" | "cuda"}
    dataset                   {"name", "fingerprint", "count"}
    history                   per-epoch metric dicts (what metrics.jsonl holds)
    partial                   optional: statistics of an epoch interrupted midway
                              {"sums": [loss_D, loss_G, D(x), D(G(z))], "seconds"}
"""
from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

import torch

from dcgan.core.atomic import atomic_write

from .errors import CheckpointError, DamagedCheckpointError
from .model import Generator, ModelConfig

FORMAT = "dcgan-edge-checkpoint"
VERSION = 1
FILENAME = "checkpoint.pt"


def save_to(obj: Any, f: BinaryIO) -> None:
    """torch.save into an open file; a failed write raises its OSError."""
    try:
        torch.save(obj, f)
    except RuntimeError as e:
        # torch's zip writer turns a failed write (a full disk) into a RuntimeError raised
        # while it closes the archive; the OSError it hides is what the caller handles.
        if isinstance(e.__context__, OSError):
            raise e.__context__ from None
        raise


def atomic_save(obj: Any, path: str | os.PathLike) -> None:
    """torch.save, whole or not at all (see atomic_write)."""
    atomic_write(path, lambda f: save_to(obj, f))


def make_checkpoint(
    cfg: ModelConfig,
    generator: torch.nn.Module,
    discriminator: torch.nn.Module,
    *,
    generator_ema: torch.nn.Module | None = None,
    opt_g: torch.optim.Optimizer | None = None,
    opt_d: torch.optim.Optimizer | None = None,
    epoch: int = 0,
    step: int = 0,
    config: dict | None = None,
    dataset: dict | None = None,
    rng: dict | None = None,
    history: list | None = None,
) -> dict:
    """Assemble the checkpoint dict described at the top of this module."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "model": cfg.to_dict(),
        "config": dict(config or {}),
        "generator": generator.state_dict(),
        "discriminator": discriminator.state_dict(),
        "generator_ema": generator_ema.state_dict() if generator_ema is not None else None,
        "opt_g": opt_g.state_dict() if opt_g is not None else None,
        "opt_d": opt_d.state_dict() if opt_d is not None else None,
        "epoch": int(epoch),
        "step": int(step),
        "rng": dict(rng or {}),
        "dataset": dict(dataset or {}),
        "history": list(history or []),
    }


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """A checkpoint file, or a run folder holding ``checkpoint.pt``."""
    p = Path(path)
    if p.is_dir():
        p = p / FILENAME
    if not p.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    return p


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Read and validate a checkpoint; raise CheckpointError with one line on any problem."""
    p = resolve_checkpoint(path)
    if not zipfile.is_zipfile(p):
        raise CheckpointError(f"{p}: not a checkpoint file (truncated, or not written by torch.save)")
    check_crcs(p)
    try:
        ckpt = torch.load(p, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        raise CheckpointError(
            f"{p}: holds objects other than tensors and plain types (not a dcgan-edge checkpoint)"
        ) from None
    except Exception as e:  # a zip with a torn member, an unknown storage type...
        raise CheckpointError(f"{p}: not a readable checkpoint ({type(e).__name__})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{p}: not a dcgan-edge checkpoint")
    if ckpt.get("version") != VERSION:
        raise CheckpointError(
            f"{p}: checkpoint version {ckpt.get('version')} is not supported (expected {VERSION})"
        )
    for key in ("model", "generator", "discriminator"):
        if key not in ckpt:
            raise CheckpointError(f"{p}: checkpoint lacks '{key}'")
    return ckpt


def check_crcs(path: Path) -> None:
    """Refuse a file whose bytes changed after torch.save wrote them (a bad disk, a torn copy):
    torch.load reads tensor data without checking it, so a flipped byte would be trained on
    or exported.  The zip's CRC-32 of every member is checked instead."""
    try:
        with zipfile.ZipFile(path) as z:
            bad = z.testzip()  # the name of the first member whose data fails its CRC
    except Exception as e:  # a central directory that lies about its members, an odd method...
        raise DamagedCheckpointError(f"{path}: damaged: its zip records do not read back "
                                     f"({type(e).__name__})") from None
    if bad is not None:
        raise DamagedCheckpointError(f"{path}: damaged: the data of {bad} fails its CRC check")


def model_config(ckpt: dict) -> ModelConfig:
    try:
        return ModelConfig.from_dict(ckpt["model"])
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"checkpoint has an invalid model config: {e}") from None


def load_state(module: torch.nn.Module, state: dict, what: str) -> None:
    try:
        module.load_state_dict(state)
    except RuntimeError as e:
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        detail = lines[1] if len(lines) > 1 else lines[0]
        raise CheckpointError(f"{what} weights do not fit the architecture: {detail[:200]}") from None


def load_generator(
    path: str | os.PathLike, ema: bool | None = None, map_location: str = "cpu"
) -> Generator:
    """The generator of a checkpoint file or run folder, in eval mode.

    ``ema=None`` takes the EMA weights when the checkpoint has them, else the raw ones;
    True requires them; False always takes the raw weights.
    """
    ckpt = load_checkpoint(path, map_location)
    g = Generator(model_config(ckpt))
    state = ckpt["generator"]
    if ema or (ema is None and ckpt.get("generator_ema") is not None):
        if ckpt.get("generator_ema") is None:
            raise CheckpointError(f"{path}: checkpoint has no EMA generator")
        state = ckpt["generator_ema"]
    load_state(g, state, "generator")
    return g.eval()
