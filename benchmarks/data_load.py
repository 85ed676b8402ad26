"""Time load_dataset on a folder (and the same images as a .zip): cold, warm, and a baseline.

    python benchmarks/data_load.py FOLDER [--repeats 5]

cold      decode every file (a fresh, empty cache folder each time)
warm      the same call again: hash the files, then read the decoded array from the cache
baseline  what the d2l loop pays on every epoch: PIL open + convert("RGB") + bilinear resize per file
Figures are medians; ratios are against the baseline measured in the same run.
"""
from __future__ import annotations

import argparse
import tempfile
import zipfile
from pathlib import Path

from PIL import Image

from common import median_seconds
from dcgan.data import load_dataset


def d2l_epoch(files: list[Path]) -> None:
    for f in files:
        with Image.open(f) as im:
            im.convert("RGB").resize((64, 64), Image.Resampling.BILINEAR)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", metavar="FOLDER",
                        help="a folder of images (examples/get_sprites.sh fetches the sprites)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    folder = Path(args.folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file())

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        archive = tmp / "images.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            for f in files:
                zf.write(f, f.relative_to(folder).as_posix())

        d2l_epoch(files)  # warm the page cache so every row reads from memory
        baseline, _ = median_seconds(lambda: d2l_epoch(files), args.repeats)
        counter = iter(range(10**6))
        rows = {}
        for label, spec in (("folder", folder), ("zip", archive)):
            cold, _ = median_seconds(
                lambda: load_dataset(str(spec), cache_dir=tmp / f"c{next(counter)}", progress=False),
                args.repeats)
            load_dataset(str(spec), cache_dir=tmp / "warm", progress=False)
            warm, _ = median_seconds(
                lambda: load_dataset(str(spec), cache_dir=tmp / "warm", progress=False),
                args.repeats)
            rows[label] = (cold, warm)
        n = len(load_dataset(str(folder), cache_dir=tmp / "warm", progress=False))

    print(f"{n} images from {folder} ({len(files)} files), median of {args.repeats}")
    print(f"  baseline: d2l-style PIL decode, one epoch  {baseline:7.3f} s")
    for label, (cold, warm) in rows.items():
        print(f"  {label:6s} cold (decode + write cache)   {cold:7.3f} s   "
              f"{baseline / cold:5.2f}x baseline")
        print(f"  {label:6s} warm (hash + read cache)      {warm:7.3f} s   "
              f"{baseline / warm:5.2f}x baseline")


if __name__ == "__main__":
    main()
