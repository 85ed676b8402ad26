"""The jobs behind dcgan-gen, importable: each takes a loaded Generator and writes its output.

Memory stays bounded by one chunk (``batch_size`` images) plus what the output itself must
hold: the grid canvas (capped by images.MAX_GRID_IMAGES), or nothing for .npy (memory
mapped) and for folders (one file per image).
"""
from __future__ import annotations

import os
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Sequence

import numpy as np

from .discriminator import Discriminator, rank_samples
from .errors import OutputError
from .generator import DEFAULT_BATCH_SIZE, Generator
from .images import (
    ANIMATION_EXTENSIONS,
    MAX_ANIMATION_FRAMES,
    GridCanvas,
    NpyWriter,
    check_grid,
    extension,
    GRID_EXTENSIONS,
    is_whole_png,
    save_gif,
    save_grid,
    save_image,
)
from .latents import interpolation_count, interpolation_path, interpolation_rows
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


def write_grid(
    generator: Generator,
    seeds: Sequence[int],
    out: Path,
    nrow: int = 7,
    padding: int = 2,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool = False,
) -> None:
    """The images of ``seeds`` as one grid image, or a raw uint8 stack when ``out`` ends in .npy."""
    h, w, c = generator.image_shape
    check_grid(out, len(seeds), (h, w), nrow, padding)
    npy = extension(out, GRID_EXTENSIONS) == ".npy"
    sink = NpyWriter(out, (len(seeds), h, w, c)) if npy else nullcontext()
    canvas = None if npy else GridCanvas(len(seeds), (h, w, c), nrow, padding)
    with sink, progress_bar(len(seeds), progress) as bar:
        for chunk, images in generator.iter_batches(seeds, batch_size):
            if npy:
                sink.write(images)
            else:
                canvas.paste(images)
            bar.update(len(chunk))
    if canvas is not None:
        save_image(canvas.pixels, out)


def write_folder(
    generator: Generator,
    seeds: range,
    out_dir: Path,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool = False,
) -> tuple[int, int]:
    """One PNG per seed plus the range's manifest; seeds whose file exists whole are skipped
    (a truncated or empty one is written again).

    Returns (written, skipped).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    check_same_model(out_dir, seeds, generator.sha256)
    present = existing_files(out_dir)
    manifest = ManifestWriter(out_dir, seeds, model_record(generator))
    todo = []
    for s in seeds:
        name = seed_filename(s)
        if name in present and is_whole_png(out_dir / name):
            manifest.add(s, name)
        else:
            todo.append(s)
    manifest.write(force=True)
    with progress_bar(len(todo), progress) as bar:
        for chunk, images in generator.iter_batches(todo, batch_size):
            for s, img in zip(chunk, images):
                name = seed_filename(s)
                save_image(img, out_dir / name)
                manifest.add(s, name)
            manifest.write()
            bar.update(len(chunk))
    manifest.write(complete=True)
    return len(todo), len(seeds) - len(todo)


def write_interpolation(
    generator: Generator,
    seeds: Sequence[int],
    steps: int,
    out: Path,
    padding: int = 2,
    batch_size: int = DEFAULT_BATCH_SIZE,
    frame_ms: int = 80,
) -> int:
    """Spherical walks between consecutive seeds: a grid with one row per pair, or a GIF.

    Returns the number of images (grid tiles or animation frames).
    """
    check_interpolation(out, len(seeds), steps, generator.image_shape[:2], padding)
    if Path(out).suffix.lower() == ".gif":
        path = interpolation_path(seeds, steps, generator.latent_dim)
        frames = generator.generate(path, batch_size)
        save_gif(frames, out, frame_ms)
        return len(frames)
    rows = interpolation_rows(seeds, steps, generator.latent_dim)
    images = generator.generate(rows.reshape(-1, rows.shape[-1]), batch_size)
    save_grid(images, out, nrow=steps, padding=padding)
    return len(images)


def check_interpolation(out: Path, n_seeds: int, steps: int, tile: tuple[int, int],
                        padding: int = 2) -> None:
    """Refuse, before sampling, an interpolation its output cannot hold."""
    ext = extension(out, (*GRID_EXTENSIONS, *ANIMATION_EXTENSIONS))
    count = interpolation_count(n_seeds, steps, animation=ext in ANIMATION_EXTENSIONS)
    if ext in ANIMATION_EXTENSIONS:
        if count > MAX_ANIMATION_FRAMES:
            raise OutputError(f"an animation holds at most {MAX_ANIMATION_FRAMES} frames; "
                              f"{n_seeds} seeds with --steps {steps} make {count}")
    else:
        check_grid(out, count, tile, steps, padding)


def write_ranked(
    generator: Generator,
    discriminator: Discriminator,
    pool: range,
    keep: int,
    out: Path | None = None,
    out_dir: Path | None = None,
    nrow: int = 7,
    padding: int = 2,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool = False,
) -> tuple[list[int], np.ndarray]:
    """The ``keep`` images of ``pool`` the discriminator scores highest, best first."""
    if out is not None:
        check_grid(out, keep, generator.image_shape[:2], nrow, padding)
    with progress_bar(len(pool), progress, desc="ranking") as bar:
        seeds, images, scores = rank_samples(generator, discriminator, pool, keep, batch_size, bar)
    if out is not None:
        save_grid(images, out, nrow=nrow, padding=padding)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        check_same_model(out_dir, pool, generator.sha256)
        manifest = ManifestWriter(out_dir, pool, model_record(generator), kind="ranked")
        manifest.model = {**manifest.model, "discriminator_sha256": discriminator.model.sha256}
        manifest.write(force=True)  # before any image, so an interrupted job can run again
        for rank, (s, img, score) in enumerate(zip(seeds, images, scores)):
            name = seed_filename(s)
            save_image(img, out_dir / name)
            manifest.add(s, name, rank=rank, logit=round(float(score), 6))
        manifest.write(complete=True)
    return seeds, scores
