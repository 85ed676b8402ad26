"""dcgan-train: declare and validate the options, then start the session and say how it ended.

Exit status: 0 when training completes (or there is nothing left to train); 143 after SIGTERM
and 130 after Ctrl-C, the statuses of every dcgan-edge command, so a scheduler tells a
preempted run from a finished one (the run is saved and resumable; a signal before the first
step stops at once and says what, if anything, can be resumed); 1 for any error, printed as
one line ``dcgan-train: error: ...``.
"""
from __future__ import annotations

import re
import signal
from pathlib import Path

import click
from click.core import ParameterSource

from dcgan.core.command import (EXIT_INTERRUPTED, EXIT_TERMINATED, OneLineErrors, Terminated,
                                only_rank_zero_speaks)

from . import run_folder, session
from .checkpoint import FILENAME as CHECKPOINT
from .config import DEFAULT_PRESET, FITS, PRESETS, SEEDS
from .model import INIT_STYLES


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


class TrainCommand(OneLineErrors):
    stopped_note = "files already in the run folder are whole"


@click.command("dcgan-train", cls=TrainCommand,
               context_settings={"help_option_names": ["-h", "--help"], "show_default": True},
               epilog="Ctrl-C or SIGTERM finish the current step, save checkpoint.pt and exit "
                      "(status 130 after Ctrl-C, 143 after SIGTERM); --resume continues exactly.")
@click.option("--data", metavar="SPEC", default="pokemon",
              help="A folder or .zip of images, 'pokemon' (downloaded once) or 'fake[:N]'.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Run folder.  [default: runs/<date-time>]")
@click.option("--resume", is_flag=True, help="Continue the run in --out up to --epochs in total.")
@click.option("--preset", type=click.Choice(sorted(PRESETS)), default=DEFAULT_PRESET,
              help="Recipe defaults: small-data = lr 2e-4, batch 64, dcgan init, --flip, --ema, "
                   "--diffaugment color,translation,cutout, 340 epochs (the best on the Pokémon "
                   "sprites); dcgan = lr 2e-4, batch 128, dcgan init (the DCGAN paper); "
                   "d2l = lr 0.005, batch 256, d2l init (the d2l chapter). The last two use "
                   "no flips, EMA or DiffAugment, and 20 epochs. Options below override it.")
@click.option("--epochs", type=click.IntRange(min=1), metavar="N",
              help="Total epochs of the run (a resumed run trains the difference). [default: preset]")
@click.option("--batch-size", type=click.IntRange(min=1), metavar="N",
              help="Global batch size, split over the ranks of a torchrun job. [default: preset]")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), metavar="LR",
              help="Adam learning rate of both networks. [default: preset]")
@click.option("--init", type=click.Choice(INIT_STYLES),
              help="Weight init: d2l = every parameter N(0, 0.02); dcgan = BN scale N(1, 0.02), "
                   "shift 0. [default: preset]")
@click.option("--latent-dim", type=click.IntRange(min=1), default=100, metavar="N")
@click.option("--image-size", type=int, default=64, metavar="S",
              help="Side of the square images: 32, 64, 128 or 256 pixels (each doubling adds "
                   "one stride-2 stage to both networks).")
@click.option("--channels", type=int, default=3, metavar="C",
              help="1 (grey), 3 (RGB) or 4 (RGBA: transparency is kept, as premultiplied "
                   "alpha, instead of composited over --background).")
@click.option("--g-width", type=click.IntRange(min=1), default=64, metavar="N",
              help="Generator channels before the image layer.")
@click.option("--d-width", type=click.IntRange(min=1), default=64, metavar="N",
              help="Discriminator channels after its first layer.")
@click.option("--seed", type=click.IntRange(*SEEDS), metavar="N",
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
@click.option("--fit", type=click.Choice(FITS), default="stretch",
              help="Make images square by stretching (as the d2l chapter does) or padding.")
@click.option("--background", type=Background(), default="255,255,255", metavar="R,G,B",
              help="Colour behind transparent pixels and padding (--channels 1 and 3).")
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
def main(**options) -> int:
    """Train the DCGAN on a folder, a .zip, the pokemon sprites or fake images."""
    options["compile"] = options.pop("compile_")
    ctx = click.get_current_context()
    given = {name for name in options if ctx.get_parameter_source(
        "compile_" if name == "compile" else name) in (ParameterSource.COMMANDLINE,
                                                      ParameterSource.ENVIRONMENT)}
    if options["resume"] and options["out"] is None:
        raise click.ClickException("--resume needs --out RUN_DIR, the run folder to continue")
    out = options["out"] or run_folder.default_out()
    try:
        outcome = session.start_training(out, options, given, announce=_say)
    except Terminated:  # before the loop took the signals over: no step to finish
        _say(session.stopped_before_training(out), err=True)
        return EXIT_TERMINATED
    result, out = outcome.result, outcome.out
    if result is None:
        _say(f"nothing to train: {out} has completed {outcome.epochs_done} of "
             f"{outcome.cfg.epochs} epochs (raise --epochs to go on)")
        return 0
    last = result.last
    if last is not None:
        _say(f"loss_D {last['loss_D']:.3f}, loss_G {last['loss_G']:.3f}, "
             f"{last['images_per_sec']:.1f} examples/sec on {result.device}")
    if result.status == "interrupted":
        name = signal.Signals(result.signum).name if result.signum else "a signal"
        _say(f"stopped by {name} at step {result.step} ({result.epoch} epochs complete); saved "
             f"{out / CHECKPOINT}. Continue with: dcgan-train --out {out} --resume",
             err=True)
        return EXIT_INTERRUPTED if result.signum == signal.SIGINT else EXIT_TERMINATED
    return 0


def _say(message: str, err: bool = False) -> None:
    if only_rank_zero_speaks():  # one line from a torchrun job, not one per rank
        click.echo(message, err=err)


if __name__ == "__main__":  # python -m dcgan.train.cli, e.g. under torchrun -m
    main()
