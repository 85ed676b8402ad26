"""The run folder: what it holds, how it is opened, and how its files are written.

    config.json      the resolved options, written before training starts
    checkpoint.pt    see checkpoint.py; rewritten at every epoch end and on interruption
    samples/         epoch_0001.png ...: the fixed-noise 3x7 grid after each epoch (grey, RGB,
                     or RGBA in straight alpha with transparent gaps)
    preview.png      RGBA runs: the last grid over a checkerboard, transparency made visible
    loss.png         discriminator and generator loss per epoch
    metrics.jsonl    one JSON object per completed epoch

Every file is written to a temp file in the same folder and renamed over its target, so each
appears whole or not at all.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from dcgan.core.atomic import atomic_write_bytes, create_temp
from dcgan.core.errors import OutputError
from dcgan.data.sources import is_hidden

from .checkpoint import FILENAME as CHECKPOINT
from .errors import RunFolderError

CONFIG = "config.json"
METRICS = "metrics.jsonl"
LOSS_PLOT = "loss.png"
PREVIEW = "preview.png"
SAMPLES = "samples"


def default_out() -> Path:
    return Path("runs") / time.strftime("%Y%m%d-%H%M%S")


def is_run(out: Path) -> bool:
    return (out / CONFIG).is_file() or (out / CHECKPOINT).is_file()


def is_unstarted_run(out: Path) -> bool:
    """Options but no checkpoint: a run stopped (killed, out of disk) before its first one."""
    return (out / CONFIG).is_file() and not (out / CHECKPOINT).exists()


def check_run_folder(out: str | os.PathLike, resume: bool) -> Path:
    """Check, without creating anything, that ``out`` suits a new run (missing or empty) or,
    with ``resume``, holds one; raise RunFolderError otherwise."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise RunFolderError(f"--out {out} is a file, not a folder")
    if resume:
        if not out.is_dir() or not is_run(out):
            raise RunFolderError(f"nothing to resume: {out} is not a run folder (no {CONFIG})")
    elif is_unstarted_run(out):
        pass  # nothing trained to lose: the new run replaces it (remove_unstarted_run)
    elif out.is_dir() and any(p for p in out.iterdir() if not _empty_samples(p)):
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


def _empty_samples(path: Path) -> bool:
    # What a start stopped between making the folder and writing config.json leaves behind.
    return path.name == SAMPLES and path.is_dir() and not any(path.iterdir())


def check_outside_data(out: str | os.PathLike, data: Path | None, resume: bool) -> None:
    """Refuse a run folder inside the folder of training images: its sample grids and loss
    plot would be read as training images by the next start (and change the data's
    fingerprint, so the run could not be resumed)."""
    if data is None:
        return
    out = Path(out)
    real = Path(os.path.realpath(out))
    if not real.is_relative_to(data):
        return
    if any(is_hidden(part) for part in real.relative_to(data).parts):
        return  # the images are listed without hidden folders: .runs/ is never read
    where = (f"move it out of {data} and resume it there" if resume else
             f"choose an --out outside it, e.g. --out {data.parent / 'runs' / out.name}")
    raise RunFolderError(f"the run folder {out} is inside the --data folder {data}, so its "
                         f"sample grids would become training images; {where}")


def create_run_folder(out: str | os.PathLike) -> Path:
    """Make ``out`` and samples/ and prove them writable."""
    out = Path(out)
    try:
        (out / SAMPLES).mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RunFolderError(f"cannot write to --out {out}: {e.strerror or e}") from None
    try:
        # The temp file config.json is written through: os.access says yes to root on a
        # read-only file system.
        fd, probe = create_temp(out / CONFIG)
    except OutputError as e:
        raise RunFolderError(str(e)) from None
    try:
        os.close(fd)
    finally:  # even when interrupted: a stray file would make --out "not a run folder"
        os.unlink(probe)
    return out


def open_run_folder(out: str | os.PathLike, resume: bool) -> Path:
    """check_run_folder, then create_run_folder."""
    return create_run_folder(check_run_folder(out, resume))


def remove_unstarted_run(out: Path, made_folder: bool) -> None:
    """Remove what a new run wrote when it failed before its first checkpoint, so the same
    command can be run again (a config.json alone would make --out "already hold a run",
    whose architecture and recipe --resume could not change).  Only the run's own files
    go; a folder that held anything else stays."""
    if (out / CHECKPOINT).exists():
        return
    for name in (CONFIG, METRICS, LOSS_PLOT, PREVIEW):
        (out / name).unlink(missing_ok=True)
    for png in (out / SAMPLES).glob("epoch_*.png"):
        png.unlink(missing_ok=True)
    for folder in (out / SAMPLES, out) if made_folder else (out / SAMPLES,):
        try:
            folder.rmdir()
        except OSError:  # not empty, or already gone
            pass


def write_config(out: Path, config: dict) -> None:
    atomic_write_bytes(out / CONFIG, (json.dumps(config, indent=2) + "\n").encode())


def read_config(out: Path) -> dict:
    try:
        config = json.loads((out / CONFIG).read_text())
    except (OSError, ValueError) as e:
        raise RunFolderError(f"{out / CONFIG}: unreadable ({e})") from None
    except RecursionError:  # json's parser recurses once per nested array or object
        raise RunFolderError(f"{out / CONFIG}: not a run's options (nested too deeply to "
                             f"read)") from None
    # Valid JSON that is not an object (null, a list...) holds no options; reading null as
    # "no config" would start a brand-new default run in the user's folder.
    if not isinstance(config, dict):
        raise RunFolderError(f"{out / CONFIG}: not a run's options (JSON "
                             f"{_json_kind(config)}, not an object)")
    if "data" not in config:  # {} would resume as a default run on the default data
        raise RunFolderError(f"{out / CONFIG}: not a run's options (no 'data')")
    return config


def _json_kind(value) -> str:
    names = {type(None): "null", bool: "boolean", int: "number", float: "number",
             str: "string", list: "array"}
    return names.get(type(value), type(value).__name__)


def metrics_jsonl(history: list[dict]) -> bytes:
    """metrics.jsonl, made whole from the history, so it always agrees with the checkpoint's."""
    return "".join(json.dumps(row) + "\n" for row in history).encode()


def sample_path(out: Path, epoch: int) -> Path:
    return out / SAMPLES / f"epoch_{epoch:04d}.png"
