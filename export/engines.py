"""Adapters for the inference engines an exported model may be deployed to, besides ONNX Runtime.

    run = ENGINES["tract"].open("model.onnx", threads=2)   # EngineFailedError: one line
    images = run(z)                                        # float32 outputs, as ONNX Runtime's

Each adapter imports its engine inside ``open`` (none is needed to export or sample), turns the
engine's error into one line (tract's come with a Rust backtrace, OpenCV's and OpenVINO's with
source locations) and runs the model with the settings a user would pick for parity:

    onnxruntime        the reference: as dcgan.runtime runs it on the CPU (EXTENDED graph
                       optimisations, the batch split across single-threaded runs)
    onnxruntime-noopt  graph optimisations off: int8 QDQ runs as the dequantize-float-quantize
                       arithmetic the graph writes, which the other engines follow, instead of
                       ONNX Runtime's fused integer kernels
    openvino           CPU plugin with the f32 inference-precision hint: without it OpenVINO runs
                       float models in bf16 on CPUs that have AVX512-BF16 or AMX
    tract              its CPU runtime; its Python binding has no thread setting (one thread)
    opencv             cv2.dnn, OpenCV's own ONNX engine: ENGINE_NEW of OpenCV 5.0, called
                       ENGINE_OPENCV from 5.1, where it is the only one
    opencv-classic     cv2.dnn, the classic engine (the one of OpenCV 4), ENGINE_CLASSIC: in
                       OpenCV 5.0 only (5.1 removed it), so an engine only there
"""
from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from typing import Callable

import numpy as np

from dcgan.core.text import MAX_LINE, first_line
from dcgan.runtime.providers import ort_message

from .errors import EngineFailedError, EngineUnavailableError

EXTRA = "pip install 'dcgan-edge[engines]'"
REFERENCE = "onnxruntime"

# x (float32 input) -> the model's first output as a float array
Runner = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Engine:
    name: str
    module: str  # the top-level module ``open`` imports
    setting: str  # how it is configured, for the table's note
    load: Callable[[str, int], Runner]
    message: Callable[[BaseException], str]
    sets_threads: bool = True
    needs: str = ""  # an attribute of the module that versions without the engine lack
    hint: str = ""  # how to install it, where the extra's versions may not have it

    @property
    def installed(self) -> bool:
        if importlib.util.find_spec(self.module) is None:
            return False
        if not self.needs:
            return True
        try:
            obj = importlib.import_module(self.module)
        except ImportError:
            return True  # open() says what is broken
        for part in self.needs.split("."):
            obj = getattr(obj, part, None)
        return obj is not None

    def open(self, path: str, threads: int) -> Runner:
        """A runner for the model file at ``path``, its calls failing as EngineFailedError too."""
        if not self.installed:
            raise EngineUnavailableError(f"{self.name} is not installed ({self.install_hint})")
        try:
            run = self.load(str(path), int(threads))
        except ImportError as e:  # installed but broken (a missing shared library, say)
            raise EngineFailedError(f"{self.name} does not import: {first_line(e)}") from None
        except Exception as e:  # each engine raises its own types (cv2.error, TractError, ...)
            raise EngineFailedError(self.message(e)) from None

        def checked(x: np.ndarray) -> np.ndarray:
            try:
                return np.asarray(run(np.ascontiguousarray(x, dtype=np.float32)))
            except Exception as e:
                raise EngineFailedError(self.message(e)) from None

        return checked

    @property
    def install_hint(self) -> str:
        return self.hint or ("pip install 'dcgan-edge[cpu]'" if self.module == "onnxruntime"
                             else EXTRA)


# -- error messages -----------------------------------------------------------------------------

def _one_line(parts: list[str]) -> str:
    return " ".join(" ".join(parts).split())[:MAX_LINE]


def tract_message(e: BaseException) -> str:
    """tract's first line and its 'Caused by' lines, without the backtrace."""
    text = str(e).split("Stack backtrace:", 1)[0]
    head, _, causes = text.partition("Caused by:")
    lines = [ln.strip() for ln in causes.splitlines() if ln.strip()]
    lines = [re.sub(r"^\d+: ", "", ln) for ln in lines]
    first = next((ln.strip() for ln in head.splitlines() if ln.strip()), "")
    return _one_line([first, f"(caused by: {'; '.join(lines)})" if lines else ""])


_OPENCV_PREFIX = re.compile(r"^OpenCV\([^)]*\) \S+:\d+: error: ")
_OPENCV_FUNCTION = re.compile(r"in function '([^']*)'")


def opencv_message(e: BaseException) -> str:
    """cv2.error without the source path, the function's full C++ signature shortened to its
    name, the '>' lines of a failed assertion joined on."""
    lines = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
    lines = [ln.lstrip("> ").strip() for ln in lines]
    text = _OPENCV_PREFIX.sub("", " ".join(lines)).replace(" : ", ": ")
    return _one_line([_OPENCV_FUNCTION.sub(lambda m: f"in function '{_function_name(m[1])}'", text)])


def _function_name(signature: str) -> str:
    """'virtual void cv::dnn::dnn5_v1::Layer::getTypes(const ...) const' -> 'Layer::getTypes'"""
    words = signature.split("(", 1)[0].split()
    return "::".join(words[-1].split("::")[-2:]) if words else signature


_OPENVINO_NOISE = re.compile(r"^(Exception from \S+:\d+:|Check '.*' failed at \S+:\d+:)$")


def openvino_message(e: BaseException) -> str:
    """OpenVINO's message without its 'Exception from file.cpp:N:' and 'Check ... failed at'
    lines (its reason follows them)."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    kept = [ln for ln in lines if not _OPENVINO_NOISE.match(ln)]
    return _one_line(kept or lines)


# -- adapters -------------------------------------------------------------------------------------

def _onnxruntime(path: str, threads: int) -> Runner:
    from dcgan.runtime.model_file import load_model

    model = load_model(path, "cpu", threads)
    name = model.inputs[0].name
    return lambda x: model.run(name, x)


def _onnxruntime_noopt(path: str, threads: int) -> Runner:
    import onnxruntime as ort

    from dcgan.runtime.providers import session_options

    options = session_options(threads)
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda x: session.run(None, {name: x})[0]


def _openvino(path: str, threads: int) -> Runner:
    import openvino as ov

    config = {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": threads}
    compiled = ov.Core().compile_model(path, "CPU", config)
    return lambda x: compiled([x])[0]


def _tract(path: str, threads: int) -> Runner:
    import tract

    # The file's symbolic batch is kept: a concrete input fact would not unify with it.
    runnable = tract.onnx().load(path).into_model().into_runnable()
    return lambda x: runnable.run([x])[0].to_numpy()


def _opencv(*names: str) -> Callable[[str, int], Runner]:
    """cv2.dnn with the first of the engine ``names`` this OpenCV has."""
    def load(path: str, threads: int) -> Runner:
        import cv2

        # OpenCV logs a failed layer's shapes to stderr before it raises: the raise is enough.
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
        cv2.setNumThreads(threads)
        engine = next((getattr(cv2.dnn, n) for n in names if hasattr(cv2.dnn, n)), None)
        if engine is None:
            raise EngineFailedError(f"OpenCV {cv2.__version__} has no {' or '.join(names)}")
        net = cv2.dnn.readNetFromONNX(path, engine)

        def run(x: np.ndarray) -> np.ndarray:
            net.setInput(x)
            return net.forward()

        return run

    return load


def _engines(*engines: Engine) -> dict[str, Engine]:
    return {e.name: e for e in engines}


ENGINES = _engines(
    Engine(REFERENCE, "onnxruntime", "CPU, as dcgan.runtime runs it", _onnxruntime, ort_message),
    Engine("onnxruntime-noopt", "onnxruntime", "graph optimisations off", _onnxruntime_noopt,
           ort_message),
    Engine("openvino", "openvino", "CPU, f32 precision hint", _openvino, openvino_message),
    Engine("tract", "tract", "one thread", _tract, tract_message, sets_threads=False),
    Engine("opencv", "cv2", "cv2.dnn new engine", _opencv("ENGINE_NEW", "ENGINE_OPENCV"),
           opencv_message),
    Engine("opencv-classic", "cv2", "cv2.dnn classic engine", _opencv("ENGINE_CLASSIC"),
           opencv_message, needs="dnn.ENGINE_CLASSIC",
           hint="OpenCV 5.1 removed it: pip install 'opencv-python-headless>=5.0,<5.1'"),
)


def installed_engines() -> list[str]:
    """The engines this environment can run, the reference first."""
    return [name for name, engine in ENGINES.items() if engine.installed]


def requested_engines(text: str) -> list[str]:
    """The engines a comma list names, in its order and once each; ``all``: every installed
    engine besides the reference. Refuses an unknown or uninstalled name, naming the extra."""
    names: list[str] = []
    for word in (w.strip() for w in text.split(",")):
        if not word:
            continue
        if word == "all":
            names += [n for n in installed_engines() if n != REFERENCE]
            continue
        if word not in ENGINES:
            raise EngineUnavailableError(
                f"unknown engine {word!r} (known: {', '.join(ENGINES)}, all)")
        if not ENGINES[word].installed:
            raise EngineUnavailableError(
                f"{word} is not installed ({ENGINES[word].install_hint})")
        names.append(word)
    if not names:
        raise EngineUnavailableError("no engine named (a comma list, or all)")
    return list(dict.fromkeys(names))
