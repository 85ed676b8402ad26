"""fp32, fp16 and int8 sampling on this CPU, on the same weights, in one run.

    python benchmarks/precision.py                                  # default DCGAN, random weights
    python benchmarks/precision.py --checkpoint runs/x/checkpoint.pt  # trained weights (copied first)
    python benchmarks/precision.py --quick                          # fewer repetitions

Exports the generator and the discriminator at each precision with dcgan.export (which
measures each variant against fp32: PSNR, max error, SWD of 512 images), then prints, at
batch 256, medians of interleaved repetitions (every model sees the same machine load):
  * generator images/s through dcgan.runtime Generator.sample (seeds -> uint8 images) and
    through inference alone, run as the runtime runs it (a single-threaded session, the batch
    split across the threads), torch eager (the same weights, torch.randn -> uint8) as the
    baseline, each model's rate as a fraction of this CPU's peak arithmetic rate;
  * discriminator images/s (inference alone, as above), against torch eager;
  * alternatives that were measured and not kept: int8 of the graph as exported
    (ConvTranspose in QDQ form), and the sub-pixel generator in fp32.
The peak: a VM reports the nominal clock, not the one the cores run at, so the per-core rate
is measured with benchmarks/simd_peak.c (independent AVX-512 FMA chains for fp32, VNNI
dot products for int8; compiled with the system's cc) and multiplied by the cores; without a
compiler, cores x nominal clock x FLOPs per cycle. An int8 model's rate is set against the
int8 peak, the others against the fp32 one; the work counted is the network's useful
multiply-adds (the sub-pixel form's extra zero taps are not counted).
A checkpoint is copied to a temp folder before it is read: a training run may be rewriting it.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import onnx
import torch

from dcgan.export import export_discriminator, export_generator
from dcgan.export.onnx_export import generator_spec
from dcgan.export.options import ExportOptions
from dcgan.export.precision import generator_inputs
from dcgan.export.passes.quantize import quantize_int8
from dcgan.export.passes.subpixel import rewrite_subpixel
from dcgan.runtime import Generator
from dcgan.runtime.parallel import run_split
from dcgan.runtime.providers import available_cpus, session_options
from dcgan.core.images import to_uint8
from dcgan.train.model import ModelConfig, build_models

from common import fixture_checkpoint, interleaved_medians
from peak import describe_peak

BATCH = 256
PRECISIONS = ("fp32", "fp16", "int8")


# --- the weights ---------------------------------------------------------------------------


def flops_per_image(cfg: ModelConfig) -> tuple[float, float]:
    """(generator, discriminator) multiply-adds x 2 per image, counted layer by layer."""
    g, d = build_models(cfg)
    total = {}
    for name, net, x in (("g", g, torch.zeros(1, cfg.latent_dim, 1, 1)), ("d", d, torch.zeros(1, 3, 64, 64))):
        macs = []

        def hook(m, inp, out, macs=macs):
            k = m.weight.shape[2] * m.weight.shape[3]
            if isinstance(m, torch.nn.ConvTranspose2d):
                macs.append(inp[0].shape[2] * inp[0].shape[3] * m.in_channels * m.out_channels * k)
            else:
                macs.append(out.shape[2] * out.shape[3] * m.in_channels * m.out_channels * k)

        hooks = [m.register_forward_hook(hook) for m in net.modules()
                 if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
        with torch.no_grad():
            net.eval()(x)
        for h in hooks:
            h.remove()
        total[name] = 2.0 * sum(macs)
    return total["g"], total["d"]


# --- timing --------------------------------------------------------------------------------

THREADS: int | None = None  # --threads; None: the runtime's default (one per core)


def session(path_or_model):
    """A callable x -> first output, run as dcgan.runtime runs a CPU model: one single-threaded
    session, the batch split across the threads (dcgan.runtime.parallel)."""
    import onnxruntime as ort

    data = path_or_model.SerializeToString() if isinstance(path_or_model, onnx.ModelProto) else str(path_or_model)
    s = ort.InferenceSession(data, session_options(1), providers=["CPUExecutionProvider"])
    name, workers = s.get_inputs()[0].name, THREADS or available_cpus()
    return lambda x: run_split(s, name, x, workers)


def torch_generate(g, z: torch.Tensor):
    with torch.inference_mode():
        return to_uint8(g(z).numpy())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", type=Path, help="trained checkpoint.pt (copied to a temp folder first)")
    ap.add_argument("--quick", action="store_true", help="3 repetitions instead of 7")
    ap.add_argument("--no-alternatives", action="store_true", help="skip the variants that were not kept")
    ap.add_argument("--threads", type=int, help="threads for ONNX Runtime and torch [default: one per core]")
    args = ap.parse_args()
    reps = 3 if args.quick else 7
    global THREADS
    THREADS = args.threads
    if args.threads:
        torch.set_num_threads(args.threads)

    import onnxruntime as ort

    threads = f"{args.threads} threads" if args.threads else "one thread per CPU"
    print(f"onnxruntime {ort.__version__} ({threads}: a single-threaded session, each batch split "
          f"across the threads, as dcgan.runtime runs it), torch {torch.__version__} "
          f"({torch.get_num_threads()} threads); a shared machine is noisy")
    with tempfile.TemporaryDirectory(prefix="dcgan-precision-") as tmp:
        tmp = Path(tmp)
        peak, peak_int8 = describe_peak(tmp, args.threads)
        ckpt, what = fixture_checkpoint(tmp, args.checkpoint)
        print(f"weights: {what}")
        reports = {}
        for p in PRECISIONS:
            reports[p] = (export_generator(ckpt, tmp / f"g-{p}.onnx", precision=p),
                          export_discriminator(ckpt, tmp / f"d-{p}.onnx", precision=p))
        from dcgan.export.source import build_discriminator, build_generator, load_source

        src = load_source(ckpt)
        g_torch, d_torch = build_generator(src)[0].eval(), build_discriminator(src).eval()
        g_flops, d_flops = flops_per_image(src.config)
        print(f"cost per image: generator {g_flops / 1e9:.3f} GFLOP, discriminator {d_flops / 1e9:.3f} GFLOP")

        # Generator ------------------------------------------------------------------------
        gens = {p: Generator.load(reports[p][0].path, provider="cpu", threads=THREADS) for p in PRECISIONS}
        sessions = {p: session(reports[p][0].path) for p in PRECISIONS}
        z = np.random.default_rng(1).standard_normal((BATCH, src.config.latent_dim, 1, 1), dtype=np.float32)
        zt = torch.from_numpy(z)
        fns = {"torch eager": lambda: torch_generate(g_torch, zt)}
        for p in PRECISIONS:
            fns[f"{p} sample"] = lambda p=p: gens[p].sample(BATCH, seed=1, batch_size=BATCH)
            fns[f"{p} run"] = lambda p=p: sessions[p](z)
        alternatives = {}
        if not args.no_alternatives:
            fp32_graph = onnx.load(str(reports["fp32"][0].path))
            spec = generator_spec(src.config.latent_dim, 3, 64)
            calib = generator_inputs(spec, ExportOptions(precision="int8")).calibration
            alternatives = {
                "int8, ConvTranspose graph (QDQ)": session(quantize_int8(fp32_graph, "z", calib)),
                "fp32, sub-pixel graph": session(rewrite_subpixel(fp32_graph)),
            }
            for k, s in alternatives.items():
                fns[k] = lambda s=s: s(z)
        med = interleaved_medians(fns, reps)
        ips = {k: BATCH / t for k, t in med.items()}

        def pct(name: str, rate: float, flops: float) -> str:
            top = peak_int8 if name.startswith("int8") else peak
            return f"{rate * flops / 1e9 / top:>7.1%}"

        print(f"\nGenerator, batch {BATCH}, images/s (median of {reps}). sample: Generator.sample, "
              f"seeds -> uint8; run: inference alone; vs fp32: run / fp32 run; vs torch: sample / torch")
        print(f"  {'model':<34} {'sample':>8} {'run':>8} {'vs fp32':>8} {'vs torch':>9} {'% peak':>7}"
              f"  {'PSNR dB':>8} {'max err':>7} {'SWD x1e3':>8}")
        base_run, torch_ips = ips["fp32 run"], ips["torch eager"]
        print(f"  {'torch eager (baseline)':<34} {torch_ips:>8.0f} {'':>8} {torch_ips / base_run:>7.2f}x"
              f" {1.0:>8.2f}x {pct('torch', torch_ips, g_flops)}")
        for p in PRECISIONS:
            run, sample = ips[f"{p} run"], ips[f"{p} sample"]
            q = reports[p][0].quality
            figures = ("", "", "") if q is None else (
                "inf" if q.psnr_db is None else f"{q.psnr_db:.1f}", str(q.max_abs_error), f"{q.swd_x1e3:.3f}")
            print(f"  {p + ' (dcgan.runtime)':<34} {sample:>8.0f} {run:>8.0f} {run / base_run:>7.2f}x"
                  f" {sample / torch_ips:>8.2f}x {pct(p, run, g_flops)}"
                  f"  {figures[0]:>8} {figures[1]:>7} {figures[2]:>8}")
        for k in alternatives:
            print(f"  {k + ' (not kept)':<34} {'':>8} {ips[k]:>8.0f} {ips[k] / base_run:>7.2f}x"
                  f" {'':>9} {pct(k, ips[k], g_flops)}")

        # Discriminator ----------------------------------------------------------------------
        images = (np.random.default_rng(2).uniform(-1, 1, (BATCH, 3, 64, 64))).astype(np.float32)
        it = torch.from_numpy(images)
        d_sessions = {p: session(reports[p][1].path) for p in PRECISIONS}

        def torch_score():
            with torch.inference_mode():
                return d_torch(it)

        fns = {"torch eager": torch_score}
        fns.update({p: (lambda s=s: s(images)) for p, s in d_sessions.items()})
        med = interleaved_medians(fns, reps)
        ips = {k: BATCH / t for k, t in med.items()}
        print(f"\nDiscriminator, batch {BATCH}, images/s (inference alone, median of {reps}; {d_flops / 1e9:.3f} GFLOP/image)")
        print(f"  {'model':<34} {'img/s':>8} {'vs fp32':>8} {'vs torch':>9} {'% peak':>7}  quality vs fp32")
        for k, v in ips.items():
            q = reports[k][1].quality if k in reports else None
            print(f"  {k:<34} {v:>8.0f} {v / ips['fp32']:>7.2f}x {v / ips['torch eager']:>8.2f}x "
                  f"{pct(k, v, d_flops)}  {q.summary() if q else ''}")
        print(f"\nint8 calibration: {reports['int8'][0].calibration} (generator), "
              f"{reports['int8'][1].calibration} (discriminator)")


if __name__ == "__main__":
    main()
