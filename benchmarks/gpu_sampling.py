"""Sampling on a GPU: ONNX Runtime's CUDA provider (with and without I/O binding, fp32 and fp16)
against torch eager on the same GPU, at batch 256 and 4096, on the same weights.

    python benchmarks/gpu_sampling.py [--checkpoint FILE] [--tensorrt] [--reps 10]
    python benchmarks/gpu_sampling.py --device cpu --reps 2 --batches 8   # smoke test, no GPU

Rows (images/s of float images left on the device, median of --reps after a warm-up):
  torch eager fp32 / fp16      the Generator module on the GPU, latents drawn there
  onnxruntime fp32 / fp16      session.run with numpy in and out (two host copies per batch)
  ... + I/O binding            the latents live on the device (an OrtValue made once) and the
                               output is bound to device memory: no host round trip
  TensorRT fp16 (--tensorrt)   the TensorRT provider; building its engine takes minutes, so
                               it is opt-in
The ratio column is against torch eager fp32.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import onnxruntime as ort
import torch

from dcgan.export import export_generator
from dcgan.export.source import build_generator, load_source

from common import fixture_checkpoint


def median_rate(fn, batch: int, reps: int, sync) -> float:
    fn()
    sync()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t)
    return batch / statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", type=Path)
    ap.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    ap.add_argument("--batches", type=int, nargs="+", default=[256, 4096])
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--tensorrt", action="store_true", help="also time the TensorRT provider (slow engine build)")
    args = ap.parse_args()

    cuda = args.device == "cuda"
    # Without a CUDA provider the ONNX Runtime rows cannot be measured on the GPU; the torch
    # rows still can (the lent GPU machines have onnxruntime without it, and the
    # onnxruntime-gpu wheel is too big to carry there).
    with_ort = not cuda or "CUDAExecutionProvider" in ort.get_available_providers()
    if not with_ort:
        print(f"onnxruntime {ort.__version__} here has no CUDA provider (install onnxruntime-gpu): "
              "only the torch rows", flush=True)
    if cuda and not torch.cuda.is_available():
        raise SystemExit("torch sees no CUDA device")
    dev = torch.device(args.device)
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    ort_device = "cuda" if cuda else "cpu"
    provider = ["CUDAExecutionProvider", "CPUExecutionProvider"] if cuda else ["CPUExecutionProvider"]
    name = torch.cuda.get_device_name() if cuda else "CPU (smoke test)"
    print(f"device: {name}; torch {torch.__version__}, onnxruntime {ort.__version__}")

    with tempfile.TemporaryDirectory(prefix="dcgan-gpu-") as tmp:
        tmp = Path(tmp)
        ckpt, _ = fixture_checkpoint(tmp, args.checkpoint)
        precisions = ("fp32", "fp16") if with_ort else ()
        paths = {p: export_generator(ckpt, tmp / f"g-{p}.onnx", precision=p).path for p in precisions}
        g32 = build_generator(load_source(ckpt))[0].to(dev).eval()
        g16 = build_generator(load_source(ckpt))[0].to(dev).eval().half()

        sessions = {p: ort.InferenceSession(str(path), providers=provider) for p, path in paths.items()}
        if args.tensorrt and cuda and with_ort:
            trt = [("TensorrtExecutionProvider", {"trt_fp16_enable": True}), *provider]
            sessions["fp16 TensorRT"] = ort.InferenceSession(str(paths["fp32"]), providers=trt)
        for label, s in sessions.items():
            print(f"  {label}: providers {s.get_providers()}")

        print(f"\n  {'batch':>5}  {'model':<34} {'img/s':>10} {'vs torch fp32':>14}")
        for batch in args.batches:
            z_t = torch.randn(batch, 100, 1, 1, device=dev)
            z_np = z_t.cpu().numpy()
            rates = {}
            with torch.inference_mode():
                rates["torch eager fp32"] = median_rate(lambda: g32(z_t), batch, args.reps, sync)
                z_h = z_t.half()
                rates["torch eager fp16"] = median_rate(lambda: g16(z_h), batch, args.reps, sync)
            for label, s in sessions.items():
                rates[f"onnxruntime {label}"] = median_rate(lambda s=s: s.run(None, {"z": z_np}), batch, args.reps, sync)
                binding = s.io_binding()
                z_dev = ort.OrtValue.ortvalue_from_numpy(z_np, ort_device, 0)
                binding.bind_ortvalue_input("z", z_dev)
                binding.bind_output("image", ort_device)
                rates[f"onnxruntime {label} + I/O binding"] = median_rate(
                    lambda s=s, b=binding: s.run_with_iobinding(b), batch, args.reps, sync)
            base = rates["torch eager fp32"]
            for label, r in rates.items():
                print(f"  {batch:>5}  {label:<34} {r:>10.0f} {r / base:>13.2f}x")


if __name__ == "__main__":
    main()
