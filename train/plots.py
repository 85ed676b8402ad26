"""The pictures of a run: the sample grid of each epoch and the loss curves."""
from __future__ import annotations

import io

import numpy as np
import torch

from dcgan.core.images import encode_png, generated_images, make_grid, over_checkerboard, picture_grid

GRID_ROWS, GRID_COLS = 3, 7
GRID_PADDING = 2  # pixels around every tile: white, or transparent for RGBA


def grid_tiles(images: torch.Tensor) -> np.ndarray:
    """The first GRID_ROWS x GRID_COLS of (N, C, H, W) images in [-1, 1] as uint8 (n, H, W, C),
    rounded as the exported model's images are; RGBA premultiplied, colour clamped to alpha."""
    return generated_images(images[: GRID_ROWS * GRID_COLS].detach().float().cpu().numpy())


def grid_png(tiles: np.ndarray) -> bytes:
    """The sample grid as one PNG: grey, RGB, or RGBA in straight alpha with transparent gaps."""
    return encode_png(picture_grid(tiles, nrow=GRID_COLS, padding=GRID_PADDING, pad_value=255))


def preview_png(tiles: np.ndarray) -> bytes:
    """An RGBA sample grid over a checkerboard, opaque: transparency made visible."""
    grid = make_grid(tiles, nrow=GRID_COLS, padding=GRID_PADDING, pad_value=0)
    return encode_png(over_checkerboard(grid))


def loss_plot_png(history: list[dict]) -> bytes:
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
    return buf.getvalue()
