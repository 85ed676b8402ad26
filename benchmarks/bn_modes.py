"""SWD of one checkpoint's generators (EMA and raw) with BatchNorm in eval and in train mode.

    python benchmarks/bn_modes.py runs/NAME DATA_DIR [--samples 2048]

Eval mode (running statistics) is what the exported ONNX computes; train mode (batch
statistics, each image depending on its batch) is what the d2l chapter's pictures show.
"""
from __future__ import annotations

import argparse

import torch

from dcgan.runtime.quality import ms_ssim_diversity, swd
from dcgan.train.checkpoint import load_checkpoint, load_generator
from dcgan.train.data import load_dataset
from dcgan.train.quality import images_to_uint8


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint", help="checkpoint file or run folder")
    p.add_argument("data", help="the real images: folder, .zip, 'pokemon'")
    p.add_argument("--samples", type=int, default=2048)
    args = p.parse_args()

    real = load_dataset(args.data, progress=False).images
    has_ema = load_checkpoint(args.checkpoint).get("generator_ema") is not None
    latent = load_generator(args.checkpoint, ema=False).cfg.latent_dim
    z = torch.randn(args.samples, latent, 1, 1, generator=torch.Generator().manual_seed(0))
    for ema in (True, False) if has_ema else (False,):
        g = load_generator(args.checkpoint, ema=ema)
        for mode, batch in (("eval", 256), ("train", 64), ("train", 21)):
            g.train(mode == "train")
            with torch.no_grad():
                x = torch.cat([images_to_uint8(g(c)) for c in z.split(batch)]).numpy()
            r = swd(real, x, seed=0)
            print(f"{'EMA' if ema else 'raw'} BN {mode:5s} batch {batch:3d}: SWD x1e3 "
                  + " / ".join(f"{v:.2f}" for v in r.levels) + f", mean {r.mean:.2f}; "
                  f"MS-SSIM diversity {ms_ssim_diversity(x, 1000, 0):.3f}", flush=True)


if __name__ == "__main__":
    main()
