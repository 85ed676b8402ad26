"""An RGBA generator's samples over white, black and a checkerboard, one grid above the other,
and the colour of their edges beside that of the real images' edges.

    python examples/rgba_backgrounds.py --out docs/grid_rgba_backgrounds.png \\
        [--model pokemon-rgba] [--data sprites] [--n 21] [--seed 0] [--zoom 1]

A halo is what straight-alpha training leaves: the colour under the transparent pixels of the
data (invisible there) bleeds into the half-transparent edge pixels and shows as a fringe over
a background of another colour. dcgan-train learns premultiplied images, where the hidden
colour is 0, so there should be none; the figures printed say whether there is. Edge pixels
are those with 0 < alpha < 255; their colour is the alpha-weighted mean of the straight
colour (what the eye sees at the edge), as Rec. 601 luma, 0-255, in the samples (--n2
seeds) and in the real images read at the model's size as RGBA.
"""
from __future__ import annotations

import argparse

import numpy as np

from dcgan.core.atomic import atomic_write_bytes
from dcgan.core.images import composite, encode_png, make_grid, over_checkerboard
from dcgan.runtime import Generator

LUMA = np.array([0.299, 0.587, 0.114])
BACKGROUNDS = ("white", "black", "checkerboard")


def over(grid: np.ndarray, background: str) -> np.ndarray:
    """A premultiplied RGBA grid composited over one of BACKGROUNDS."""
    if background == "checkerboard":
        return over_checkerboard(grid)
    return composite(grid, (255, 255, 255) if background == "white" else (0, 0, 0))


def edge_figures(images: np.ndarray) -> tuple[float, float]:
    """(share of pixels that are edge pixels, their alpha-weighted straight-colour luma)."""
    alpha = images[..., 3].astype(np.float64)
    edge = (alpha > 0) & (alpha < 255)
    colour = images[..., :3][edge].astype(np.float64) @ LUMA  # premultiplied luma
    return float(edge.mean()), float(255 * colour.sum() / max(alpha[edge].sum(), 1))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="PNG of the three grids")
    p.add_argument("--model", default="pokemon-rgba", help="an RGBA generator ONNX or a bundled name")
    p.add_argument("--data", default=None, help="the real images, for their edge figures")
    p.add_argument("--n", type=int, default=21, help="images per grid")
    p.add_argument("--n2", type=int, default=1024, help="samples for the edge figures")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--nrow", type=int, default=7)
    p.add_argument("--zoom", type=int, default=1, help="nearest-neighbour magnification")
    args = p.parse_args()

    g = Generator.load(args.model)
    if g.info.channels != 4:
        raise SystemExit(f"{args.model} makes {g.info.describe_images()} images, not RGBA")
    grid = make_grid(g.sample(args.n, seed=args.seed), args.nrow, padding=2, pad_value=0)
    gap = np.full((8, grid.shape[1], 3), 128, np.uint8)
    parts = [over(grid, b) for b in BACKGROUNDS]
    picture = np.concatenate([parts[0], gap, parts[1], gap, parts[2]])
    picture = picture.repeat(args.zoom, axis=0).repeat(args.zoom, axis=1)
    atomic_write_bytes(args.out, encode_png(picture))
    print(f"{args.out}: {args.n} samples (seeds {args.seed}-{args.seed + args.n - 1}) over "
          f"{', '.join(BACKGROUNDS)}, {picture.shape[1]}x{picture.shape[0]}")

    share, luma = edge_figures(g.sample(args.n2, seed=args.seed))
    print(f"edge pixels, {args.n2} samples: {100 * share:.2f}% of pixels, luma {luma:.1f}")
    if args.data:
        from dcgan.data import load_dataset

        real = load_dataset(args.data, image_size=g.info.image_size, channels=4).images
        share, luma = edge_figures(real)
        print(f"edge pixels, {len(real)} real images: {100 * share:.2f}% of pixels, luma {luma:.1f}")


if __name__ == "__main__":
    main()
