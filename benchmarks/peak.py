"""This CPU's peak arithmetic rate, for the benchmarks' "share of peak" (a sibling module).

A VM reports the nominal clock, not the one the cores run at, so the per-core rate is measured
with benchmarks/simd_peak.c (independent AVX-512 FMA chains for fp32, VNNI dot products for
int8; compiled with the system's cc) and multiplied by the cores; without a compiler, cores x
nominal clock x FLOPs per cycle.
"""
from __future__ import annotations

import os
import platform
import shutil
import subprocess
from pathlib import Path

SIMD_PEAK_C = Path(__file__).with_name("simd_peak.c")


def cpu_flags() -> tuple[set[str], str, float | None, int]:
    """(flags, model name, MHz reported, CPU family) from /proc/cpuinfo."""
    flags, name, mhz, family = set(), platform.processor() or "unknown CPU", None, 0
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return flags, name, mhz, family
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "flags" and not flags:
            flags = set(value.split())
        elif key == "model name":
            name = value
        elif key == "cpu MHz" and mhz is None:
            mhz = float(value)
        elif key == "cpu family" and not family:
            family = int(value)
    return flags, name, mhz, family


def cpu_line() -> str:
    """"<model>, N CPUs, flags: avx2, ..." for a benchmark's header: the SIMD flags that decide
    which kernels ONNX Runtime and torch run."""
    flags, name, _, _ = cpu_flags()
    have = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni") if f in flags]
    return f"{name}, {len(os.sched_getaffinity(0))} CPUs, flags: {', '.join(have) or 'none of avx2/avx512/vnni'}"


def fp32_flops_per_cycle(flags: set[str], family: int, vendor_amd: bool) -> tuple[int, str]:
    """FLOPs per cycle per core for fp32 FMA, and why (used when the peak cannot be measured)."""
    if "avx512f" in flags:
        if vendor_amd and family < 26:
            return 32, "AVX-512 on Zen 4 runs as 2x256-bit: 2 FMA pipes x 8 lanes x 2"
        return 64, "AVX-512: 2 FMA pipes x 16 fp32 lanes x 2 FLOPs (Zen 5 / Xeon with 2 FMA units)"
    if "avx2" in flags and "fma" in flags:
        return 32, "AVX2: 2 FMA pipes x 8 lanes x 2"
    return 8, "SSE: no FMA, 4 lanes x (add + mul)"


def measured_core_peak(folder: Path, flags: set[str]) -> tuple[float, float] | None:
    """(fp32 GFLOP/s, int8 GOP/s) of one core from benchmarks/simd_peak.c, best of 3 runs;
    None without a C compiler or AVX-512 VNNI."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None or not {"avx512f", "avx512_vnni"} <= flags:
        return None
    exe = folder / "simd_peak"
    build = subprocess.run([cc, "-O2", "-mavx512f", "-mavx512vnni", str(SIMD_PEAK_C), "-o", str(exe)],
                           capture_output=True, text=True)
    if build.returncode != 0:
        return None
    best = {}
    for kind in ("fp32", "int8"):
        runs = [subprocess.run([str(exe), kind, "100000000"], capture_output=True, text=True, check=True)
                for _ in range(3)]
        best[kind] = max(float(r.stdout.split()[0]) for r in runs)
    return best["fp32"], best["int8"]


def describe_peak(folder: Path, threads: int | None) -> tuple[float, float]:
    """(fp32 peak GFLOP/s, int8 peak GOP/s) of the cores the models may use (all, or
    ``threads`` of them), with the assumption printed."""
    flags, name, mhz, family = cpu_flags()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    cores = min(cores, threads) if threads else cores
    amd = "AMD" in name or family in (23, 25, 26)
    per_cycle, why = fp32_flops_per_cycle(flags, family, amd)
    ghz = (mhz or 2000.0) / 1000
    nominal = cores * ghz * per_cycle
    vnni = "avx512_vnni" in flags
    print(f"CPU: {name}, family {family}, {cores} cores used, {ghz:.2f} GHz reported; "
          f"AVX-512 VNNI: {'yes' if vnni else 'no'}")
    print(f"  nominal fp32 peak: {cores} x {ghz:.2f} GHz x {per_cycle} FLOP/cycle ({why}) = {nominal:.0f} GFLOP/s")
    core = measured_core_peak(folder, flags)
    if core is None:
        print("  (no C compiler or no AVX-512 VNNI: the nominal figure is the peak; int8 assumed 4x)")
        return nominal, 4 * nominal
    fp32, int8 = core
    print(f"  measured on one core (benchmarks/simd_peak.c): fp32 FMA {fp32:.0f} GFLOP/s "
          f"(= {fp32 / per_cycle:.2f} GHz at {per_cycle} FLOP/cycle), int8 VNNI {int8:.0f} GOP/s")
    print(f"  peak used below: {cores} cores x measured = fp32 {cores * fp32:.0f} GFLOP/s, "
          f"int8 {cores * int8:.0f} GOP/s (assumes every core holds that clock at once)")
    return cores * fp32, cores * int8
