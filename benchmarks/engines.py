"""Exported generators on other engines against dcgan.runtime (ONNX Runtime), in one run.

    python benchmarks/engines.py                          # the bundled model, every installed engine
    python benchmarks/engines.py g-fp32.onnx g-int8.onnx --engines tract,openvino --reps 5

For every file x engine (dcgan.export.engines; `pip install 'dcgan-edge[engines]'`):
  * loads, parity: dcgan.export.engine_parity's check against ONNX Runtime on the same seeded
    latents (batches 1 and 21): dynamic batch, NaN/Inf, max |diff|, uint8 values off;
  * images/s at batch 21 and 256, latents -> uint8 images (the engine's run, then
    dcgan.core.images.to_uint8), against dcgan.runtime.Generator.generate on the same file with
    the same number of threads (tract's Python binding runs one thread: its baseline then runs
    one too), medians of interleaved repetitions (common.interleaved_medians), so both sides see
    the same machine load;
  * cold start: from process start to the first uint8 image, in a fresh interpreter per
    engine (median of --cold-reps, after one untimed round that warms the file cache), against
    the same for Generator.load(...).sample(1).
The CPU's model and SIMD flags come first: int8 kernels and OpenVINO's default precision depend
on them. An engine whose outputs hold NaN is timed with NaN replaced before the conversion.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import interleaved_medians  # noqa: E402
from peak import cpu_line  # noqa: E402

from dcgan.core.images import to_uint8  # noqa: E402
from dcgan.core.latents import latents_for_seeds  # noqa: E402
from dcgan.export.engine_parity import check_engines  # noqa: E402
from dcgan.export.engines import ENGINES, REFERENCE, installed_engines, requested_engines  # noqa: E402
from dcgan.runtime import Generator  # noqa: E402
from dcgan.runtime.model_file import bundled_model  # noqa: E402
from dcgan.runtime.providers import available_cpus  # noqa: E402

BATCHES = (21, 256)

# The child of a cold start: imports, load, one image; prints the monotonic clock (one clock
# for all processes on Linux) once the image is there.
COLD_CHILD = """
import sys, time
import numpy as np
from dcgan.core.images import to_uint8
engine, path, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
if engine == "dcgan.runtime":
    from dcgan.runtime import Generator
    g = Generator.load(path, "cpu", threads)
    image = g.sample(1)
else:
    from dcgan.core.latents import latents_for_seeds
    from dcgan.export.engines import ENGINES
    run = ENGINES[engine].open(path, threads)
    z = latents_for_seeds([0], int(sys.argv[4])).reshape(1, -1, 1, 1)
    image = to_uint8(np.nan_to_num(run(z)))
assert image.shape[0] == 1 and "torch" not in sys.modules
print(time.monotonic())
"""


def versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for dist in ("onnxruntime", "openvino", "tract", "opencv-python-headless"):
        try:
            found.append(f"{dist} {version(dist)}")
        except PackageNotFoundError:
            found.append(f"{dist} not installed")
    return ", ".join(found)


def cold_start(engine: str, path: Path, threads: int, latent_dim: int, reps: int) -> float | None:
    """Median seconds from the child's start to its first image; None if the child fails."""
    times = []
    for _ in range(reps + 1):  # the first round warms the page cache and the bytecode
        child = [sys.executable, "-c", COLD_CHILD, engine, str(path), str(threads), str(latent_dim)]
        start = time.monotonic()
        r = subprocess.run(child, capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            return None
        times.append(float(r.stdout.strip().splitlines()[-1]) - start)
    return statistics.median(times[1:])


def speeds(engine: str, path: Path, threads: int, latent_dim: int, reps: int) -> dict[int, tuple[float, float]]:
    """batch -> (engine images/s, dcgan.runtime images/s), timed in turns."""
    run = ENGINES[engine].open(str(path), threads)
    used = threads if ENGINES[engine].sets_threads else 1
    baseline = Generator.load(path, "cpu", used)
    out = {}
    for batch in BATCHES:
        latents = latents_for_seeds(range(batch), latent_dim)
        z = latents.reshape(batch, latent_dim, 1, 1)
        clean = bool(np.isfinite(run(z)).all())

        def ours():
            y = run(z)
            return to_uint8(y if clean else np.nan_to_num(y))

        med = interleaved_medians({engine: ours, "dcgan.runtime": lambda: baseline.generate(latents, batch)}, reps)
        out[batch] = (batch / med[engine], batch / med["dcgan.runtime"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*", type=Path, help="generator ONNX files [default: the bundled model]")
    ap.add_argument("--engines", default="all", help="comma list, or all (every installed one) [default: all]")
    ap.add_argument("--threads", type=int, default=available_cpus(), help="threads per engine [default: one per CPU]")
    ap.add_argument("--reps", type=int, default=5, help="interleaved timed repetitions per batch [default: 5]")
    ap.add_argument("--cold-reps", type=int, default=3, help="cold starts per engine [default: 3]")
    args = ap.parse_args()
    files = args.files or [Path(bundled_model())]
    engines = [e for e in requested_engines(args.engines) if e != REFERENCE]

    print(f"CPU: {cpu_line()}")
    print(f"{versions()}; installed engines: {', '.join(installed_engines())}; threads {args.threads}")
    header = ("file", "engine", "threads", "loads", "parity", "max abs diff", "uint8 off",
              *(f"batch {b} images/s (ORT, ratio)" for b in BATCHES), "cold start s (ORT)")
    rows, notes = [header], []
    for path in files:
        latent = Generator.load(path, "cpu", 1).latent_dim
        results = check_engines([(path, path.name)], engines, args.threads)
        cold_ort = {}
        for r in results:
            used = args.threads if ENGINES[r.engine].sets_threads else 1
            cells = [path.name, r.engine, str(used), "yes" if r.loads else "no",
                     "pass" if r.passed else "FAIL", "-" if r.max_diff is None else f"{r.max_diff:.2g}",
                     "-" if r.uint8_off is None else f"{r.uint8_off}/{r.uint8_values}"]
            if not r.passed:
                notes.append(f"{path.name} on {r.engine}: {r.reason}")
            if r.loads and r.dynamic_batch:
                for batch, (theirs, ours) in speeds(r.engine, path, args.threads, latent, args.reps).items():
                    cells.append(f"{theirs:,.0f} ({ours:,.0f}, {theirs / ours:.2f}x)")
                if used not in cold_ort:
                    cold_ort[used] = cold_start("dcgan.runtime", path, used, latent, args.cold_reps)
                cold = cold_start(r.engine, path, used, latent, args.cold_reps)
                cells.append(_cold(cold, cold_ort[used]))
            else:
                cells += ["-"] * (len(BATCHES) + 1)
            rows.append(tuple(cells))
            print("  " + " | ".join(cells), flush=True)  # progress: the table follows
    print()
    print("| " + " | ".join(rows[0]) + " |")
    print("|" + "---|" * len(rows[0]))
    for row in rows[1:]:
        print("| " + " | ".join(row) + " |")
    for note in notes:
        print(f"- {note}")


def _cold(cold: float | None, ort: float | None) -> str:
    if cold is None or ort is None:
        return "failed"
    return f"{cold:.2f} ({ort:.2f})"


if __name__ == "__main__":
    main()
