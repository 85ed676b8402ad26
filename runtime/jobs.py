"""The jobs behind dcgan-gen, importable: each takes a loaded Generator and writes its output.

A job checks its output when it is made, with the model's own image size and before any
image is sampled, and writes it when ``run`` is called; ``run`` returns the line dcgan-gen
prints. Memory stays bounded by one chunk (``batch_size`` images) plus what the output itself
must hold: the grid canvas (capped by images.MAX_GRID_IMAGES), or nothing for .npy (memory
mapped) and for folders (one file per image).

    GridJob(g, range(21), Path("grid.png")).run()
"""
from __future__ import annotations

import math
import os
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Sequence

from dcgan.core.atomic import check_free_space, check_writable_file
from dcgan.core.errors import OutputError
from dcgan.core.images import GridCanvas, is_whole_png
from dcgan.core.latents import interpolation_count, interpolation_path, interpolation_rows

from .discriminator import Discriminator, rank_samples
from .generator import DEFAULT_BATCH_SIZE, Generator
from .images import (
    ANIMATION_EXTENSIONS,
    GRID_EXTENSIONS,
    MAX_ANIMATION_FRAMES,
    NpyWriter,
    alpha_note,
    check_grid,
    extension,
    save_gif,
    save_grid,
    save_image,
)
from .shards import ManifestWriter, check_same_model, existing_files, seed_filename


def progress_bar(total: int, enabled: bool, desc: str = "sampling"):
    """A tqdm bar on stderr when it is a terminal, else a stand-in (tqdm is imported only when shown)."""
    if not enabled or not sys.stderr.isatty():
        return nullcontext(_NoBar())
    from tqdm import tqdm

    return tqdm(total=total, unit="img", desc=desc, leave=False, dynamic_ncols=True)


class _NoBar:
    def update(self, n: int) -> None:
        pass


def model_record(generator: Generator) -> dict:
    return {
        "sha256": generator.sha256,
        "file": os.path.basename(generator.model.path),
        "placeholder": generator.placeholder,
    }


def check_out_dir(out_dir: Path, seeds: range, sha256: str) -> None:
    """A folder that can take the images of ``seeds`` from the model of ``sha256``."""
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"--out-dir {out_dir} exists and is not a folder")
    if out_dir.is_dir():
        if not os.access(out_dir, os.W_OK | os.X_OK):
            raise OutputError(f"--out-dir {out_dir} is not writable")
        check_same_model(out_dir, seeds, sha256)


class GridJob:
    """The images of ``seeds`` as one grid image, or a raw uint8 stack when ``out`` ends in .npy."""

    def __init__(self, generator: Generator, seeds: range, out: Path, nrow: int = 7,
                 padding: int = 2, batch_size: int = DEFAULT_BATCH_SIZE):
        self.generator, self.seeds, self.out = generator, seeds, Path(out)
        self.nrow, self.padding, self.batch_size = nrow, padding, batch_size
        check_writable_file(self.out)
        check_grid(self.out, len(seeds), generator.image_shape[:2], nrow, padding,
                   generator.image_shape[2])
        if extension(self.out, GRID_EXTENSIONS) == ".npy":
            # The .npy is a memory-mapped sparse file: a disk too small would fail only when
            # its pages are written, after the sampling time was spent.
            check_free_space(self.out, len(seeds) * math.prod(generator.image_shape) + 128)

    def run(self, progress: bool = False) -> str:
        seeds, out = self.seeds, self.out
        h, w, c = self.generator.image_shape
        npy = extension(out, GRID_EXTENSIONS) == ".npy"
        sink = NpyWriter(out, (len(seeds), h, w, c)) if npy else nullcontext()
        canvas = None if npy else GridCanvas(len(seeds), (h, w, c), self.nrow, self.padding)
        with sink, progress_bar(len(seeds), progress) as bar:
            for chunk, images in self.generator.iter_batches(seeds, self.batch_size):
                if npy:
                    sink.write(images)
                else:
                    canvas.paste(images)
                bar.update(len(chunk))
        if canvas is not None:
            save_image(canvas.pixels, out)
        return (f"wrote {out}: {len(seeds)} images (seeds {seeds.start}-{seeds.stop - 1})"
                f"{alpha_note(out, c)}")


class FolderJob:
    """One PNG per seed plus the range's manifest; seeds whose file exists whole are skipped
    (a truncated or empty one is written again)."""

    def __init__(self, generator: Generator, seeds: range, out_dir: Path,
                 batch_size: int = DEFAULT_BATCH_SIZE):
        self.generator, self.seeds, self.out_dir = generator, seeds, Path(out_dir)
        self.batch_size = batch_size
        check_out_dir(self.out_dir, seeds, generator.sha256)

    def run(self, progress: bool = False) -> str:
        seeds, out_dir = self.seeds, self.out_dir
        out_dir.mkdir(parents=True, exist_ok=True)
        present = existing_files(out_dir)
        manifest = ManifestWriter(out_dir, seeds, model_record(self.generator))
        todo = []
        for s in seeds:
            name = seed_filename(s)
            if name in present and is_whole_png(out_dir / name):
                manifest.add(s, name)
            else:
                todo.append(s)
        manifest.write(force=True)
        with progress_bar(len(todo), progress) as bar:
            for chunk, images in self.generator.iter_batches(todo, self.batch_size):
                for s, img in zip(chunk, images):
                    name = seed_filename(s)
                    save_image(img, out_dir / name)
                    manifest.add(s, name)
                manifest.write()
                bar.update(len(chunk))
        manifest.write(complete=True)
        skipped = len(seeds) - len(todo)
        extra = f", {skipped} already there" if skipped else ""
        return f"wrote {len(todo)} images to {out_dir} (seeds {seeds.start}-{seeds.stop - 1}{extra})"


class InterpolationJob:
    """Spherical walks between consecutive seeds: a grid with one row per pair, or a GIF."""

    def __init__(self, generator: Generator, seeds: Sequence[int], steps: int, out: Path,
                 padding: int = 2, batch_size: int = DEFAULT_BATCH_SIZE, frame_ms: int = 80):
        self.generator, self.seeds, self.steps, self.out = generator, list(seeds), steps, Path(out)
        self.padding, self.batch_size, self.frame_ms = padding, batch_size, frame_ms
        check_writable_file(self.out)
        ext = extension(self.out, (*GRID_EXTENSIONS, *ANIMATION_EXTENSIONS))
        self.animation = ext in ANIMATION_EXTENSIONS
        count = interpolation_count(len(self.seeds), steps, self.animation)
        if self.animation:
            if count > MAX_ANIMATION_FRAMES:
                raise OutputError(f"an animation holds at most {MAX_ANIMATION_FRAMES} frames; "
                                  f"{len(self.seeds)} seeds with --steps {steps} make {count}")
        else:
            check_grid(self.out, count, generator.image_shape[:2], steps, padding,
                       generator.image_shape[2])

    def run(self, progress: bool = False) -> str:
        g, latent = self.generator, self.generator.latent_dim
        if self.animation:
            frames = g.generate(interpolation_path(self.seeds, self.steps, latent), self.batch_size)
            save_gif(frames, self.out, self.frame_ms)
            count = len(frames)
        else:
            rows = interpolation_rows(self.seeds, self.steps, latent)
            images = g.generate(rows.reshape(-1, latent), self.batch_size)
            save_grid(images, self.out, nrow=self.steps, padding=self.padding)
            count = len(images)
        walk = ",".join(map(str, self.seeds))
        return (f"wrote {self.out}: {count} images walking through seeds {walk}"
                f"{alpha_note(self.out, g.image_shape[2])}")


class RankedJob:
    """The ``keep`` images of ``pool`` the discriminator scores highest, best first, as a grid
    (``out``) or a folder of PNGs with a ranked manifest (``out_dir``)."""

    def __init__(self, generator: Generator, discriminator: Discriminator, pool: range, keep: int,
                 out: Path | None = None, out_dir: Path | None = None, nrow: int = 7,
                 padding: int = 2, batch_size: int = DEFAULT_BATCH_SIZE):
        self.generator, self.discriminator, self.pool, self.keep = generator, discriminator, pool, keep
        self.out, self.out_dir = out, out_dir
        self.nrow, self.padding, self.batch_size = nrow, padding, batch_size
        discriminator.expects(generator.image_shape)
        if out is not None:
            check_writable_file(out)
            check_grid(out, keep, generator.image_shape[:2], nrow, padding, generator.image_shape[2])
        if out_dir is not None:
            check_out_dir(out_dir, pool, generator.sha256)

    def run(self, progress: bool = False) -> str:
        g, d = self.generator, self.discriminator
        with progress_bar(len(self.pool), progress, desc="ranking") as bar:
            seeds, images, scores = rank_samples(g, d, self.pool, self.keep, self.batch_size, bar)
        if self.out is not None:
            save_grid(images, self.out, nrow=self.nrow, padding=self.padding)
        if self.out_dir is not None:
            out_dir = self.out_dir
            out_dir.mkdir(parents=True, exist_ok=True)
            manifest = ManifestWriter(out_dir, self.pool, model_record(g), kind="ranked")
            manifest.model = {**manifest.model, "discriminator_sha256": d.model.sha256}
            manifest.write(force=True)  # before any image, so an interrupted job can run again
            for rank, (s, img, score) in enumerate(zip(seeds, images, scores)):
                name = seed_filename(s)
                save_image(img, out_dir / name)
                manifest.add(s, name, rank=rank, logit=round(float(score), 6))
            manifest.write(complete=True)
        note = alpha_note(self.out, g.image_shape[2]) if self.out is not None else ""
        return (f"wrote {self.out or self.out_dir}: best {self.keep} of {len(self.pool)} "
                f"(logits {scores.min():.3g} to {scores.max():.3g}){note}")
