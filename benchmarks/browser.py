"""The browser against Python ONNX Runtime, on the same model and machine, in one run.

    python benchmarks/browser.py                 # the bundled model, 10 repetitions
    python benchmarks/browser.py --variants DIR  # also DIR/gen-int8.onnx, DIR/gen-fp16.onnx (and
                                                 # DIR/gen-fp32.onnx as their baseline)

Needs what tests/web/test_web_browser.py needs (Debian's chromium, node, `npm ci` in web/).
Writes the site with dcgan-site into a temp folder, serves it on 127.0.0.1 with COOP/COEP, and
for one and two threads measures: model load (fetch + session creation in the page; file +
session for dcgan.runtime.Generator), the first batch of 21 images after load, and steady
images/s at batch 21 and 64 (median of timed batches, seeds to uint8 images on both sides).
The browser runs onnxruntime-web's wasm build (WebGPU is off in headless chromium without a
GPU); Python runs dcgan.runtime.Generator with ``threads`` worker threads on the CPU provider.
Prints the table with browser/Python ratios, and the CPU.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from dcgan.runtime import Generator
from dcgan.runtime import site

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peak import cpu_line  # noqa: E402

HERE = Path(__file__).resolve().parent
BATCHES = (21, 64)


def python_side(model: Path | None, threads: int, reps: int) -> dict:
    t0 = time.perf_counter()
    g = Generator.load(model, provider="cpu", threads=threads)
    load_ms = (time.perf_counter() - t0) * 1000
    t1 = time.perf_counter()
    g.sample(21, seed=0, batch_size=21)
    first_ms = (time.perf_counter() - t1) * 1000
    seconds = {}
    for batch in BATCHES:
        g.sample(batch, seed=1000, batch_size=batch)
        times = []
        for r in range(reps):
            t = time.perf_counter()
            g.sample(batch, seed=r * batch, batch_size=batch)
            times.append(time.perf_counter() - t)
        seconds[batch] = statistics.median(times)
    return {"load_ms": load_ms, "first_ms": first_ms, "seconds": seconds}


def browser_side(url: str, configs: list[dict], reps: int) -> list[dict]:
    r = subprocess.run(["node", str(HERE / "browser.mjs"), url, json.dumps(configs), str(reps)],
                       capture_output=True, text=True, timeout=1800)
    if r.returncode != 0:
        raise SystemExit(f"browser.mjs failed:\n{r.stderr[-3000:]}")
    rows = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    for row in rows:
        row["seconds"] = {int(k): v for k, v in row["seconds"].items()}
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--variants", type=Path, default=None, metavar="DIR")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = site.write_site(Path(tmp) / "site")
        models = {"bundled fp32": (None, "model.onnx")}
        if args.variants:
            for precision in ("fp32", "int8", "fp16"):
                src = args.variants / f"gen-{precision}.onnx"
                if src.is_file():
                    shutil.copyfile(src, out / src.name)
                    models[f"{precision} (variants)"] = (src, src.name)
        server = site.make_server(out, 0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        configs = [{"model": page_name, "threads": t, "batches": list(BATCHES)}
                   for _, page_name in models.values() for t in (1, 2)]
        browser = {(r["model"], r["threads"]): r for r in browser_side(url, configs, args.reps)}
        server.shutdown()
    print(f"CPU: {cpu_line()}")
    print(f"{'model':<18} {'thr':>3} {'side':<8} {'load ms':>8} {'first 21 ms':>11} "
          f"{'img/s @21':>10} {'img/s @64':>10}")
    for label, (path, page_name) in models.items():
        for threads in (1, 2):
            py = python_side(path, threads, args.reps)
            web = browser[(page_name, threads)]
            for side, r in (("browser", web), ("python", py)):
                rates = [b / r["seconds"][b] for b in BATCHES]
                print(f"{label:<18} {threads:>3} {side:<8} {r['load_ms']:>8.0f} {r['first_ms']:>11.0f} "
                      f"{rates[0]:>10.1f} {rates[1]:>10.1f}")
            ratios = [py["seconds"][b] / web["seconds"][b] for b in BATCHES]
            print(f"{'':<18} {'':>3} {'ratio':<8} {py['load_ms'] / web['load_ms']:>8.2f} "
                  f"{py['first_ms'] / web['first_ms']:>11.2f} {ratios[0]:>10.2f} {ratios[1]:>10.2f}"
                  f"   (browser speed / python speed; {web['runtime']})")


if __name__ == "__main__":
    main()
