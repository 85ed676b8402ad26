"""The pictures of a run: the sample grid of each epoch and the loss curves, as the seed shows them."""
from __future__ import annotations

import io
import os

import numpy as np
import torch
from PIL import Image

from dcgan.core.atomic import atomic_write_bytes

GRID_ROWS, GRID_COLS = 3, 7
GRID_GAP = 2  # pixels of white between tiles


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, 3, H, W) in [-1, 1] -> (N, H, W, 3) uint8, rounding as image writers do."""
    x = images.detach().float().cpu().clamp(-1, 1).add(1).mul(127.5).round()
    return x.to(torch.uint8).permute(0, 2, 3, 1).numpy()


def grid_image(images: torch.Tensor, rows: int = GRID_ROWS, cols: int = GRID_COLS) -> Image.Image:
    tiles = to_uint8(images[: rows * cols])
    n, h, w, c = tiles.shape
    canvas = np.full((rows * h + (rows - 1) * GRID_GAP, cols * w + (cols - 1) * GRID_GAP, c),
                     255, np.uint8)
    for i in range(n):
        r, k = divmod(i, cols)
        y, x = r * (h + GRID_GAP), k * (w + GRID_GAP)
        canvas[y:y + h, x:x + w] = tiles[i]
    return Image.fromarray(canvas)


def save_grid(images: torch.Tensor, path: str | os.PathLike) -> None:
    buf = io.BytesIO()
    grid_image(images).save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())


def save_loss_plot(history: list[dict], path: str | os.PathLike) -> None:
    """Discriminator and generator loss per epoch, drawn off-screen (no display needed)."""
    # Figure + the Agg canvas directly: no pyplot global state, no backend switch for the caller.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    epochs = [row["epoch"] for row in history]
    fig = Figure(figsize=(5, 3.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    marker = "o" if len(epochs) < 30 else None
    ax.plot(epochs, [row["loss_D"] for row in history], label="discriminator", marker=marker)
    ax.plot(epochs, [row["loss_G"] for row in history], label="generator", marker=marker)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    if epochs:
        ax.set_xlim(epochs[0] - 0.5, epochs[-1] + 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    atomic_write_bytes(path, buf.getvalue())
