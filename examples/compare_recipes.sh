#!/usr/bin/env bash
# Whole training runs of the recipes compared in docs/results.md, one per setting, same --seed:
#
#   bash examples/compare_recipes.sh DATA OUT_DIR EPOCHS THREADS SETTING...
#
# SETTING is one of
#   d2l         the d2l chapter's preset: lr 0.005, batch 256, every parameter N(0, 0.02)
#   dcgan       DCGAN paper: lr 2e-4, beta1 0.5, batch 64, BN scale N(1, 0.02)
#   flip        dcgan + random horizontal flips
#   diffaugment dcgan + flips + DiffAugment (color, translation, cutout)
# Every run keeps an EMA of the generator beside the raw one (the EMA does not change training),
# so "EMA on/off" and "BatchNorm eval/train mode" are read from the same checkpoints with
#   python benchmarks/recipes.py DATA d2l=OUT_DIR/d2l dcgan=OUT_DIR/dcgan ...
# A run already in OUT_DIR is continued up to EPOCHS; runs can share the cores by starting two
# invocations with THREADS=1.
set -euo pipefail
data=$1 out=$2 epochs=$3 threads=$4
shift 4
for setting in "$@"; do
    case $setting in
        d2l) args=(--preset d2l) ;;
        dcgan) args=(--preset dcgan --batch-size 64) ;;
        flip) args=(--preset dcgan --batch-size 64 --flip) ;;
        diffaugment) args=(--preset dcgan --batch-size 64 --flip --diffaugment color,translation,cutout) ;;
        *) echo "compare_recipes.sh: unknown setting '$setting'" >&2; exit 2 ;;
    esac
    run=$out/$setting
    if [ -f "$run/checkpoint.pt" ]; then
        dcgan-train --out "$run" --resume --epochs "$epochs" --data "$data" --threads "$threads"
    else
        dcgan-train --data "$data" "${args[@]}" --ema --seed 1 --epochs "$epochs" \
            --threads "$threads" --out "$run"
    fi
done
