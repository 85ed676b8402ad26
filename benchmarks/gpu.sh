#!/usr/bin/env bash
# All GPU benchmarks in one go, on a fresh GPU machine, in under 5 minutes.
#
#   benchmarks/gpu.sh                 # from the repository root
#   WHEELS=/path/to/wheels DATA=/path/to/images OUT=gpu-results benchmarks/gpu.sh
#
# 1. A venv (.venv-gpu) with the package and its [export,gpu] dependencies: from the wheels in
#    $WHEELS when that folder exists (a machine without network: carry torch, torchvision,
#    onnxruntime-gpu, onnx, onnxscript and their dependencies there), else from the machine's
#    pip index.
# 2. Sampling: benchmarks/gpu_sampling.py, ONNX Runtime CUDA (fp32, fp16, with and without
#    I/O binding) against torch eager on the same GPU, batch 256 and 4096.  TRT=1 adds the
#    TensorRT provider (its engine build alone can take minutes).
# 3. Training: benchmarks/train_throughput.py --device cuda --amp on $DATA, or on a folder of
#    synthetic 64x64 images made here when DATA is unset (throughput does not depend on the
#    pictures).
# Everything printed is also written under $OUT.  Not run on the machine it was written on
# (no GPU there): expect to adjust the first run.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv-gpu}
WHEELS=${WHEELS:-wheels}
OUT=${OUT:-gpu-results}
PYTHON=${PYTHON:-python3}
mkdir -p "$OUT"
start=$SECONDS

# --- 1. environment ------------------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
pip_install=("$VENV/bin/python" -m pip install --quiet)
if [ -d "$WHEELS" ]; then
  pip_install+=(--no-index --find-links "$WHEELS")
fi
"${pip_install[@]}" -e ".[export,gpu]"
py="$VENV/bin/python"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
"$py" -c "import onnxruntime as o, torch; print('onnxruntime', o.__version__, o.get_available_providers()); print('torch', torch.__version__, torch.cuda.get_device_name())" | tee -a "$OUT/gpu.txt"
echo "setup: $((SECONDS - start)) s"

# --- 2. sampling ---------------------------------------------------------------------------
trt_flag=()
[ "${TRT:-0}" = 1 ] && trt_flag=(--tensorrt)
"$py" benchmarks/gpu_sampling.py --batches 256 4096 ${trt_flag[@]+"${trt_flag[@]}"} | tee "$OUT/sampling.txt"
echo "sampling done: $((SECONDS - start)) s"

# --- 3. training ---------------------------------------------------------------------------
data=${DATA:-}
if [ -z "$data" ]; then
  data="$OUT/synthetic-images"
  "$py" - "$data" <<'EOF'
import sys
from pathlib import Path
import numpy as np
from PIL import Image
folder = Path(sys.argv[1]) / "synthetic"
folder.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(0)
for i in range(2048):
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(folder / f"{i:04d}.png")
EOF
fi
"$py" benchmarks/train_throughput.py "$data" --device cuda --amp --repeats 3 | tee "$OUT/train.txt"
echo "all done: $((SECONDS - start)) s; results in $OUT/"
