"""dcgan-score: how close a generator's images are to the real ones, read against a floor.

    dcgan-score --model G.onnx --data pokemon
    dcgan-score --images samples/ --data ./sprites --n 2048 --json score.json

Prints the multi-scale sliced Wasserstein distance (x10^3 per level and their mean) of the
samples against the data, the same figure between two disjoint halves of the data (the floor:
the best a sample set can hope for), optionally uniform noise against the data (the far end of
the scale), and the MS-SSIM diversity of the samples beside that of the real images (higher
than real = less diverse; 1.0 = every sample the same).

The real images are read at the samples' size and channels: a model's own (its metadata),
or --image-size and --channels for an --images folder. Grey is one plane of the descriptors;
RGBA samples are the Generator's, premultiplied with each colour clamped to its alpha, and the
real RGBA images are premultiplied when decoded, so the SWD compares the four premultiplied
channels, alpha included (a folder of straight-alpha PNGs is premultiplied as it loads).

No torch here: the data loads through dcgan.data (numpy and Pillow), samples come from ONNX
Runtime, and the figures from dcgan.core.quality (numpy). Without ONNX Runtime (the base
install) it still scores folders of images.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import click
import numpy as np

from dcgan.core.atomic import atomic_write_bytes, check_writable_file
from dcgan.core.command import OneLineErrors
from dcgan.core.images import CHANNELS
from dcgan.core.quality import score
from dcgan.data import DataError, load_dataset
from dcgan.runtime.model_file import MODEL_NAMES

PROG = "dcgan-score"


def sample_model(path: Path, n: int, seed: int, provider: str) -> tuple[np.ndarray, str]:
    """n images of seeds seed .. seed+n-1 from a generator ONNX."""
    try:
        from dcgan.runtime.generator import Generator
    except ImportError as e:  # onnxruntime absent: the base install scores image folders only
        raise click.ClickException(
            f"scoring a model needs ONNX Runtime ({e.name or e}): pip install 'dcgan-edge[cpu]'"
        ) from None
    g = Generator.load(path, provider=provider)
    label = (f"{path} ({n} samples, seeds {seed}-{seed + n - 1}, {g.provider}; "
             f"{g.info.describe_images()})")
    return g.sample(n, seed=seed), label


def load_real(data: str, size: int, channels: int, fit: str, cache_dir: Path | None):
    """The real images at the samples' size and channels; a DataError names what was asked."""
    try:
        return load_dataset(data, image_size=size, channels=channels, fit=fit, cache_dir=cache_dir)
    except DataError as e:
        raise DataError(f"--data {data}, read as {size}x{size} images of {channels} channel(s) "
                        f"like the samples: {e}") from None


def pick(images: np.ndarray, n: int, seed: int) -> np.ndarray:
    """At most n images, chosen at random (in their folder order) when there are more."""
    if len(images) <= n:
        return images
    keep = np.sort(np.random.default_rng([seed, 5]).choice(len(images), n, replace=False))
    return images[keep]


def format_report(result: dict, fake_label: str, real_label: str) -> str:
    res = result["resolutions"]
    head = f"{'SWD x1e3':<28}" + "".join(f"{r:>9}" for r in res) + f"{'mean':>9}"

    def row(label, d):
        return f"{label:<28}" + "".join(f"{d[str(r)]:9.2f}" for r in res) + f"{d['mean']:9.2f}"

    lines = [f"samples: {fake_label}", f"real:    {real_label}", "", head,
             row("samples vs real", result["swd"]),
             row(f"real vs real (2 x {result['floor_n']})", result["floor"])]
    if "noise" in result:
        lines.append(row("uniform noise vs real", result["noise"]))
    div = result["diversity"]
    lines += ["", f"MS-SSIM diversity over {div['pairs']} random pairs (higher = less diverse): "
                  f"samples {div['samples']:.4f}, real {div['real']:.4f}",
              f"({result['seconds']:.1f} s)"]
    return "\n".join(lines)


@click.command(PROG, cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--model", type=click.Path(path_type=Path), metavar="G.onnx",
              help=f"A generator ONNX to sample from, or a bundled model's name ({MODEL_NAMES}).")
@click.option("--images", type=click.Path(exists=True, file_okay=False, path_type=Path),
              metavar="DIR", help="A folder of sample images to score instead of a model.")
@click.option("--data", required=True, metavar="DIR_OR_SPEC",
              help="The real images: a folder, a .zip, 'pokemon' or 'fake:N'.")
@click.option("--n", "n", type=click.IntRange(2, 16384), default=2048, show_default=True,
              metavar="N", help="Samples drawn from --model (a larger --images folder: N at "
              "random); scoring holds about 0.25 MB per image.")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True,
              metavar="N", help="First sample seed, and the seed of the metric's random draws.")
@click.option("--pairs", type=click.IntRange(1, 100_000), default=1000, show_default=True,
              metavar="N", help="Random image pairs for the MS-SSIM diversity.")
@click.option("--noise", is_flag=True, help="Also score uniform noise: the far end of the scale.")
@click.option("--fit", type=click.Choice(["stretch", "pad"]), default="stretch", show_default=True,
              help="How non-square images are made square (as when training).")
@click.option("--image-size", type=click.IntRange(16, 1024), default=None, metavar="PX",
              help="With --images: the side the samples are read at (a model says its own).  "
                   "[default: 64]")
@click.option("--channels", type=click.Choice([str(c) for c in CHANNELS]), default=None,
              help="With --images: 1 grey, 3 RGB, 4 RGBA (premultiplied as it loads; a model "
                   "says its own).  [default: 3]")
@click.option("--provider", default="auto", show_default=True, metavar="NAME",
              help="ONNX Runtime provider for --model: auto, cpu, cuda, tensorrt.")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Where decoded data is cached. [default: ~/.cache/dcgan-edge]")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path),
              metavar="OUT.json", help="Also write the figures as JSON.")
def main(model, images, data, n, seed, pairs, noise, fit, image_size, channels, provider, cache_dir,
         json_out):
    """Score a generator ONNX (or a folder of its images) against real images: multi-scale
    sliced Wasserstein distance beside the real-vs-real floor, and MS-SSIM diversity."""
    if (model is None) == (images is None):
        raise click.UsageError("give exactly one of --model G.onnx or --images DIR")
    if model is not None and (image_size is not None or channels is not None):
        raise click.UsageError("--image-size and --channels describe an --images folder; a model "
                               "says its own")
    started = time.perf_counter()
    if json_out is not None:
        check_writable_file(json_out)
    if model is not None:
        fake, fake_label = sample_model(model, n, seed, provider)
    else:
        folder = load_dataset(str(images), image_size=image_size or 64, channels=int(channels or 3),
                              fit=fit, cache_dir=cache_dir)
        fake = pick(folder.images, n, seed)
        fake_label = f"{images} ({len(fake)} of {len(folder)} images)"
    real_set = load_real(data, fake.shape[1], fake.shape[3], fit, cache_dir)
    try:
        result = score(real_set.images, fake, seed=seed, pairs=pairs, noise=noise)
    except ValueError as e:  # sets the metric cannot compare (sizes, too few images)
        raise click.ClickException(str(e)) from None
    result["samples"] = fake_label
    result["data"] = {"name": real_set.name, "fingerprint": real_set.fingerprint}
    result["seconds"] = round(time.perf_counter() - started, 2)
    click.echo(format_report(result, fake_label, f"{real_set.name} ({len(real_set)} images)"))
    if json_out is not None:
        atomic_write_bytes(json_out, (json.dumps(result, indent=2) + "\n").encode())
