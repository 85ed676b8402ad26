"""Choosing an ONNX Runtime execution provider and creating sessions.

The decision is split in two pure functions so that it can be tested without a GPU:
``plan_providers`` (what to ask ONNX Runtime for, from the request and the providers this
onnxruntime build lists) and ``check_loaded`` (what actually ran, from the providers the
session ended up with). A listed provider is not a working one: onnxruntime-gpu lists CUDA
even when the CUDA libraries are missing, and then silently builds a CPU session.
"""
from __future__ import annotations

import io
import os
import re
import sys
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from typing import Iterator, Sequence

from dcgan.core.text import MAX_LINE, first_line

from .errors import ModelLoadError, ProviderError

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"

# Short names accepted by --provider, besides "auto" and full ONNX Runtime provider names.
ALIASES = {
    "cpu": CPU,
    "cuda": CUDA,
    "tensorrt": TENSORRT,
    "trt": TENSORRT,
    "rocm": "ROCMExecutionProvider",
    "migraphx": "MIGraphXExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
    "dml": "DmlExecutionProvider",
    "directml": "DmlExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
}

# Listed by every onnxruntime build, but it calls a remote endpoint: a model run with it
# computes on the CPU provider behind it, while the note would say "running on Azure".
REMOTE = ("AzureExecutionProvider",)

# What a GPU provider needs besides itself: nodes it cannot run fall back along this list.
FALLBACKS = {TENSORRT: (CUDA, CPU)}

# ORT severities: 0 verbose, 1 info, 2 warning, 3 error, 4 fatal.
ORT_LOG_SEVERITY = 3


@dataclass(frozen=True)
class ProviderPlan:
    """The provider list to create a session with, and the one that must load (None: auto)."""

    requested: str
    providers: tuple[str, ...]
    required: str | None


@dataclass(frozen=True)
class ProviderChoice:
    """The provider that runs the model, and one line that says why."""

    provider: str
    note: str
    workers: int = 1  # threads that run a batch's chunks (CPU sessions; parallel.py)


def short_name(provider: str) -> str:
    return provider.removesuffix("ExecutionProvider") or provider


def normalize(requested: str, known: Sequence[str]) -> str:
    """Map an alias or a provider name (any case) to ONNX Runtime's spelling, or "auto"."""
    key = requested.strip()
    if key.lower() == "auto":
        return "auto"
    if key.lower() in ALIASES:
        return ALIASES[key.lower()]
    by_lower = {p.lower(): p for p in known}
    for candidate in (key.lower(), key.lower() + "executionprovider"):
        if candidate in by_lower:
            return by_lower[candidate]
    listed = ", ".join(dict.fromkeys(short_name(p) for p in known)) or "none"
    raise ProviderError(
        f"unknown provider {requested!r}: use auto, cpu, cuda, tensorrt or an ONNX Runtime "
        f"provider name ({listed})"
    )


def plan_providers(requested: str, available: Sequence[str], known: Sequence[str]) -> ProviderPlan:
    """What to ask ONNX Runtime for.

    ``available``: ``onnxruntime.get_available_providers()`` (built into this install);
    ``known``: ``onnxruntime.get_all_providers()`` (every name ONNX Runtime knows).
    """
    name = normalize(requested, list(dict.fromkeys([*available, *known])))
    if name in REMOTE:
        raise ProviderError(
            f"provider {short_name(name)} sends requests to a remote endpoint and computes "
            "nothing here; use auto, cpu or a GPU provider"
        )
    if name == "auto":
        # Only CUDA is tried automatically: TensorRT spends minutes building engines on first
        # use, and the other GPU providers are opted into by name.
        providers = (CUDA, CPU) if CUDA in available else (CPU,)
        return ProviderPlan(requested, providers, None)
    if name not in available:
        hint = " (install dcgan-edge[gpu] instead of [cpu])" if name in (CUDA, TENSORRT) else ""
        raise ProviderError(
            f"provider {short_name(name)} is not in this onnxruntime build{hint}; "
            f"available: {', '.join(short_name(p) for p in available)}"
        )
    chain = [name] + [p for p in FALLBACKS.get(name, ()) if p in available]
    if CPU not in chain:
        chain.append(CPU)
    return ProviderPlan(requested, tuple(chain), name)


def check_loaded(plan: ProviderPlan, loaded: Sequence[str], detail: str = "",
                 workers: int | None = None) -> ProviderChoice:
    """What ran, from ``session.get_providers()``; an explicit provider that did not load is an error.

    ``detail``: what ONNX Runtime printed while creating the session (the reason a GPU
    provider failed to load), shown in the error or the fallback note. ``workers``: the
    threads that split a CPU-only session's batches (parallel.py), said in the note.
    """
    cpu = "CPU" if workers is None else f"CPU, {workers} thread{'s' * (workers > 1)}"
    ran = lambda provider, note: ProviderChoice(provider, note, workers or 1)  # noqa: E731
    first = loaded[0] if loaded else CPU
    reason = first_error_line(detail)
    if plan.required is not None:
        if plan.required not in loaded:
            because = f": {reason}" if reason else ""
            raise ProviderError(
                f"provider {short_name(plan.required)} is installed but failed to load{because}"
            )
        return ran(plan.required, f"running on {cpu if plan.required == CPU else short_name(plan.required)}")
    if plan.providers[0] != CPU and first == CPU:
        because = f" ({reason})" if reason else ""
        return ran(CPU, f"running on {cpu}: {short_name(plan.providers[0])} could not be loaded{because}")
    if first == CPU:
        return ran(CPU, f"running on {cpu} (no GPU provider in this onnxruntime)")
    return ran(first, f"running on {short_name(first)}")


def first_error_line(text: str) -> str:
    """The most telling line of ONNX Runtime's native log: a library that failed to load."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in lines:
        if "error" in ln.lower() or "fail" in ln.lower():
            # "[E:onnxruntime:Default, file.cc:123 Func] message" -> "message"
            msg = ln.split("] ", 1)[-1]
            return msg[:200]
    return lines[0][:200] if lines else ""


@contextmanager
def captured_native_stderr(enabled: bool = True) -> Iterator[list[str]]:
    """Send file descriptor 2 to a temp file for the duration, and hand back what was written.

    ONNX Runtime's C++ side (and dlopen) print straight to fd 2 when a GPU library is
    missing; the log-severity settings do not catch all of it, and the user only needs our
    one-line summary.
    """
    out: list[str] = []
    if not enabled:
        yield out
        return
    import tempfile  # only GPU sessions come here: keep it off the CPU cold start

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield out
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            out.append(sink.read().decode("utf-8", "replace"))


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def session_options(threads: int | None = None):
    """CPU-friendly defaults, measured in benchmarks/runtime.py.

    EXTENDED optimisation fuses BatchNorm and activations into the convolutions; ALL adds
    NCHWc layout transforms that did not speed this network up. ``threads``: intra-op threads
    (None: one per physical core); the runtime's CPU sessions take 1 and split batches across
    cores instead (parallel.py). No spinning: idle intra-op threads that spin for work were
    1.1-1.3x faster on idle cores but 0.55-0.80x as fast with one core busy elsewhere. One
    inter-op thread: the graph is a single chain.
    """
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = ORT_LOG_SEVERITY
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.inter_op_num_threads = 1
    so.intra_op_num_threads = int(threads) if threads else 0  # 0: one per physical core
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return so


def create_session(model: bytes | str, requested: str = "auto", threads: int | None = None):
    """An InferenceSession on the best provider the request allows; returns (session, choice).

    ``model``: the model's bytes, or the path of its file. ``threads``: CPU threads (None: one
    per available CPU). A CPU-only session is single-threaded and ``choice.workers`` says how
    many threads run it on chunks of a batch (parallel.py); a GPU session keeps ONNX
    Runtime's own threads for whatever runs on the CPU, and 1 worker.
    """
    if threads is not None and int(threads) < 1:
        raise ValueError(f"threads must be at least 1 (or None: one per CPU), got {threads}")
    import onnxruntime as ort

    ort.set_default_logger_severity(ORT_LOG_SEVERITY)
    plan = plan_providers(requested, ort.get_available_providers(), ort.get_all_providers())
    gpu = plan.providers != (CPU,)
    options = session_options(threads) if gpu else session_options(1)
    # ORT's Python layer prints "EP Error ... Falling back" to stdout when a GPU provider
    # raises during creation; keep it out of our output and use it as the reason instead.
    printed = io.StringIO()
    with captured_native_stderr(enabled=gpu) as native, redirect_stdout(printed if gpu else sys.stdout):
        try:
            session = ort.InferenceSession(
                model, options, providers=list(plan.providers)
            )
        except Exception as e:  # ORT raises its own pybind types (InvalidProtobuf, Fail...)
            raise ModelLoadError(f"not a readable ONNX model ({ort_message(e)})") from None
    workers = None if gpu else (int(threads) if threads else available_cpus())
    return session, check_loaded(plan, session.get_providers(), printed.getvalue() + "".join(native), workers)


_ORT_PREFIX = re.compile(r"^\[ONNXRuntimeError\] : \d+ : [A-Z_]+ : ")
_SOURCE_LOCATION = re.compile(r"^\S+\.(?:cc|cpp|h):\d+ ")


def ort_message(e: Exception) -> str:
    """What ORT's exception says, on one line: without its "[ONNXRuntimeError] : 7 :
    INVALID_PROTOBUF :" prefix, the model path (the caller shows it) and the C++ source
    location and signature some versions put first ("model.cc:179 onnxruntime::Model::Model(
    ...) Unsupported model IR version: 10"), which would fill the line before the reason."""
    text = _ORT_PREFIX.sub("", first_line(e, limit=100_000))
    if text.startswith("Load model from ") and " failed:" in text:
        text = text.split(" failed:", 1)[1].strip()
    location = _SOURCE_LOCATION.match(text)
    if location:
        text = _after_signature(text[location.end():])
    return text[:MAX_LINE]


def _after_signature(text: str) -> str:
    """``text`` without a leading ``Name::Space::Func(args...)``: what follows its parenthesis."""
    opening = text.find("(")
    if opening <= 0 or " " in text[:opening]:
        return text
    depth = 0
    for i in range(opening, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return text[i + 1:].strip() or text
    return text
