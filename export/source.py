"""What an export starts from: a checkpoint file, a run folder, or a module in memory."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from dcgan.train.checkpoint import (
    FILENAME,
    CheckpointError,
    load_checkpoint,
    load_state,
    model_config,
    resolve_checkpoint,
)
from dcgan.train.model import Discriminator, Generator, ModelConfig

from .errors import SourceError


@dataclass
class SourceInfo:
    """A loaded checkpoint (or a bare module) and the facts the metadata records about it."""

    config: ModelConfig
    path: Path | None = None
    sha256: str | None = None
    epochs: int | None = None
    steps: int | None = None
    dataset: dict[str, Any] = field(default_factory=dict)
    checkpoint: dict[str, Any] | None = None
    module: nn.Module | None = None

    @property
    def has_ema(self) -> bool:
        return self.checkpoint is not None and self.checkpoint.get("generator_ema") is not None


def load_source(source: "str | os.PathLike | nn.Module | SourceInfo") -> SourceInfo:
    """Resolve and read ``source``; every problem becomes a one-line SourceError."""
    if isinstance(source, SourceInfo):
        return source
    if isinstance(source, nn.Module):
        cfg = getattr(source, "cfg", None)
        if not isinstance(cfg, ModelConfig):
            raise SourceError(f"{type(source).__name__} has no ModelConfig in .cfg; not a dcgan-edge network")
        return SourceInfo(config=cfg, module=source)
    try:
        path = resolve_checkpoint(source)
        ckpt = load_checkpoint(path)
        cfg = model_config(ckpt)
    except CheckpointError as e:
        raise SourceError(str(e)) from None
    dataset = ckpt.get("dataset") if isinstance(ckpt.get("dataset"), dict) else {}
    return SourceInfo(
        config=cfg,
        path=path,
        sha256=_sha256(path),
        epochs=_int_or_none(ckpt.get("epoch")),
        steps=_int_or_none(ckpt.get("step")),
        dataset=dict(dataset),
        checkpoint=ckpt,
    )


def build_generator(src: SourceInfo, ema: bool | None = None) -> tuple[Generator, bool | None]:
    """The generator in eval mode and whether its weights are the EMA ones.

    ``ema=None`` takes the EMA weights when the checkpoint has them; True requires them;
    False takes the raw weights. For a module source, the module is used as given and the
    flag is only recorded.
    """
    if src.module is not None:
        if not isinstance(src.module, Generator):
            raise SourceError(f"expected a Generator, got {type(src.module).__name__}")
        return src.module, ema
    use_ema = src.has_ema if ema is None else ema
    if use_ema and not src.has_ema:
        raise SourceError(f"{src.path}: checkpoint has no EMA generator (export the raw one instead)")
    g = Generator(src.config)
    _load(g, src.checkpoint["generator_ema" if use_ema else "generator"], "generator")
    return g.eval(), use_ema


def build_discriminator(src: SourceInfo) -> Discriminator:
    if src.module is not None:
        if not isinstance(src.module, Discriminator):
            raise SourceError(f"expected a Discriminator, got {type(src.module).__name__}")
        return src.module
    d = Discriminator(src.config)
    _load(d, src.checkpoint["discriminator"], "discriminator")
    return d.eval()


def newest_run(runs_dir: str | os.PathLike = "runs") -> Path:
    """The run folder under ``runs_dir`` whose checkpoint was written last."""
    root = Path(runs_dir)
    candidates = [p for p in root.glob(f"*/{FILENAME}") if p.is_file()] if root.is_dir() else []
    if not candidates:
        raise SourceError(f"no run folder with a {FILENAME} under {root}/; pass --checkpoint")
    return max(candidates, key=lambda p: p.stat().st_mtime).parent


def _load(module: nn.Module, state: Any, what: str) -> None:
    if not isinstance(state, dict):
        raise SourceError(f"checkpoint's {what} weights are not a state dict")
    try:
        load_state(module, state, what)
    except CheckpointError as e:
        raise SourceError(str(e)) from None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _int_or_none(v: Any) -> int | None:
    return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None
