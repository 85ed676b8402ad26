"""ONNX Runtime sampling against torch eager, on the same weights, in one run.

    python benchmarks/runtime.py            # full run (a few minutes on 2 cores)
    python benchmarks/runtime.py --quick    # fewer repetitions

Prints, with medians of interleaved repetitions (so both sides see the same machine load):
  1. images/s at batch 1, 21 and 256: dcgan.runtime.Generator.sample (seeds -> uint8) vs the
     torch Generator in eval/inference mode (torch.randn -> uint8), and the ratio;
  2. ONNX Runtime session settings at batch 21 and 256 (optimisation level, threads, arena,
     spinning worker threads);
  3. cold start of `dcgan-gen --n 21 --out grid.png` vs a torch script doing the same job
     (import torch, build the generator, load the weights, sample 21, save a grid with PIL),
     wall time and peak RSS of each child process, after one untimed round; the interpreter
     alone and the imports dcgan-gen cannot avoid (numpy, onnxruntime, click) as floors.
The model is the default DCGAN (latent 100, width 64) with random weights, exported to a temp
ONNX with dcgan.export (or torch.onnx.export when that package is not importable).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import torch

from dcgan.runtime import Generator
from dcgan.runtime.parallel import run_split
from dcgan.runtime.providers import available_cpus, session_options

from common import fixture_checkpoint, interleaved_medians
from dcgan.core.images import to_uint8
from dcgan.export import export_generator
from dcgan.train.checkpoint import load_generator
from dcgan.train.model import Generator as TorchGenerator


def build_weights(workdir: Path) -> tuple[TorchGenerator, Path, Path, str]:
    """The benchmarks' fixture generator, its weights saved as .pt and exported as .onnx."""
    ckpt, what = fixture_checkpoint(workdir)
    g = load_generator(ckpt)
    pt, onnx_path = workdir / "generator.pt", workdir / "generator.onnx"
    torch.save(g.state_dict(), pt)
    export_generator(ckpt, onnx_path)
    return g, pt, onnx_path, f"{what}, exported with dcgan.export"


def torch_sample(g: TorchGenerator, n: int, seed: int) -> np.ndarray:
    """What a torch user writes: one generator for the batch, uint8 NHWC out."""
    z = torch.randn(n, 100, 1, 1, generator=torch.Generator().manual_seed(seed))
    with torch.inference_mode():
        return to_uint8(g(z).numpy())


def parity(g: TorchGenerator, ort_gen: Generator) -> int:
    z = ort_gen.latents(range(8))
    with torch.inference_mode():
        want = to_uint8(g(torch.from_numpy(z).reshape(8, 100, 1, 1)).numpy())
    return int(np.abs(ort_gen.sample(8).astype(int) - want).max())


def throughput(g: TorchGenerator, ort_gen: Generator, quick: bool) -> None:
    print("\n1. Throughput, images/s (median; uint8 NHWC out on both sides)")
    print(f"   {'batch':>5}  {'onnxruntime':>12}  {'torch eager':>12}  {'ratio':>6}")
    for batch, reps in ((1, 30), (21, 15), (256, 5)):
        reps = max(3, reps // 3) if quick else reps
        med = interleaved_medians({
            "ort": lambda: ort_gen.sample(batch, seed=1, batch_size=batch),
            "torch": lambda: torch_sample(g, batch, 1),
        }, reps)
        ort_ips, torch_ips = batch / med["ort"], batch / med["torch"]
        print(f"   {batch:>5}  {ort_ips:>12.1f}  {torch_ips:>12.1f}  {ort_ips / torch_ips:>5.2f}x")


def ort_settings(onnx_path: Path, quick: bool) -> None:
    import onnxruntime as ort

    def session(level="ORT_ENABLE_EXTENDED", threads=None, arena=True, spin=False):
        so = session_options(threads)
        so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
        so.enable_cpu_mem_arena = arena
        so.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        return ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])

    variants = {
        "EXTENDED, a thread per core, no spin": {},
        "ORT_ENABLE_ALL": {"level": "ORT_ENABLE_ALL"},
        "ORT_ENABLE_BASIC": {"level": "ORT_ENABLE_BASIC"},
        "1 thread": {"threads": 1},
        "arena off": {"arena": False},
        "spinning threads": {"spin": True},
    }
    split = f"1-thread session, batch split over {available_cpus()} (runtime)"
    for batch in (21, 256):
        z = np.random.default_rng(0).standard_normal((batch, 100, 1, 1), dtype=np.float32)
        sessions = {k: session(**v) for k, v in variants.items()}
        name = sessions["ORT_ENABLE_ALL"].get_inputs()[0].name
        fns = {k: (lambda s=s: s.run(None, {name: z})) for k, s in sessions.items()}
        fns[split] = lambda s=sessions["1 thread"]: run_split(s, name, z, available_cpus())
        med = interleaved_medians(fns, 3 if quick else 7)
        base = med["EXTENDED, a thread per core, no spin"]
        print(f"\n2. ONNX Runtime settings, batch {batch} (session.run only, median)")
        for k, t in med.items():
            print(f"   {k:<44} {batch / t:>8.1f} img/s  {base / t:>5.2f}x")

    # The same with one core kept busy by another process.
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        print("\n2b. With one core busy elsewhere (median, images/s; ratio against no spin)")
        for batch in (21, 256):
            z = np.random.default_rng(0).standard_normal((batch, 100, 1, 1), dtype=np.float32)
            sessions = {"no spin": session(), "spin": session(spin=True), "split": session(threads=1)}
            name = sessions["spin"].get_inputs()[0].name
            fns = {k: (lambda s=s: s.run(None, {name: z})) for k, s in sessions.items() if k != "split"}
            fns["split"] = lambda s=sessions["split"]: run_split(s, name, z, available_cpus())
            med = interleaved_medians(fns, 3 if quick else 7)
            print(f"   batch {batch:>3}: " + ", ".join(
                f"{k} {batch / t:>7.1f} ({med['no spin'] / t:.2f}x)" for k, t in med.items()))
    finally:
        hog.kill()
        hog.wait()

    # Session creation: what saving the optimised graph would take off a cold start.
    saved = onnx_path.with_suffix(".optimized.onnx")
    so = session_options(None)
    so.optimized_model_filepath = str(saved)
    ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])

    def create(path: Path, level: str):
        so = session_options(None)
        so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
        return lambda: ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])

    med = interleaved_medians({"runtime default (EXTENDED)": create(onnx_path, "ORT_ENABLE_EXTENDED"),
                               "saved optimised graph, optimisation off": create(saved, "ORT_DISABLE_ALL")},
                              5 if quick else 11)
    base = med["runtime default (EXTENDED)"]
    print("\n2c. Session creation, median")
    for k, t in med.items():
        print(f"   {k:<44} {t * 1000:>8.1f} ms  {base / t:>5.2f}x")


TORCH_JOB = """
import sys, torch
from PIL import Image
from dcgan.train.model import Generator, ModelConfig
g = Generator(ModelConfig())
g.load_state_dict(torch.load(sys.argv[1], weights_only=True))
g.eval()
with torch.inference_mode():
    x = g(torch.randn(21, 100, 1, 1, generator=torch.Generator().manual_seed(0)))
img = ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
n, c, h, w = img.shape
grid = torch.zeros(c, 3 * (h + 2) + 2, 7 * (w + 2) + 2, dtype=torch.uint8)
for i in range(n):
    r, k = divmod(i, 7)
    grid[:, 2 + r * (h + 2): 2 + r * (h + 2) + h, 2 + k * (w + 2): 2 + k * (w + 2) + w] = img[i]
Image.fromarray(grid.permute(1, 2, 0).numpy()).save(sys.argv[2])
"""


# Runs one command and reports its own wall time and peak RSS. A separate small process: a
# child's ru_maxrss starts from the RSS of the process that forked it, and this benchmark
# holds torch and large arrays.
LAUNCHER = """
import json, os, sys, time
t = time.perf_counter()
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ,
                     file_actions=[(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)])
_, status, usage = os.wait4(pid, 0)
print(json.dumps({"wall": time.perf_counter() - t, "rss_kib": usage.ru_maxrss,
                  "rc": os.waitstatus_to_exitcode(status)}))
"""


def timed_child(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of one run of ``cmd``."""
    r = subprocess.run([sys.executable, "-c", LAUNCHER, *cmd], cwd=cwd, capture_output=True,
                       text=True, env=env)
    if r.returncode != 0 or not r.stdout.strip():
        raise SystemExit(f"launcher failed: {r.stderr[-500:]}")
    out = json.loads(r.stdout.strip().splitlines()[-1])
    if out["rc"] != 0:
        raise SystemExit(f"{cmd[0]} exited {out['rc']}: {r.stderr[-500:]}")
    return out["wall"], out["rss_kib"] / 1024  # Linux reports KiB


def cold_start(workdir: Path, pt: Path, onnx_path: Path, quick: bool) -> None:
    script = workdir / "torch_job.py"
    script.write_text(textwrap.dedent(TORCH_JOB))
    dcgan_gen = Path(sys.executable).parent / "dcgan-gen"
    jobs = {
        "dcgan-gen --n 21 --out grid.png": [str(dcgan_gen), "--model", str(onnx_path), "--n", "21",
                                            "--out", "grid.png", "-q"],
        "torch script (same job)": [sys.executable, str(script), str(pt), "grid_torch.png"],
        "python -c pass (interpreter only)": [sys.executable, "-c", "pass"],
        "import numpy, onnxruntime, click": [sys.executable, "-c", "import numpy, onnxruntime, click"],
    }
    # As an installed package runs: with compiled bytecode (pip writes it at install time; a
    # PYTHONDONTWRITEBYTECODE environment would make every run compile the package's sources)
    # and warm file caches for both sides, so one untimed round first.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for cmd in jobs.values():
        timed_child(cmd, workdir, env)
    runs = 5 if quick else 7
    results = {k: [] for k in jobs}
    for _ in range(runs):
        for k, cmd in jobs.items():
            results[k].append(timed_child(cmd, workdir, env))
    print(f"\n3. Cold start, median of {runs} runs (wall s, peak RSS MiB)")
    med = {k: (statistics.median(w for w, _ in v), statistics.median(m for _, m in v))
           for k, v in results.items()}
    for k, (wall, rss) in med.items():
        print(f"   {k:<36} {wall:>6.3f} s  {rss:>7.1f} MiB")
    ort_wall, ort_rss = med["dcgan-gen --n 21 --out grid.png"]
    torch_wall, torch_rss = med["torch script (same job)"]
    print(f"   dcgan-gen is {torch_wall / ort_wall:.1f}x faster to a grid and uses "
          f"{torch_rss / ort_rss:.1f}x less memory")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    ap.add_argument("--sections", default="throughput,settings,cold",
                    help="comma-separated subset of throughput,settings,cold")
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} CPUs visible, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads); timings on a shared machine are noisy")
    with tempfile.TemporaryDirectory(prefix="dcgan-bench-") as tmp:
        workdir = Path(tmp)
        g, pt, onnx_path, how = build_weights(workdir)
        ort_gen = Generator.load(onnx_path, provider="cpu")
        print(f"model: latent 100, width 64, {onnx_path.stat().st_size / 2**20:.1f} MiB ONNX via {how}")
        print(f"parity: max |onnxruntime - torch| over 8 images = {parity(g, ort_gen)} (uint8 levels)")
        sections = set(args.sections.split(","))
        if "throughput" in sections:
            throughput(g, ort_gen, args.quick)
        if "settings" in sections:
            ort_settings(onnx_path, args.quick)
        if "cold" in sections:
            cold_start(workdir, pt, onnx_path, args.quick)


if __name__ == "__main__":
    main()
