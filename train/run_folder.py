"""The run folder: what it holds, how it is opened, and how its files are written.

    config.json      the resolved options, written before training starts
    checkpoint.pt    see checkpoint.py; rewritten at every epoch end and on interruption
    samples/         epoch_0001.png ...: the fixed-noise 3x7 grid after each epoch
    loss.png         discriminator and generator loss per epoch
    metrics.jsonl    one JSON object per completed epoch

Every file is written to a temp file in the same folder and renamed over its target, so each
appears whole or not at all.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from .checkpoint import FILENAME as CHECKPOINT
from .checkpoint import atomic_write

CONFIG = "config.json"
METRICS = "metrics.jsonl"
LOSS_PLOT = "loss.png"
SAMPLES = "samples"


class RunFolderError(Exception):
    """An --out that cannot hold this run (not a run folder, not writable, nothing to resume)."""


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    atomic_write(path, lambda f: f.write(data))


def default_out() -> Path:
    return Path("runs") / time.strftime("%Y%m%d-%H%M%S")


def is_run(out: Path) -> bool:
    return (out / CONFIG).is_file() or (out / CHECKPOINT).is_file()


def check_run_folder(out: str | os.PathLike, resume: bool) -> Path:
    """Check, without creating anything, that ``out`` suits a new run (missing or empty) or,
    with ``resume``, holds one; raise RunFolderError otherwise."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise RunFolderError(f"--out {out} is a file, not a folder")
    if resume:
        if not out.is_dir() or not is_run(out):
            raise RunFolderError(f"nothing to resume: {out} is not a run folder (no {CONFIG})")
    elif out.is_dir() and any(out.iterdir()):
        if is_run(out):
            raise RunFolderError(f"{out} already holds a run: pass --resume to continue it, "
                                 "or choose another --out")
        raise RunFolderError(f"--out {out} is not empty and is not a run folder")
    existing = out
    while not existing.exists():  # the folder that creating ``out`` would write into
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise RunFolderError(f"cannot write to --out {out}: {existing} is not a writable folder")
    return out


def create_run_folder(out: str | os.PathLike) -> Path:
    """Make ``out`` and samples/ and prove them writable."""
    out = Path(out)
    try:
        (out / SAMPLES).mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test.", dir=out)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise RunFolderError(f"cannot write to --out {out}: {e.strerror or e}") from None
    return out


def open_run_folder(out: str | os.PathLike, resume: bool) -> Path:
    """check_run_folder, then create_run_folder."""
    return create_run_folder(check_run_folder(out, resume))


def write_config(out: Path, config: dict) -> None:
    atomic_write_bytes(out / CONFIG, (json.dumps(config, indent=2) + "\n").encode())


def read_config(out: Path) -> dict:
    try:
        return json.loads((out / CONFIG).read_text())
    except (OSError, ValueError) as e:
        raise RunFolderError(f"{out / CONFIG}: unreadable ({e})") from None


def write_metrics(out: Path, history: list[dict]) -> None:
    """Rewritten whole from the history, so it always agrees with the checkpoint's."""
    text = "".join(json.dumps(row) + "\n" for row in history)
    atomic_write_bytes(out / METRICS, text.encode())


def sample_path(out: Path, epoch: int) -> Path:
    return out / SAMPLES / f"epoch_{epoch:04d}.png"
