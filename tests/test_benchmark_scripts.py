"""The benchmark scripts still run: their shared module (timing, the fixture checkpoint), and
the GPU scripts' CPU paths (the GPU itself is rarely at hand, so a broken script would only
show on the GPU machine).
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))

from common import fixture_checkpoint, interleaved_medians, median_seconds  # noqa: E402


def test_interleaved_medians_warms_each_side_and_skips_settling_for_long_calls():
    calls = {"short": 0, "long": 0}

    def short():
        calls["short"] += 1

    def long():
        calls["long"] += 1
        time.sleep(0.03)

    med = interleaved_medians({"short": short, "long": long}, reps=3, settle_s=0.02)
    assert set(med) == {"short", "long"}
    assert med["long"] >= 0.03 > med["short"]
    assert calls["long"] == 1 + 3  # warm-up, then only the timed calls: each outlasts settle_s
    assert calls["short"] > 1 + 3 * 2  # settling calls before every timed one


def test_median_seconds_returns_the_median_and_the_last_result():
    results = iter([0.0, 0.05, 0.01])

    def nap():
        t = next(results)
        time.sleep(t)
        return t

    seconds, last = median_seconds(nap, 3)
    assert last == 0.01 and 0.01 <= seconds < 0.05


def test_fixture_checkpoint_is_a_loadable_default_dcgan_or_a_copy(tmp_path):
    from dcgan.train.checkpoint import load_generator

    made, what = fixture_checkpoint(tmp_path)
    assert "random weights" in what
    g = load_generator(made)
    assert g.cfg.latent_dim == 100 and g.cfg.g_width == 64
    bn = next(m for m in g.modules() if hasattr(m, "running_var"))
    assert float(bn.running_var.mean()) != 1.0  # statistics of a real batch, not the initial ones
    (tmp_path / "copy").mkdir()
    copied, what = fixture_checkpoint(tmp_path / "copy", made)
    assert copied.read_bytes() == made.read_bytes() and str(made) in what


def _run(args: list[str], cwd: Path) -> str:
    r = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


@pytest.mark.slow
def test_gpu_sampling_benchmark_runs_on_the_cpu(tmp_path):
    out = _run([str(BENCH / "gpu_sampling.py"), "--device", "cpu", "--reps", "1", "--batches", "2"], tmp_path)
    rows = [line.split() for line in out.splitlines() if line.strip().startswith("2 ")]
    labels = {" ".join(r[1:-2]) for r in rows}
    assert {"torch eager fp32", "onnxruntime fp32", "onnxruntime fp32 + I/O binding",
            "onnxruntime fp16 + I/O binding"} <= labels
    assert all(float(r[-2]) > 0 for r in rows)


@pytest.mark.slow
def test_training_benchmark_prints_ratio_and_share_of_peak(tmp_path):
    folder = tmp_path / "images" / "a"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(32):
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    out = _run([str(BENCH / "train_throughput.py"), str(tmp_path / "images"), "--repeats", "1",
                "--batch-size", "16", "--g-width", "8", "--d-width", "8", "--d2l-workers", "0",
                "--threads", "1"], tmp_path)
    assert "ratio" in out and out.count("% of that peak") == 2
    flops = out.split("FLOPs per image")[1]
    d2l, ours = (float(flops.split(key)[1].split()[0]) for key in ("d2l step ", "dcgan-train's step "))
    assert 0 < ours < d2l  # one generator forward for both updates, no D weight grads for G


def test_latent_tails_finds_the_seeds_with_tail_values_and_counts_changed_images(tmp_path):
    from dcgan.core.latents import latents_for_seeds

    model = Path(__file__).resolve().parent / "fixtures" / "gen_tiny.onnx"  # latent 8
    out = _run([str(BENCH / "latent_tails.py"), "--seeds", "3000", "--model", str(model)], tmp_path)
    want = int((np.abs(latents_for_seeds(range(3000), 8)) > 3.6541529).any(axis=1).sum())
    assert 0 < want and f": {want:,} hold a tail value" in out
    lines = [line for line in out.splitlines() if line.startswith("one ulp")]
    assert len(lines) == 2 and all(f"of {want:,} images change" in line for line in lines)


def test_int8_cpus_compares_each_weight_range_on_this_cpu_and_without_fusion(tmp_path):
    model = Path(__file__).resolve().parent / "fixtures" / "gen_tiny.onnx"
    out = _run([str(BENCH / "int8_cpus.py"), "--model", str(model), "--images", "8", "--no-emulation"], tmp_path)
    rows = [line for line in out.splitlines() if line.startswith("u8 x s8")]
    assert len(rows) == 4 and sum("this CPU" in r for r in rows) == 2 and sum("plain QDQ" in r for r in rows) == 2
    assert all(float(r.split()[-3]) > 10 for r in rows)  # PSNR against fp32: a real comparison
    assert out.count("speed vs fp32, batch 256") == 2


@pytest.mark.slow
def test_image_sizes_benchmark_compares_the_runtime_with_torch_at_each_size(tmp_path):
    out = _run([str(BENCH / "image_sizes.py"), "--sizes", "32", "--channels", "4", "--quick", "--threads", "1"],
               tmp_path)
    levels = int(out.split("max |onnxruntime - torch| ")[1].split()[0])
    assert "32x32x4: " in out and levels <= 1
    rows = [line.split() for line in out.splitlines() if line.strip().startswith("32 ")]
    assert [int(r[1]) for r in rows] == [1, 21, 64]
    assert all(float(r[2]) > 0 and float(r[3]) > 0 and r[4].endswith("x") for r in rows)
