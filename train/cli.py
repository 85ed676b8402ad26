"""dcgan-train: validate the options, prepare the run folder and the data, call the loop.

Exit status: 0 when training completes (or there is nothing left to train) and after SIGTERM
(the run is saved and resumable; a SIGTERM before the first step stops at once and says what,
if anything, can be resumed); 130 after Ctrl-C (saved, resumable); 1 for any error.
"""
from __future__ import annotations

import os
import re
import secrets
import signal
import sys
from pathlib import Path

import click
from click.core import ParameterSource

from .config import ARCHITECTURE, DEFAULT_PRESET, PRESETS, RUNTIME, TrainConfig

# Options that are not training options of the run (never stored, never compared on resume).
NOT_STORED = ("out", "resume", "cache_dir")
EXIT_INTERRUPTED = 130


class Background(click.ParamType):
    name = "colour"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        text = str(value).strip()
        m = re.fullmatch(r"#?([0-9a-fA-F]{6})", text)
        if m:
            return tuple(int(m.group(1)[i:i + 2], 16) for i in (0, 2, 4))
        parts = text.split(",")
        if len(parts) == 3 and all(p.strip().isdigit() and int(p) <= 255 for p in parts):
            return tuple(int(p) for p in parts)
        self.fail(f"{value!r} is not a colour: use R,G,B (0-255 each) or #rrggbb", param, ctx)


class OneLineErrors(click.Command):
    """Usage mistakes as one ``Error: ...`` line, like every other error (no usage block)."""

    def main(self, args=None, prog_name=None, **extra):
        extra["standalone_mode"] = False
        try:
            code = super().main(args, prog_name, **extra)
        except click.exceptions.Abort:
            click.echo("aborted", err=True)
            sys.exit(1)
        except click.ClickException as e:
            click.echo(f"Error: {e.format_message()}", err=True)
            sys.exit(e.exit_code)
        sys.exit(code if isinstance(code, int) else 0)


@click.command(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"], "show_default": True},
               epilog="Ctrl-C or SIGTERM finish the current step, save checkpoint.pt and exit "
                      "(status 130 after Ctrl-C, 0 after SIGTERM); --resume continues exactly.")
@click.option("--data", metavar="SPEC", default="pokemon",
              help="A folder or .zip of images, 'pokemon' (downloaded once) or 'fake[:N]'.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Run folder.  [default: runs/<date-time>]")
@click.option("--resume", is_flag=True, help="Continue the run in --out up to --epochs in total.")
@click.option("--preset", type=click.Choice(sorted(PRESETS)), default=DEFAULT_PRESET,
              help="Recipe defaults: small-data = lr 2e-4, batch 64, dcgan init, --flip, --ema, "
                   "--diffaugment color,translation,cutout, 340 epochs (the best on the Pokémon "
                   "sprites); dcgan = lr 2e-4, batch 128, dcgan init (the DCGAN paper); "
                   "seed = lr 0.005, batch 256, seed init (the d2l chapter). The last two use "
                   "no flips, EMA or DiffAugment, and 20 epochs. Options below override it.")
@click.option("--epochs", type=click.IntRange(min=1), metavar="N",
              help="Total epochs of the run (a resumed run trains the difference). [default: preset]")
@click.option("--batch-size", type=click.IntRange(min=1), metavar="N",
              help="Global batch size, split over the ranks of a torchrun job. [default: preset]")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), metavar="LR",
              help="Adam learning rate of both networks. [default: preset]")
@click.option("--init", type=click.Choice(["seed", "dcgan"]),
              help="Weight init: seed = every parameter N(0, 0.02); dcgan = BN scale N(1, 0.02), "
                   "shift 0. [default: preset]")
@click.option("--latent-dim", type=click.IntRange(min=1), default=100, metavar="N")
@click.option("--g-width", type=click.IntRange(min=1), default=64, metavar="N",
              help="Generator channels before the RGB layer.")
@click.option("--d-width", type=click.IntRange(min=1), default=64, metavar="N",
              help="Discriminator channels after its first layer.")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), metavar="N",
              help="Random seed; a CPU run with the same seed is reproduced exactly. "
                   "[default: random, recorded in config.json]")
@click.option("--flip/--no-flip", default=None, show_default="preset",
              help="Random horizontal flips of the training images.")
@click.option("--diffaugment", metavar="OPS", default=None,
              help="Differentiable augmentation of everything the discriminator sees, for small "
                   "datasets: a comma list of color, translation, cutout, or none.  "
                   "[default: preset]")
@click.option("--ema/--no-ema", default=None, show_default="preset",
              help="Keep an exponential moving average of the generator (used for samples and "
                   "by dcgan-export).")
@click.option("--ema-decay", type=click.FloatRange(0, 1, max_open=True), default=0.999,
              metavar="D")
@click.option("--fit", type=click.Choice(["stretch", "pad"]), default="stretch",
              help="Make images square by stretching (the seed) or padding.")
@click.option("--background", type=Background(), default="255,255,255", metavar="R,G,B",
              help="Colour behind transparent pixels and padding.")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Where downloads and decoded arrays are cached. [default: ~/.cache/dcgan-edge]")
@click.option("--device", default="auto", metavar="NAME",
              help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps.")
@click.option("--amp", is_flag=True, help="bf16 autocast: for CUDA, and for CPUs with "
                                          "AVX512-BF16 or AMX.")
@click.option("--channels-last/--no-channels-last", default=None,
              show_default="on for CPU, and for CUDA with --amp",
              help="channels_last memory format.")
@click.option("--compile", "compile_", is_flag=True, help="torch.compile both networks.")
@click.option("--sync-bn", is_flag=True, help="SyncBatchNorm across the ranks of a torchrun job "
                                              "(CUDA only).")
@click.option("--threads", type=click.IntRange(min=0), default=0, metavar="N",
              help="CPU threads for torch (0: torch's default).")
@click.option("--log-every", type=click.IntRange(min=1), default=20, metavar="STEPS",
              help="Steps between progress-bar updates (each one waits for the device).")
@click.option("--eval-every", type=click.IntRange(min=0), default=None, metavar="EPOCHS",
              show_default="10",
              help="Epochs between multi-scale SWD evaluations against the training images, "
                   "logged to metrics.jsonl (0: never).")
@click.option("--eval-samples", type=click.IntRange(min=16), default=None, metavar="N",
              show_default="1024", help="Generated (and real) images per SWD evaluation.")
def main(**options) -> None:
    """Train the DCGAN on a folder, a .zip, the pokemon sprites or fake images."""
    options["compile"] = options.pop("compile_")
    ctx = click.get_current_context()
    given = {name for name in options if ctx.get_parameter_source(
        "compile_" if name == "compile" else name) in (ParameterSource.COMMANDLINE,
                                                      ParameterSource.ENVIRONMENT)}
    from .distributed import DeviceError

    quiet = _quiet()
    try:
        code = _run(options, given)
    except click.ClickException as e:
        if quiet:
            sys.exit(e.exit_code)
        raise
    except DeviceError as e:  # a malformed torchrun environment
        if quiet:
            sys.exit(1)
        raise click.ClickException(str(e)) from None
    except KeyboardInterrupt:  # a second Ctrl-C, or one before training started
        if not quiet:
            click.echo("interrupted; files already in the run folder are whole", err=True)
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(code)


def _quiet() -> bool:
    return os.environ.get("RANK", "0").strip() not in ("", "0")  # only rank 0 speaks


def _out_of_memory(e: RuntimeError, device, resume: bool = False) -> str | None:
    """The one line for an allocation failure (too wide networks, too large a batch for the
    device), or None for any other RuntimeError.  A resumed run cannot change its widths or
    batch, so its advice is another device or a new run."""
    import torch

    text = str(e)
    if not (isinstance(e, torch.OutOfMemoryError) or "can't allocate memory" in text
            or "out of memory" in text.lower()):
        return None
    size = ""
    m = re.search(r"(?i)tried to allocate ([0-9.]+) ?(bytes|[KMGTP]i?B)", text)
    if m:
        size = f" (tried to allocate {_size(m.group(1), m.group(2))})"
    if resume:
        return (f"out of memory on {device}{size}: this run's widths and batch do not fit; "
                "resume it on a device with more memory, or start a new run with another "
                "--out and a lower --g-width, --d-width or --batch-size")
    return f"out of memory on {device}{size}: lower --g-width, --d-width or --batch-size"


def _size(number: str, unit: str) -> str:
    if unit.lower() != "bytes":
        return f"{number} {unit}"
    n = float(number)
    for name in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or name == "TiB":
            return f"{n:.0f} bytes" if name == "bytes" else f"{n:.1f} {name}"
        n /= 1024


def resolve_config(options: dict, given: set[str], stored: dict | None) -> TrainConfig:
    """New run: preset, then the options given.  Resumed run: the stored options, of which only
    the machine-side ones may change; changing the architecture or the recipe is refused."""
    values = {k: v for k, v in options.items() if k not in NOT_STORED}
    if stored is None:
        if values.get("seed") is None:
            values["seed"] = secrets.randbits(31)
        try:
            return TrainConfig.from_options(**values)
        except ValueError as e:
            raise click.ClickException(str(e)) from None
    try:
        cfg = TrainConfig.from_dict(stored)
    except (TypeError, ValueError) as e:
        raise click.ClickException(f"the run's stored options are invalid: {e}") from None
    current = cfg.to_dict()
    names = sorted(given - set(NOT_STORED))
    # The options given, normalised as the run's stored ones were (a DiffAugment policy
    # "none" is stored as "", spaces dropped; a colour as a list): compare values, not spellings.
    try:
        asked = TrainConfig.from_dict({**current, **{n: values[n] for n in names}}).to_dict()
    except (TypeError, ValueError) as e:
        raise click.ClickException(str(e)) from None
    for name in names:
        new, old = asked.get(name, values[name]), current.get(name)
        if name in RUNTIME:
            current[name] = new
        elif new != old:
            flag = "--" + name.replace("_", "-")
            what = "architecture" if name in ARCHITECTURE else "training recipe"
            if name == "diffaugment":
                new, old = new or "none", old or "none"
            raise click.ClickException(
                f"cannot resume with {flag} {new}: the run was trained with {old} "
                f"(the {what} of a run is fixed; start a new run with another --out)")
    return TrainConfig.from_dict(current)


def _run(options: dict, given: set[str]) -> int:
    from . import run_folder
    from .signals import Terminated, terminate_raises

    out = options["out"]
    if options["resume"] and out is None:
        raise click.ClickException("--resume needs --out RUN_DIR, the run folder to continue")
    out = out or run_folder.default_out()
    try:
        # SIGTERM while the data loads or the networks are built (the loop installs its own
        # handler): a clear line and the exit status of a SIGTERM during training.
        with terminate_raises():
            return _start(out, options, given)
    except Terminated as e:
        if not _quiet():
            click.echo(_stopped_before_training(out, e.signum), err=True)
        return 0


def _stopped_before_training(out: Path, signum: int) -> str:
    from .checkpoint import FILENAME
    from .run_folder import is_run

    name = signal.Signals(signum).name
    if (out / FILENAME).is_file():
        return (f"stopped by {name}; {out / FILENAME} is the run's last checkpoint. "
                f"Continue with: dcgan-train --out {out} --resume")
    if is_run(out):  # config.json only: --resume starts it with its stored options
        return (f"stopped by {name} before the first step; {out} holds the run's options but "
                f"no checkpoint yet. Start it with: dcgan-train --out {out} --resume")
    return (f"stopped by {name} before training started; nothing resumable was written. "
            f"Run the same command again to start")


def _start(out: Path, options: dict, given: set[str]) -> int:
    import torch

    from . import distributed, run_folder
    from .checkpoint import FILENAME, CheckpointError, load_checkpoint
    from dcgan.data import DataError, data_folder, load_dataset
    from .distributed import DeviceError
    from .loop import TrainError, check_run, train, use_channels_last
    from .run_folder import RunFolderError

    resume = options["resume"]
    stored, ckpt = None, None
    if resume:
        if not run_folder.is_run(out):
            raise click.ClickException(f"nothing to resume: {out} is not a run folder")
        try:
            if (out / FILENAME).is_file():
                ckpt = load_checkpoint(out / FILENAME)
                stored = ckpt.get("config")
                if not isinstance(stored, dict) or "data" not in stored:  # None: "a new run"
                    raise CheckpointError(f"{out / FILENAME}: the checkpoint holds no run options")
            else:  # stopped before its first checkpoint: start it again with its options
                stored = run_folder.read_config(out)
        except (CheckpointError, RunFolderError) as e:
            raise click.ClickException(str(e)) from None
    cfg = resolve_config(options, given, stored)
    try:
        run_folder.check_outside_data(out, data_folder(cfg.data), resume)
    except RunFolderError as e:
        raise click.ClickException(str(e)) from None
    if ckpt is not None and ckpt["epoch"] >= cfg.epochs:
        if distributed.env_world()[0] == 0:
            click.echo(f"nothing to train: {out} has completed {ckpt['epoch']} of "
                       f"{cfg.epochs} epochs (raise --epochs to go on)")
        return 0
    if cfg.threads:
        torch.set_num_threads(cfg.threads)

    dist = None
    try:
        try:
            dist, device = distributed.start(cfg.device)
        except DeviceError as e:
            raise click.ClickException(str(e)) from None
        if dist.enabled:  # rank 0's random seed and default folder name for every rank
            cfg.seed, out = dist.gather((cfg.seed, out))[0]
        # Rank 0 prepares the folder and decodes (or downloads) the data first; the others
        # then read the decoded cache.  Every rank learns of a failure and stops.
        # The folder is created only once the data has loaded and the options fit it, so a
        # failed start leaves nothing behind.
        error = None
        ds = None
        made_folder = False
        for turn in ("main", "others"):
            if (turn == "main") == dist.is_main:
                try:
                    if dist.is_main:
                        run_folder.check_run_folder(out, resume)
                    ds = load_dataset(cfg.data, cache_dir=options["cache_dir"],
                                      background=cfg.background, fit=cfg.fit,
                                      progress=dist.is_main)
                    check_run(cfg, len(ds.images), dist.world_size, device)
                    if dist.is_main:
                        made_folder = not out.exists()
                        run_folder.create_run_folder(out)
                except (DataError, RunFolderError, TrainError) as e:
                    error = e
            if dist.vote(error is not None)[0]:
                raise click.ClickException(str(error) if error else "another rank failed")
        if ckpt is not None:
            old = (ckpt.get("dataset") or {}).get("fingerprint")
            if old and old != ds.fingerprint:
                raise click.ClickException(
                    f"the data of --data {cfg.data} differs from the run's (fingerprint "
                    f"{ds.fingerprint[:12]} vs {old[:12]}); resume with the same images")
        cfg.channels_last = use_channels_last(cfg, device)
        if dist.is_main:
            # The options as resolved, plus where they ran (informative; not read back).
            run_folder.write_config(out, {**cfg.to_dict(), "resolved_device": str(device),
                                          "world_size": dist.world_size})
            where = f" on {dist.world_size} ranks" if dist.enabled else ""
            click.echo(f"training on {len(ds.images)} images from {ds.name} on {device}{where}; "
                       f"run folder {out}")
        try:
            result = train(ds.images, cfg, out, checkpoint=ckpt, dist=dist, device=device,
                           dataset={"name": ds.name, "fingerprint": ds.fingerprint})
        except (TrainError, CheckpointError, RuntimeError) as e:
            message = str(e) if isinstance(e, (TrainError, CheckpointError)) else \
                _out_of_memory(e, device, resume)
            if message is None:
                raise
            if dist.is_main and not resume:  # let the same command run again
                run_folder.remove_unstarted_run(out, made_folder)
            raise click.ClickException(message) from None
        # All ranks reach this point before any tears its connections down: a rank that
        # leaves first can make Gloo abort a peer still finishing its last collective.
        dist.barrier()
    finally:
        if dist is not None:
            distributed.stop(dist)

    last = result.last
    if dist.is_main and last is not None:
        click.echo(f"loss_D {last['loss_D']:.3f}, loss_G {last['loss_G']:.3f}, "
                   f"{last['images_per_sec']:.1f} examples/sec on {result.device}")
    if result.status == "interrupted":
        name = signal.Signals(result.signum).name if result.signum else "a signal"
        if dist.is_main:
            click.echo(f"stopped by {name} at step {result.step} ({result.epoch} epochs complete); "
                       f"saved {out / FILENAME}. Continue with: dcgan-train --out {out} --resume",
                       err=True)
        return EXIT_INTERRUPTED if result.signum == signal.SIGINT else 0
    return 0


if __name__ == "__main__":  # python -m dcgan.train.cli, e.g. under torchrun -m
    main()
