"""The pictures of a run: the sample grid of each epoch and the loss curves."""
from __future__ import annotations

import io

import torch

from dcgan.core.images import encode_png, make_grid, to_uint8

GRID_ROWS, GRID_COLS = 3, 7
GRID_PADDING = 2  # pixels of white around every tile


def grid_png(images: torch.Tensor) -> bytes:
    """The first GRID_ROWS x GRID_COLS of (N, 3, H, W) images in [-1, 1] as one PNG, rounded
    as the exported model's images are."""
    tiles = to_uint8(images[: GRID_ROWS * GRID_COLS].detach().float().cpu().numpy())
    grid = make_grid(tiles, nrow=GRID_COLS, padding=GRID_PADDING, pad_value=255)
    return encode_png(grid)


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
