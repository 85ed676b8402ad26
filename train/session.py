"""One start of dcgan-train, from its options to a finished or stopped run: the run folder's
lifecycle around the training loop.

    read what a resumed run stored -> resolve the options -> join the torchrun job if any ->
    check the folder, load the data, check the options against both -> create the folder ->
    config.json -> train -> on a failure, remove what a new run wrote

Every check runs before the run folder is created, so a failed start leaves nothing behind;
a new run that fails before its first checkpoint is removed, and one that was killed before
it (config.json, no checkpoint) is replaced, so the same command can run again.  On resume,
config.json and the checkpoint are validated as the command line is, and must be one run's.
Errors are typed (dcgan.train.errors); dcgan-train prints each as one line.
"""
from __future__ import annotations

import re
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

import dcgan.data
from dcgan.core.errors import DcganError
from dcgan.core.text import format_size

from . import distributed, loop, run_folder
from .checkpoint import FILENAME, load_checkpoint
from .config import TrainConfig, identity_difference, resolve_config, stored_config
from .errors import CheckpointError, DamagedCheckpointError, RunFolderError, TrainError

# Options of dcgan-train that are not training options of the run (never stored, never
# compared on resume).
NOT_STORED = ("out", "resume", "cache_dir")


@dataclass
class Outcome:
    out: Path  # the run folder (rank 0's, on every rank of a torchrun job)
    cfg: TrainConfig
    result: loop.TrainResult | None = None  # None: the run had nothing left to train
    epochs_done: int = 0  # the completed epochs a resumed run started from


def start_training(out: Path, options: dict, given: set[str],
                   announce: Callable[[str], None]) -> Outcome:
    """Resume or start the run in ``out`` with dcgan-train's ``options`` (``given``: the names
    the user set) and train it.  ``announce`` receives the line that says what trains where,
    on rank 0 only."""
    resume = options["resume"]
    stored, ckpt = read_resume(out) if resume else (None, None)
    cfg = resolve_config({k: v for k, v in options.items() if k not in NOT_STORED},
                         given - set(NOT_STORED), stored)
    run_folder.check_outside_data(out, dcgan.data.data_folder(cfg.data), resume)
    if ckpt is not None and ckpt["epoch"] >= cfg.epochs:
        return Outcome(out, cfg, epochs_done=ckpt["epoch"])
    if cfg.threads:
        torch.set_num_threads(cfg.threads)

    dist = None
    try:
        dist, device = distributed.start(cfg.device)
        if dist.enabled:  # rank 0's random seed and default folder name for every rank
            cfg.seed, out = dist.gather((cfg.seed, out))[0]
        replacing = dist.is_main and not resume and run_folder.is_unstarted_run(out)
        image_set, made_folder = _prepare(out, cfg, dist, device, resume, options["cache_dir"])
        _check_same_data(ckpt, image_set, cfg)
        if image_set.source == str(Path(cfg.data).expanduser().resolve()):
            cfg.data = image_set.source  # a folder or .zip: resumable from any working folder
        cfg.channels_last = loop.use_channels_last(cfg, device)
        if dist.is_main:
            # The options as resolved, plus the alpha convention of the images and where they
            # ran (informative; not read back).
            run_folder.write_config(out, {**cfg.to_dict(), "alpha": cfg.model.alpha,
                                          "resolved_device": str(device),
                                          "world_size": dist.world_size})
            where = f" on {dist.world_size} ranks" if dist.enabled else ""
            replaced = " (replacing a run that had saved no checkpoint)" if replacing else ""
            announce(f"training on {len(image_set.images)} images from {image_set.name} on "
                     f"{device}{where}; run folder {out}{replaced}")
        try:
            about = {"name": image_set.name, "fingerprint": image_set.fingerprint}
            result = loop.train(image_set.images, cfg, out, checkpoint=ckpt, dist=dist,
                                device=device, dataset=about)
        except (DcganError, RuntimeError) as e:
            error = e if isinstance(e, DcganError) else out_of_memory(e, device, resume)
            if error is None:
                raise
            if dist.is_main and not resume:  # let the same command run again
                run_folder.remove_unstarted_run(out, made_folder)
            raise error from None
        # All ranks reach this point before any tears its connections down: a rank that
        # leaves first can make Gloo abort a peer still finishing its last collective.
        dist.barrier()
    finally:
        if dist is not None:
            distributed.stop(dist)
    return Outcome(out, cfg, result)


def read_resume(out: Path) -> tuple[TrainConfig, dict | None]:
    """The stored options of the run in ``out``, and its checkpoint (None for a run stopped
    before its first one, which starts again with its options).  Both files are validated,
    and must describe the same run."""
    if not run_folder.is_run(out):
        raise RunFolderError(f"nothing to resume: {out} is not a run folder")
    config_file, ckpt_file = out / run_folder.CONFIG, out / FILENAME
    written = None
    if config_file.is_file():
        written = stored_config(run_folder.read_config(out), config_file)
    if not ckpt_file.is_file():
        return written, None
    try:
        ckpt = load_checkpoint(ckpt_file)
    except DamagedCheckpointError as e:  # the file the last good state was written over
        raise DamagedCheckpointError(f"{e}; the run's last good state cannot be recovered "
                                     f"from it") from None
    saved = ckpt.get("config")
    if not isinstance(saved, dict) or "data" not in saved:  # None would read as "a new run"
        raise CheckpointError(f"{ckpt_file}: the checkpoint holds no run options")
    saved = stored_config(saved, ckpt_file)
    differs = written and identity_difference(saved, written)
    if differs:
        raise CheckpointError(f"{ckpt_file} is not the checkpoint of the run in {config_file} "
                              f"({differs}); put back the run's own checkpoint, or resume the "
                              f"run it came from in its own folder")
    return saved, ckpt


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


def _prepare(out: Path, cfg: TrainConfig, dist: distributed.Distributed, device: torch.device,
             resume: bool, cache_dir: Path | None) -> tuple[dcgan.data.ImageSet, bool]:
    """Check the folder, load the data, check the options, create the folder: (the images,
    whether the folder is new).  Rank 0 goes first (it may download and decode); the others
    then read the decoded cache.  Every rank learns of a failure and stops."""
    error, image_set, made_folder = None, None, False
    for turn in ("main", "others"):
        if (turn == "main") == dist.is_main:
            try:
                if dist.is_main:
                    run_folder.check_run_folder(out, resume)
                image_set = dcgan.data.load_dataset(
                    cfg.data, cache_dir=cache_dir, background=cfg.background, fit=cfg.fit,
                    image_size=cfg.image_size, channels=cfg.channels, progress=dist.is_main)
                check_run(cfg, len(image_set.images), dist.world_size, device)
                if dist.is_main:
                    made_folder = not out.exists()
                    if not resume and run_folder.is_unstarted_run(out):
                        run_folder.remove_unstarted_run(out, made_folder=False)
                    run_folder.create_run_folder(out)
            except DcganError as e:
                error = e
        if dist.vote(error is not None)[0]:
            raise error or TrainError("another rank failed")
    return image_set, made_folder


def _check_same_data(ckpt: dict | None, image_set: dcgan.data.ImageSet, cfg: TrainConfig) -> None:
    old = ((ckpt or {}).get("dataset") or {}).get("fingerprint")
    if old and old != image_set.fingerprint:
        raise TrainError(f"the data of --data {cfg.data} differs from the run's (fingerprint "
                         f"{image_set.fingerprint[:12]} vs {old[:12]}); resume with the same "
                         f"images")


def out_of_memory(e: RuntimeError, device, resume: bool = False) -> TrainError | None:
    """The error for an allocation failure (too wide networks, too large a batch for the
    device), or None for any other RuntimeError.  A resumed run cannot change its widths or
    batch, so its advice is another device or a new run."""
    text = str(e)
    if not (isinstance(e, torch.OutOfMemoryError) or "can't allocate memory" in text
            or "out of memory" in text.lower()):
        return None
    size = ""
    m = re.search(r"(?i)tried to allocate ([0-9.]+) ?(bytes|[KMGTP]i?B)", text)
    if m:  # torch counts in binary units, whether it writes "MB" or "MiB"
        unit = m.group(2).upper()
        scale = 1 if unit == "BYTES" else 1024 ** ("KMGTP".index(unit[0]) + 1)
        size = f" (tried to allocate {format_size(float(m.group(1)) * scale)})"
    if resume:
        return TrainError(f"out of memory on {device}{size}: this run's widths and batch do "
                          "not fit; resume it on a device with more memory, or start a new run "
                          "with another --out and a lower --g-width, --d-width or --batch-size")
    return TrainError(f"out of memory on {device}{size}: lower --g-width, --d-width or "
                      "--batch-size")


def stopped_before_training(out: Path, signum: int = signal.SIGTERM) -> str:
    """The line for a stop before the training loop took the signals over: what, if anything,
    can be resumed."""
    name = signal.Signals(signum).name
    if (out / FILENAME).is_file():
        return (f"stopped by {name}; {out / FILENAME} is the run's last checkpoint. "
                f"Continue with: dcgan-train --out {out} --resume")
    if run_folder.is_run(out):  # config.json only: --resume starts it with its stored options
        return (f"stopped by {name} before the first step; {out} holds the run's options but "
                f"no checkpoint yet. Start it with: dcgan-train --out {out} --resume")
    return (f"stopped by {name} before training started; nothing resumable was written. "
            f"Run the same command again to start")
