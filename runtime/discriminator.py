"""Discriminator: scores images with an exported DCGAN discriminator, for ranking samples.

It scores the uint8 images a user gets (mapped back to [-1, 1]), so a ranking reflects
exactly the pictures written, not the generator's unrounded floats. RGBA images go in as the
Generator gives them and as the discriminator was trained on them: premultiplied alpha, each
colour clamped to its alpha (the files get straight alpha only when written).
"""
from __future__ import annotations

import os
from typing import Iterator, Sequence

import numpy as np

from dcgan.core.images import from_uint8

from .errors import SignatureError
from .generator import DEFAULT_BATCH_SIZE, FLOAT_TYPES, Generator, image_problems
from .model_file import LoadedModel, load_model

EXPECTED_SIGNATURE = "one float input [N, C, H, W] and one output with one logit per image"


def check_discriminator(model: LoadedModel) -> None:
    meta = model.metadata()
    if meta is not None and meta.role != "discriminator":
        raise SignatureError(f"{model.path} is a {meta.role} model, not a discriminator")
    found = f"expected {EXPECTED_SIGNATURE}, found {model.signature()}"
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise SignatureError(f"{model.path} is not a DCGAN discriminator: {found}")
    x, logit = model.inputs[0], model.outputs[0]
    per_image = [d for d in logit.shape[1:] if d != 1]
    if x.dtype not in FLOAT_TYPES or len(x.shape) != 4 or not logit.shape or per_image:
        raise SignatureError(f"{model.path} is not a DCGAN discriminator: {found}")
    problems = image_problems(meta, x) if meta is not None else []
    if problems:
        raise SignatureError(f"{model.path}: metadata does not match the graph: {problems[0]}")


class Discriminator:
    """A loaded discriminator; ``score`` gives one logit per image (higher: looks more real)."""

    def __init__(self, model: LoadedModel):
        check_discriminator(model)
        self.model = model
        self._x = model.inputs[0]
        self._dtype = FLOAT_TYPES[self._x.dtype]

    @classmethod
    def load(
        cls, path: str | os.PathLike, provider: str = "auto", threads: int | None = None
    ) -> "Discriminator":
        return cls(load_model(path, provider, threads))

    @property
    def provider(self) -> str:
        return self.model.choice.provider

    def expects(self, image_shape: tuple[int, int, int]) -> None:
        """Refuse a generator whose images this discriminator was not built for: by the graph's
        fixed input dimensions, and by its metadata for those the graph leaves symbolic."""
        h, w, c = image_shape
        want = (c, h, w)
        meta = self.model.metadata()
        recorded = (meta.channels, meta.image_size, meta.image_size) if meta is not None else (None,) * 3
        have = [d if isinstance(d, int) else r for d, r in zip(self._x.shape[1:], recorded)]
        if any(d is not None and d != e for d, e in zip(have, want)):
            shown = ", ".join("?" if d is None else str(d) for d in have)
            raise SignatureError(f"{self.model.path} takes images [N, {shown}], the generator makes "
                                 f"[N, {c}, {h}, {w}]")

    def pairs_with(self, generator_info) -> bool | None:
        """Whether this discriminator was exported from the same checkpoint as a generator
        with metadata ``generator_info`` (None when either model does not say)."""
        mine = self.model.metadata()
        a = mine.raw.get("checkpoint_sha256") if mine is not None else None
        b = generator_info.raw.get("checkpoint_sha256") if generator_info is not None else None
        return None if not a or not b else a == b

    def score(self, images: np.ndarray, batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
        """float32 (n,) logits for uint8 (n, H, W, C) images."""
        out = []
        for i in range(0, len(images), batch_size):
            chunk = images[i : i + batch_size]
            logit = self.model.run(self._x.name, from_uint8(chunk, self._dtype))
            out.append(np.asarray(logit, dtype=np.float32).reshape(len(chunk)))
        return np.concatenate(out) if out else np.empty(0, np.float32)


def rank_samples(
    generator: Generator,
    discriminator: Discriminator,
    seeds: Sequence[int],
    keep: int,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress=None,  # a tqdm bar, advanced per chunk
) -> tuple[list[int], np.ndarray, np.ndarray]:
    """Of the images of ``seeds``, the ``keep`` best scored: (seeds, images, scores), best first.

    Memory holds the current best ``keep`` images plus one chunk, whatever len(seeds) is.
    """
    discriminator.expects(generator.image_shape)
    best_seeds = np.empty(0, dtype=np.int64)
    best_images = np.empty((0, *generator.image_shape), dtype=np.uint8)
    best_scores = np.empty(0, dtype=np.float32)
    batches: Iterator = generator.iter_batches(seeds, batch_size)
    for chunk_seeds, images in batches:
        scores = discriminator.score(images, batch_size)
        all_seeds = np.concatenate([best_seeds, np.asarray(chunk_seeds, dtype=np.int64)])
        all_images = np.concatenate([best_images, images])
        all_scores = np.concatenate([best_scores, scores])
        # Stable sort on (-score, seed) so ties keep the lower seed: same result for any chunking.
        order = np.lexsort((all_seeds, -all_scores))[:keep]
        best_seeds, best_images, best_scores = all_seeds[order], all_images[order], all_scores[order]
        if progress is not None:
            progress.update(len(chunk_seeds))
    return [int(s) for s in best_seeds], best_images, best_scores
