#!/usr/bin/env bash
# All GPU benchmarks in one go, on a fresh GPU machine, in under 5 minutes.
#
#   benchmarks/gpu.sh                 # from the repository root
#   WHEELS=/path/to/wheels DATA=/path/to/images RESULTS=gpu-results benchmarks/gpu.sh
#
# 1. Python with torch on CUDA and this package: with $WHEELS (a folder of wheels: torch,
#    torchvision, onnxruntime-gpu, onnx, onnxscript and their dependencies), a venv
#    (.venv-gpu) installed from it alone; else, when $PYTHON already has torch with CUDA (an
#    image built for GPU work, maybe with no network), that Python with this package beside
#    it (pip --target, nothing downloaded); else a venv from the machine's pip index.
# 2. Sampling: benchmarks/gpu_sampling.py, ONNX Runtime CUDA (fp32, fp16, with and without
#    I/O binding) against torch eager on the same GPU, batch 256 and 4096.  TRT=1 adds the
#    TensorRT provider (its engine build alone can take minutes).
# 3. Training: benchmarks/train_throughput.py --device cuda --amp, then again with --compile,
#    on $DATA, or on a folder of synthetic 64x64 images made here when DATA is unset
#    (throughput does not depend on the pictures). Each prints its share of a bf16 matmul
#    measured on the GPU in the same run.
# Everything printed is also written under $RESULTS; scratch files go to a temp folder.
# SMOKE=1 runs the same steps on the CPU with tiny sizes, to check the script on a machine
# without a GPU (its figures mean nothing).
# Not run on the machine it was written on
# (no GPU there): expect to adjust the first run.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv-gpu}
WHEELS=${WHEELS:-wheels}
results=${RESULTS:-gpu-results}
PYTHON=${PYTHON:-python3}
if [ "${SMOKE:-0}" = 1 ]; then
  device=cpu; sampling_args=(--device cpu --batches 8 --reps 2)
  train_args=(--device cpu --repeats 1 --g-width 16 --d-width 16); n_synthetic=256
else
  device=cuda; sampling_args=(--batches 256 4096)
  train_args=(--device cuda --amp --repeats 3); n_synthetic=2048
fi
mkdir -p "$results"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
start=$SECONDS

# --- 1. environment ------------------------------------------------------------------------
if [ -d "$WHEELS" ]; then
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --no-index --find-links "$WHEELS" -e ".[export,gpu]"
  py="$VENV/bin/python"
elif "$PYTHON" -c "import sys, torch; sys.exit(0 if '$device' == 'cpu' or torch.cuda.is_available() else 1)" 2>/dev/null; then
  "$PYTHON" -m pip install --quiet --no-deps --no-build-isolation --no-index --target "$scratch/site" .
  export PYTHONPATH="$scratch/site${PYTHONPATH:+:$PYTHONPATH}"
  py="$PYTHON"
else
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet -e ".[export,gpu]"
  py="$VENV/bin/python"
fi
if [ "$device" = cuda ]; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$results/gpu.txt"
fi
"$py" -c "import onnxruntime as o, torch; print('onnxruntime', o.__version__, o.get_available_providers()); print('torch', torch.__version__, torch.cuda.get_device_name() if torch.cuda.is_available() else 'no CUDA device')" | tee -a "$results/gpu.txt"
echo "setup: $((SECONDS - start)) s"

# --- 2. sampling ---------------------------------------------------------------------------
trt_flag=()
[ "${TRT:-0}" = 1 ] && trt_flag=(--tensorrt)
"$py" benchmarks/gpu_sampling.py "${sampling_args[@]}" ${trt_flag[@]+"${trt_flag[@]}"} | tee "$results/sampling.txt"
echo "sampling done: $((SECONDS - start)) s"

# --- 3. training ---------------------------------------------------------------------------
data=${DATA:-}
if [ -z "$data" ]; then
  data="$scratch/synthetic-images"
  "$py" - "$data" "$n_synthetic" <<'EOF'
import sys
from pathlib import Path
import numpy as np
from PIL import Image
folder = Path(sys.argv[1]) / "synthetic"
folder.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(0)
for i in range(int(sys.argv[2])):
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(folder / f"{i:04d}.png")
EOF
fi
"$py" benchmarks/train_throughput.py "$data" "${train_args[@]}" | tee "$results/train.txt"
echo "training done: $((SECONDS - start)) s"
# torch.compile on top: the warm-up epoch takes the compilation. A failure here (a compiler
# missing on the machine) must not lose the figures above.
"$py" benchmarks/train_throughput.py "$data" "${train_args[@]}" --compile \
    | tee "$results/train-compile.txt" || echo "the --compile run failed; see above" | tee -a "$results/train-compile.txt"
echo "all done: $((SECONDS - start)) s; results in $results/"
