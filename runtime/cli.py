"""dcgan-gen: sample images from a DCGAN generator ONNX with ONNX Runtime (no torch).

    dcgan-gen --n 21 --out grid.png
    dcgan-gen --seeds 0-99999 --out-dir samples/        # resumable, one PNG per seed
    dcgan-gen --interpolate 3,14,15 --steps 10 --out walk.gif
    dcgan-gen --rank-with D.onnx --oversample 4 --n 21 --out best.png

The command validates its options, loads the model and makes a job of ``dcgan.runtime.jobs``,
which checks its output before anything is sampled. Every user mistake ends as one line on
stderr and a non-zero exit (dcgan.core.command).
"""
from __future__ import annotations

from pathlib import Path

import click
from click.core import ParameterSource

from dcgan.core.command import OneLineErrors

from .errors import DcganRuntimeError
from .generator import DEFAULT_BATCH_SIZE, Generator
from .images import ANIMATION_EXTENSIONS, GRID_EXTENSIONS, MAX_GRID_IMAGES
from .model_file import DEFAULT_MODEL, MODEL_NAMES
from .shards import parse_seed_range

PROG = "dcgan-gen"
DEFAULT_OUT = Path("grid.png")
# Images one command may make: ~12 TB as .npy, a week on one CPU box. Larger jobs are split
# into --seeds ranges, which machines (or successive runs) write side by side.
MAX_JOB_IMAGES = 10**9
MAX_THREADS = 1024


def _seed_range(ctx, param, value):
    if value is None:
        return None
    try:
        seeds = parse_seed_range(value)
    except ValueError as e:
        raise click.BadParameter(str(e), ctx, param) from None
    if seeds.stop - seeds.start > MAX_JOB_IMAGES:  # len() of so long a range would overflow
        raise click.BadParameter(f"{value!r} holds {seeds.stop - seeds.start} seeds; one job makes "
                                 f"at most {MAX_JOB_IMAGES}: split it into ranges", ctx, param)
    return seeds


def _seed_list(ctx, param, value):
    if value is None:
        return None
    try:
        seeds = [int(s) for s in value.split(",") if s.strip()]
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of seeds", ctx, param) from None
    if len(seeds) < 2 or min(seeds) < 0:
        raise click.BadParameter("give at least two non-negative seeds, e.g. 3,14", ctx, param)
    return seeds


def _given(ctx: click.Context, name: str) -> bool:
    return ctx.get_parameter_source(name) not in (ParameterSource.DEFAULT, None)


@click.command(PROG, cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--n", "n", type=click.IntRange(min=1, max=MAX_JOB_IMAGES), default=21,
              show_default=True, metavar="N", help="Number of images.")
@click.option("--out", type=click.Path(path_type=Path), default=None, metavar="FILE",
              help=f"Output file, type by extension: {', '.join(GRID_EXTENSIONS)} (raw uint8 "
              f"images), .gif (with --interpolate). A grid holds at most {MAX_GRID_IMAGES} "
              "images; .npy and --out-dir take any number. RGBA: straight alpha in .png, "
              ".webp and .npy; over white in .jpg and .gif.  [default: grid.png]")
@click.option("--out-dir", type=click.Path(path_type=Path), default=None, metavar="DIR",
              help="Write one PNG per image, named by seed (seed000123.png), and a manifest; "
              "seeds whose file exists are skipped, so a killed job resumes.")
@click.option("--nrow", type=click.IntRange(min=1), default=7, show_default=True, metavar="K",
              help="Images per grid row.")
@click.option("--padding", type=click.IntRange(min=0), default=2, show_default=True, metavar="PX",
              help="Pixels between grid tiles.")
@click.option("--model", type=click.Path(path_type=Path), default=None, metavar="FILE.onnx|NAME",
              help=f"Generator ONNX, or a bundled model's name: {MODEL_NAMES} (64x64 RGB, "
                   f"RGBA).  [default: {DEFAULT_MODEL}]")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, metavar="S",
              help="Seed of the first image; image i uses seed S+i.")
@click.option("--seeds", "seed_range", callback=_seed_range, default=None, metavar="A-B",
              help="Inclusive seed range (or A+COUNT) instead of --seed/--n: give machines "
              "disjoint ranges to split a large job.")
@click.option("--batch-size", type=click.IntRange(min=1), default=DEFAULT_BATCH_SIZE,
              show_default=True, metavar="B", help="Images per inference call (bounds memory).")
@click.option("--threads", type=click.IntRange(min=1, max=MAX_THREADS), default=None, metavar="T",
              help="CPU threads, each computing its own images of a batch.  [default: one per CPU]")
@click.option("--provider", default="auto", show_default=True, metavar="NAME",
              help="auto, cpu, cuda, tensorrt, or an ONNX Runtime provider name.")
@click.option("--info", is_flag=True, help="Print the model's metadata and signature, and exit.")
@click.option("--interpolate", callback=_seed_list, default=None, metavar="A,B[,C...]",
              help="Walk (spherically) between the latents of these seeds: a grid with one "
              "row of --steps images per pair, or a .gif.")
@click.option("--steps", type=click.IntRange(min=2), default=8, show_default=True, metavar="K",
              help="Images per interpolation segment, ends included.")
@click.option("--rank-with", type=click.Path(path_type=Path), default=None, metavar="D.onnx",
              help="Discriminator ONNX: draw oversample x N images, keep the N it scores highest.")
@click.option("--oversample", type=click.IntRange(min=1, max=MAX_JOB_IMAGES), default=4,
              show_default=True, metavar="K", help="Candidates per kept image with --rank-with.")
@click.option("-q", "--quiet", is_flag=True, help="No provider line, progress bar or summary.")
@click.pass_context
def main(ctx, n, out, out_dir, nrow, padding, model, seed, seed_range, batch_size, threads,
         provider, info, interpolate, steps, rank_with, oversample, quiet):
    """Sample images from a DCGAN generator with ONNX Runtime.

    \b
    dcgan-gen --n 21 --out grid.png
    dcgan-gen --seeds 0-99999 --out-dir samples/
    dcgan-gen --interpolate 3,14,15 --steps 10 --out walk.gif
    dcgan-gen --rank-with D.onnx --oversample 4 --out best.png
    """
    if info:
        return _print_info(model, provider, threads)
    _check_combination(ctx, out, out_dir, interpolate, rank_with, seed_range)
    if seed_range is None:
        seed_range = range(seed, seed + n)
    if rank_with is not None:
        seed_range = range(seed, seed + n * oversample)
    out = out if out is not None or out_dir is not None else DEFAULT_OUT
    if out is not None and interpolate is None and out.suffix.lower() in ANIMATION_EXTENSIONS:
        raise click.UsageError(f"{out}: .gif is written only with --interpolate")

    generator = Generator.load(model, provider, threads)
    discriminator = None
    if rank_with is not None:
        from .discriminator import Discriminator

        discriminator = Discriminator.load(rank_with, provider, threads)
    job = _make_job(generator, discriminator, out, out_dir, seed_range, n, nrow, padding,
                    batch_size, interpolate, steps)  # checks the output: nothing sampled yet
    say = (lambda msg: None) if quiet else (lambda msg: click.echo(f"{PROG}: {msg}", err=True))
    say(generator.provider_note)
    if discriminator is not None and discriminator.pairs_with(generator.info) is False:
        say("note: the discriminator was exported from another checkpoint than the "
            "generator; its scores may rank these images poorly")
    if generator.placeholder:
        say(f"note: {'the bundled model' if generator.model.bundled else 'this model'} is a "
            "preliminary placeholder (see dcgan-gen --info)")
    # A bar only for jobs of several chunks: one chunk is over before a bar could help.
    chunks = -(-len(seed_range) // batch_size)
    say(job.run(progress=not quiet and chunks > 1))


def _check_combination(ctx, out, out_dir, interpolate, rank_with, seed_range) -> None:
    if out is not None and out_dir is not None:
        raise click.UsageError("give --out or --out-dir, not both")
    if interpolate is not None:
        clash = [o for o in ("n", "seed", "seed_range", "rank_with", "nrow") if _given(ctx, o)]
        if out_dir is not None:
            clash.append("out_dir")
        if clash:
            raise click.UsageError(f"--interpolate takes its seeds from its list; drop "
                                   f"{', '.join('--' + c.replace('_', '-') for c in clash)}")
    if rank_with is not None and seed_range is not None:
        raise click.UsageError("--rank-with draws candidates from --seed and --n; drop --seeds")
    if seed_range is not None and (_given(ctx, "n") or _given(ctx, "seed")):
        raise click.UsageError("--seeds sets both the first seed and the count; drop --seed/--n")
    if rank_with is not None and ctx.params["n"] > MAX_GRID_IMAGES:
        raise click.UsageError(f"--rank-with keeps at most {MAX_GRID_IMAGES} images")
    if rank_with is not None and ctx.params["n"] * ctx.params["oversample"] > MAX_JOB_IMAGES:
        raise click.UsageError(
            f"--rank-with draws --n x --oversample candidates, at most {MAX_JOB_IMAGES}")


def _make_job(generator, discriminator, out, out_dir, seeds, n, nrow, padding, batch_size,
              interpolate, steps):
    from . import jobs

    if interpolate is not None:
        return jobs.InterpolationJob(generator, interpolate, steps, out, padding, batch_size)
    if discriminator is not None:
        return jobs.RankedJob(generator, discriminator, seeds, n, out, out_dir, nrow, padding,
                              batch_size)
    if out_dir is not None:
        return jobs.FolderJob(generator, seeds, out_dir, batch_size)
    return jobs.GridJob(generator, seeds, out, nrow, padding, batch_size)


def _print_info(model, provider, threads) -> None:
    import onnxruntime as ort

    from .info import describe
    from .model_file import load_model

    loaded = load_model(model, provider, threads)
    lines, problem = describe(loaded, ort.get_available_providers())
    click.echo("\n".join(lines))
    if problem:
        raise DcganRuntimeError(problem)
