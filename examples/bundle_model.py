"""Turn a finished training run into the bundled model: export, score, describe, write.

    python examples/bundle_model.py RUN_DIR DATA_DIR [--out runtime/models/dcgan-pokemon.onnx]
                                    [--placeholder] [--samples 2048]

The generator is exported and checked as dcgan-export does, sampled through ONNX Runtime,
scored against DATA_DIR with the multi-scale SWD (beside the real-vs-real floor and the MS-SSIM
diversity of both sets), and written again with the score and the run's training recipe in its
metadata. `dcgan-gen --info` shows both.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import click

from dcgan.export import export_generator
from dcgan.export.pipeline import DEFAULT_BN_LATENTS
from dcgan.runtime.generator import Generator
from dcgan.core.quality import score
from dcgan.data import load_dataset

RECIPE_KEYS = ("preset", "batch_size", "lr", "beta1", "beta2", "init", "ema", "ema_decay", "flip",
               "diffaugment", "fit", "background", "seed", "g_width", "d_width", "latent_dim",
               "image_size", "channels", "amp")


@click.command()
@click.argument("run", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("data", type=str)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("runtime/models/dcgan-pokemon.onnx"), show_default=True)
@click.option("--placeholder", is_flag=True,
              help="Mark the model as standing in for a properly trained one.")
@click.option("--samples", type=click.IntRange(2, 16384), default=2048, show_default=True)
@click.option("--bn-latents", type=click.IntRange(min=0), default=DEFAULT_BN_LATENTS, show_default=True,
              help="Latents the BatchNorm statistics are recomputed over (as dcgan-export).")
@click.option("--dataset-name", default=None,
              help="How the metadata names the data (instead of a local folder path).")
def main(run: Path, data: str, out: Path, placeholder: bool, samples: int, bn_latents: int,
         dataset_name: str | None) -> None:
    config = json.loads((run / "config.json").read_text())
    recipe = {k: config[k] for k in RECIPE_KEYS if k in config}
    # The epochs actually trained (a run stopped early has fewer than config.json asked for).
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    recipe["epochs"] = rows[-1]["epoch"]
    recipe["steps"] = max(r.get("step", 0) for r in rows)

    with tempfile.TemporaryDirectory() as tmp:
        first = export_generator(run, Path(tmp) / "g.onnx", bn_latents=bn_latents)
        images = Generator.load(first.path, provider="cpu").sample(samples, seed=0)
    # The real images as the run saw them: its size, channels and (RGB, grey) background.
    real = load_dataset(data, progress=False, image_size=config.get("image_size", 64),
                        channels=config.get("channels", 3), fit=config.get("fit", "stretch"),
                        **({"background": tuple(config["background"])} if config.get("background") else {}))
    name = dataset_name or real.name
    result = score(real.images, images, seed=0)
    quality = {
        "swd_x1e3": result["swd"],
        "swd_floor_x1e3": result["floor"],
        "ms_ssim_diversity": result["diversity"],
        "samples": samples,
        "data": {"name": name, "fingerprint": real.fingerprint, "count": len(real)},
    }
    report = export_generator(run, out, bn_latents=bn_latents, extra_metadata={
        "placeholder": placeholder, "quality": quality,
        "training": {"recipe": recipe, "dataset": name}})
    click.echo(str(report))
    click.echo(f"SWD x1e3 mean {result['swd']['mean']:.2f} (floor {result['floor']['mean']:.2f}); "
               f"MS-SSIM diversity {result['diversity']['samples']:.3f} "
               f"(real {result['diversity']['real']:.3f})")


if __name__ == "__main__":
    main()
