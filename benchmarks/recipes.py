"""Score whole training runs against each other: the table of docs/results.md.

    python benchmarks/recipes.py DATA LABEL=CHECKPOINT... [--samples 2048] [--json OUT]

CHECKPOINT is a run folder or a checkpoint file; training time and images/s are read from the
run folder's metrics.jsonl up to the checkpoint's epoch.  For every checkpoint:
  - the EMA generator (when the run kept one) and the raw one, with BatchNorm in eval mode
    (running statistics: what the exported ONNX computes) and in train mode (batch statistics
    over batches of 64: what the d2l chapter's pictures show);
  - the generator with its eval-mode statistics recomputed over --bn-latents latents
    (dcgan.train.model.recompute_batchnorm_stats), the fix for stale running statistics.
All generators draw the same latents; SWD against the real images with seed 0, beside the
real-vs-real floor (two disjoint halves) for seeds 0, 1, 2.
"""
from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import numpy as np
import torch

from dcgan.core.images import to_uint8
from dcgan.core.ms_ssim import ms_ssim_diversity
from dcgan.core.swd import real_floor, swd
from dcgan.data import load_dataset
from dcgan.train.checkpoint import CheckpointError, load_checkpoint, load_generator, resolve_checkpoint
from dcgan.train.model import recompute_batchnorm_stats


def training_cost(ckpt_path: Path, epoch: int) -> dict:
    """Seconds and median images/s of the epochs up to ``epoch`` in the run's metrics.jsonl."""
    metrics = ckpt_path.parent / "metrics.jsonl"
    if not metrics.is_file():
        return {}
    rows = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if "seconds" in r and r.get("epoch", 0) <= epoch]
    if not rows:
        return {}
    return {"train_seconds": sum(r["seconds"] for r in rows),
            "images_per_sec": statistics.median(r["images_per_sec"] for r in rows)}


def sample(g: torch.nn.Module, z: torch.Tensor, batch: int) -> np.ndarray:
    with torch.no_grad():
        return np.concatenate([to_uint8(g(c).float().numpy()) for c in z.split(batch)])


def variants(path: str, has_ema: bool, bn_latents: int):
    """(name, generator, batch) for every way the checkpoint is scored."""
    for ema in (True, False) if has_ema else (False,):
        kind = "EMA" if ema else "raw"
        g = load_generator(path, ema=ema)
        yield f"{kind} eval", g.eval(), 256
        yield f"{kind} train64", g.train(), 64
        g = load_generator(path, ema=ema)
        recompute_batchnorm_stats(g, g.cfg.latent_dim, samples=bn_latents, batch_size=256, seed=1)
        yield f"{kind} eval, BN over {bn_latents}", g.eval(), 256


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("data", help="the real images: folder, .zip, 'pokemon'")
    p.add_argument("runs", nargs="+", metavar="LABEL=CHECKPOINT")
    p.add_argument("--samples", type=int, default=2048)
    p.add_argument("--bn-latents", type=int, default=8192)
    p.add_argument("--json", help="also write every row as JSON lines to this file")
    p.add_argument("--plot", help="also plot each run's periodic SWD (metrics.jsonl) to this PNG")
    args = p.parse_args()
    for spec in args.runs:  # before the data is decoded: DATA and a run swapped fail at once
        try:
            resolve_checkpoint(spec.rpartition("=")[2])
        except CheckpointError as e:
            p.error(str(e))
    if args.plot:
        plot_curves(args.runs, args.plot)

    real = load_dataset(args.data, progress=False).images
    rows = []
    floors = [real_floor(real, seed=s) for s in range(3)]
    for s, f in enumerate(floors):
        rows.append({"label": f"real vs real, split {s}", "levels": list(f.levels), "mean": f.mean})
    rows[0]["diversity"] = ms_ssim_diversity(real, 1000, 0)
    for spec in args.runs:
        label, _, path = spec.rpartition("=")
        ckpt = load_checkpoint(path)
        info = {"label": label or path, "epoch": ckpt["epoch"], "step": ckpt["step"],
                **training_cost(resolve_checkpoint(path), ckpt["epoch"])}
        latent = ckpt["model"]["latent_dim"]
        z = torch.randn(args.samples, latent, 1, 1, generator=torch.Generator().manual_seed(0))
        for name, g, batch in variants(path, ckpt.get("generator_ema") is not None, args.bn_latents):
            x = sample(g, z, batch)
            r = swd(real, x, seed=0)
            rows.append({**info, "generator": name, "levels": list(r.levels), "mean": r.mean,
                         "diversity": ms_ssim_diversity(x, 1000, 0)})
            print_row(rows[-1])
    print()
    print("| run | epochs | steps | train min | generator | SWD 64 / 32 / 16 | mean | MS-SSIM |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print_row(r, markdown=True)
    if args.json:
        Path(args.json).write_text("".join(json.dumps(r) + "\n" for r in rows))


def plot_curves(specs: list[str], out: str) -> None:
    """SWD logged during training against the training images seen, one line per run folder."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    floor = None
    for spec in specs:
        label, _, path = spec.rpartition("=")
        metrics = resolve_checkpoint(path).parent / "metrics.jsonl"
        ckpt = load_checkpoint(path)
        epoch, batch = ckpt["epoch"], ckpt["config"].get("batch_size", 1)
        rows = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
        rows = [r for r in rows if "swd" in r and r["epoch"] <= epoch]
        if not rows:
            continue
        per_epoch = rows[0]["step"] / rows[0]["epoch"] * batch  # images per epoch
        ax.plot([r["epoch"] * per_epoch / 1000 for r in rows], [r["swd"] for r in rows],
                marker=".", label=label or path)
        floor = rows[-1]["swd_floor"]
    if floor is not None:
        ax.axhline(floor, color="grey", linestyle="--", label="real vs real")
    ax.set_yscale("log")
    ax.set_xlabel("training images seen (thousands)")
    ax.set_ylabel("SWD ×10³ (1,024 EMA samples)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out)


def print_row(r: dict, markdown: bool = False) -> None:
    levels = " / ".join(f"{v:.2f}" for v in r["levels"])
    minutes = f"{r['train_seconds'] / 60:.0f}" if "train_seconds" in r else ""
    div = f"{r['diversity']:.3f}" if "diversity" in r else ""
    cells = [r["label"], str(r.get("epoch", "")), str(r.get("step", "")), minutes,
             r.get("generator", ""), levels, f"{r['mean']:.2f}", div]
    print(("| " + " | ".join(cells) + " |") if markdown else "  ".join(c for c in cells if c),
          flush=True)


if __name__ == "__main__":
    main()
