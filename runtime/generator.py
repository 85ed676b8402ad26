"""Generator: seeds in, uint8 images out, through ONNX Runtime.

    g = Generator.load()                  # the bundled model, best provider
    images = g.sample(21, seed=0)         # uint8 (21, 64, 64, 3)

Images are (n, S, S, C) uint8 with the model's side S and channels C: 1 grey, 3 RGB, 4 RGBA
with premultiplied alpha, as the network computes them (colour = straight colour x alpha), each
colour clamped to its alpha. The writers of images.py turn RGBA into straight alpha for files.
"""
from __future__ import annotations

import os
from typing import Iterable, Iterator, Sequence

import numpy as np

from dcgan.core.images import CHANNELS, generated_images
from dcgan.core.latents import latents_for_seeds
from dcgan.core.metadata import ModelInfo

from .errors import SignatureError
from .model_file import LoadedModel, TensorSpec, load_model

DEFAULT_BATCH_SIZE = 64
EXPECTED_SIGNATURE = "one float input [N, L, 1, 1] and one output [N, C, H, W]"
FLOAT_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}
# Far beyond any DCGAN (100 in the paper), far below what would exhaust memory per latent.
MAX_LATENT = 1 << 16


def generator_info(model: LoadedModel) -> tuple[ModelInfo, bool]:
    """The model's facts and whether they were inferred (no metadata); refuses foreign models."""
    meta = model.metadata()
    if meta is not None and meta.role != "generator":
        hint = " (use it with --rank-with)" if meta.role == "discriminator" else ""
        raise SignatureError(f"{model.path} is a {meta.role} model, not a generator{hint}")
    found = f"expected {EXPECTED_SIGNATURE}, found {model.signature()}"
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise SignatureError(f"{model.path} is not a DCGAN generator: {found}")
    z, img = model.inputs[0], model.outputs[0]
    if (
        z.dtype not in FLOAT_TYPES
        or img.dtype not in FLOAT_TYPES
        or len(z.shape) != 4
        or tuple(z.shape[2:]) != (1, 1)
        or len(img.shape) != 4
    ):
        raise SignatureError(f"{model.path} is not a DCGAN generator: {found}")
    latent = z.shape[1] if isinstance(z.shape[1], int) else None
    channels = img.shape[1] if isinstance(img.shape[1], int) else None
    if channels is not None and channels not in CHANNELS:
        raise SignatureError(f"{model.path}: images must have 1, 3 or 4 channels, found {channels}")
    if meta is None:
        return _check_latent(model, _inferred_info(model, latent, channels)), True
    problems = image_problems(meta, img)
    if meta.input_name != z.name or meta.output_name != img.name:
        problems.append(
            f"metadata names {meta.input_name!r} -> {meta.output_name!r}, "
            f"the graph has {z.name!r} -> {img.name!r}"
        )
    if meta.layout != "NCHW":
        problems.append(f"layout {meta.layout!r} (this runtime reads NCHW images)")
    if meta.latent_dim is None and latent is None:
        problems.append("neither metadata nor graph give the latent size")
    if latent is not None and meta.latent_dim is not None and latent != meta.latent_dim:
        problems.append(f"metadata latent_dim {meta.latent_dim}, graph input {z}")
    if problems:
        raise SignatureError(f"{model.path}: metadata does not match the graph: {'; '.join(problems)}")
    return _check_latent(model, meta), False


def _inferred_info(model: LoadedModel, latent: int | None, channels: int | None) -> ModelInfo:
    """The facts of a generator without metadata, from its graph alone."""
    z, img = model.inputs[0], model.outputs[0]
    if latent is None:
        raise SignatureError(f"{model.path}: the latent size is not fixed in the graph ({z}) and "
                             "the model has no metadata to give it")
    if channels == 4:
        raise SignatureError(f"{model.path} makes 4-channel images and has no metadata to say "
                             "how they hold alpha; export it with dcgan-export")
    size = img.shape[2] if isinstance(img.shape[2], int) else 64
    return ModelInfo(role="generator", latent_dim=latent, image_size=size, channels=channels or 3,
                     input_name=z.name, output_name=img.name)


def image_problems(meta: ModelInfo, images: TensorSpec) -> list[str]:
    """How the image tensor ``images`` [N, C, H, W] of a graph contradicts the channels and size
    its metadata ``meta`` records (a dimension the graph leaves symbolic agrees with any)."""
    recorded = (meta.channels, meta.image_size, meta.image_size)
    if all(not isinstance(g, int) or g == r for g, r in zip(images.shape[1:], recorded)):
        return []
    return [f"metadata {meta.describe_images()} images [N, {', '.join(map(str, recorded))}], "
            f"graph {images}"]


def _check_latent(model: LoadedModel, info: ModelInfo) -> ModelInfo:
    latent = info.latent_dim if info.latent_dim is not None else model.inputs[0].shape[1]
    if not 1 <= latent <= MAX_LATENT:
        raise SignatureError(f"{model.path}: a latent of {latent} numbers is not a DCGAN's "
                             f"(1 to {MAX_LATENT})")
    return info


class Generator:
    """A loaded generator. Use ``Generator.load``; the constructor takes a LoadedModel."""

    def __init__(self, model: LoadedModel):
        self.model = model
        self.info, self.info_inferred = generator_info(model)
        self._z: TensorSpec = model.inputs[0]
        self._z_dtype = FLOAT_TYPES[self._z.dtype]
        dim0 = self._z.shape[0]
        # A graph exported with a fixed batch dimension runs chunks of exactly that size.
        self._fixed_batch = dim0 if isinstance(dim0, int) and dim0 > 0 else None

    @classmethod
    def load(
        cls, path: str | os.PathLike | None = None, provider: str = "auto", threads: int | None = None
    ) -> "Generator":
        """Open a generator ONNX (the bundled model when ``path`` is None).

        ``provider``: "auto", "cpu", "cuda", "tensorrt" or an ONNX Runtime provider name.
        ``threads``: CPU threads a batch is split across (None: one per available CPU).
        """
        return cls(load_model(path, provider, threads))

    @property
    def latent_dim(self) -> int:
        return int(self.info.latent_dim if self.info.latent_dim is not None else self._z.shape[1])

    @property
    def provider(self) -> str:
        """The execution provider that runs the model (not merely the one asked for)."""
        return self.model.choice.provider

    @property
    def provider_note(self) -> str:
        return self.model.choice.note

    @property
    def sha256(self) -> str:
        return self.model.sha256

    @property
    def placeholder(self) -> bool:
        return self.info.placeholder

    def latents(self, seeds: Iterable[int]) -> np.ndarray:
        return latents_for_seeds(seeds, self.latent_dim)

    def generate(self, latents: np.ndarray, batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
        """uint8 (n, H, W, C) images for (n, latent_dim) latents, computed in chunks."""
        latents = np.asarray(latents, dtype=np.float32)
        if latents.ndim == 0 or latents.size != len(latents) * self.latent_dim:
            raise ValueError(f"latents must be (n, {self.latent_dim}), got shape {latents.shape}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        latents = latents.reshape(len(latents), self.latent_dim)
        parts = [self._run(latents[i : i + batch_size]) for i in range(0, len(latents), batch_size)]
        if not parts:
            return np.empty((0, *self.image_shape), dtype=np.uint8)
        return np.concatenate(parts, axis=0)

    def iter_batches(
        self, seeds: Sequence[int], batch_size: int = DEFAULT_BATCH_SIZE
    ) -> Iterator[tuple[Sequence[int], np.ndarray]]:
        """(seeds of the chunk, uint8 images) for successive chunks: bounded memory for any n."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        for i in range(0, len(seeds), batch_size):
            chunk = seeds[i : i + batch_size]
            yield chunk, self._run(self.latents(chunk))

    def sample_seeds(self, seeds: Sequence[int], batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
        parts = [images for _, images in self.iter_batches(seeds, batch_size)]
        if not parts:
            return np.empty((0, *self.image_shape), dtype=np.uint8)
        return np.concatenate(parts, axis=0)

    def sample(self, n: int, seed: int = 0, batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
        """uint8 (n, H, W, C): image i is the image of seed ``seed + i``, whatever ``batch_size``."""
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        if seed < 0:
            raise ValueError(f"seed must be non-negative, got {seed}")
        return self.sample_seeds(range(seed, seed + n), batch_size)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(H, W, C) of one output image."""
        shape = self.model.outputs[0].shape
        h = shape[2] if isinstance(shape[2], int) else self.info.image_size
        w = shape[3] if isinstance(shape[3], int) else self.info.image_size
        return (h, w, self.info.channels)

    def _run(self, latents: np.ndarray) -> np.ndarray:
        n = len(latents)
        feed = latents.reshape(n, -1, 1, 1).astype(self._z_dtype, copy=False)
        if self._fixed_batch is None:
            return self._forward(feed)
        out = []
        for i in range(0, n, self._fixed_batch):
            part = feed[i : i + self._fixed_batch]
            pad = self._fixed_batch - len(part)
            if pad:
                part = np.concatenate([part, np.zeros((pad, *part.shape[1:]), part.dtype)])
            out.append(self._forward(part)[: self._fixed_batch - pad])
        return np.concatenate(out, axis=0)

    def _forward(self, feed: np.ndarray) -> np.ndarray:
        images = self.model.run(self._z.name, feed,
                                post=lambda y: generated_images(y, self.info.output_range))
        if images.shape[1:] != self.image_shape:  # what every output was sized and checked for
            (h, w, c), (gh, gw, gc) = self.image_shape, images.shape[1:]
            raise SignatureError(f"{self.model.path} computes {gw}x{gh} images with {gc} channels "
                                 f"where its graph and metadata declare {w}x{h} with {c}")
        return images
