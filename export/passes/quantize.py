"""int8 variant of an exported model: ONNX Runtime static quantization in QDQ form.

QDQ (QuantizeLinear/DequantizeLinear pairs around float ops) keeps the file a standard ONNX
graph that any runtime can read; ONNX Runtime fuses each DQ -> Conv -> Q into an int8
QLinearConv when it loads the model. Settings, and why:
  * weights int8, symmetric, per output channel: the convolutions' channels have very
    different ranges, and symmetric int8 weights are what the fast u8 x s8 kernels of
    AVX-512 VNNI / AVX2 take;
  * activations uint8, asymmetric, with MinMax ranges from calibration inputs: after a
    Relu the range is [0, max], which an asymmetric uint8 covers fully;
  * Relu is folded into the quantization of its input (its range starts at 0);
  * the generator's final Tanh stays float: it is not an op the quantizer handles, so it
    runs after the last DequantizeLinear and the image keeps full float resolution;
  * weights in the 7-bit range (``reduce_range``): ONNX Runtime's u8 x s8 kernel for AVX2
    without VNNI multiplies with VPMADDUBSW, whose 16-bit pair sums saturate for 8-bit
    weights, so the same file drew other images there than on a VNNI CPU. With 7-bit weights
    no pair saturates, and both kinds of CPU compute the same images, for about 0.1 dB on VNNI
    CPUs (benchmarks/int8_cpus.py, docs/performance.md).
The generator must be rewritten to sub-pixel form first (subpixel.py): ONNX Runtime has no
int8 ConvTranspose kernel, and a QDQ ConvTranspose ran slower than fp32.
"""
from __future__ import annotations

import contextlib
import logging
import tempfile
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import onnx
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)

from dcgan.core.text import first_line

from ..errors import QuantizationError

CALIBRATION_BATCH = 32


class ArrayReader(CalibrationDataReader):
    """Feeds ``inputs`` to the calibrator in batches, as {input_name: batch}."""

    def __init__(self, input_name: str, inputs: np.ndarray, batch: int = CALIBRATION_BATCH):
        self._batches = [
            {input_name: np.ascontiguousarray(inputs[i : i + batch], dtype=np.float32)}
            for i in range(0, len(inputs), batch)
        ]
        self._iter: Iterator = iter(self._batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._iter, None)

    def rewind(self) -> None:
        self._iter = iter(self._batches)


def quantize_int8(model: onnx.ModelProto, input_name: str, calibration: np.ndarray,
                  keep_float: Sequence[str] = (), reduce_range: bool = True) -> onnx.ModelProto:
    """The QDQ int8 copy of ``model``, with activation ranges from running ``calibration``
    (a batch of inputs) through it; the nodes named in ``keep_float`` stay float;
    ``reduce_range`` quantizes weights to 7 bits (False: to 8). Every failure is a
    QuantizationError."""
    if len(calibration) == 0:
        raise QuantizationError("quantization needs at least one calibration input")
    # quantize_static reads and writes files; the scratch folder also takes the calibrator's
    # augmented copy of the model.
    with tempfile.TemporaryDirectory(prefix="dcgan-int8-") as tmp:
        src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        onnx.save(model, str(src))
        try:
            with _quiet_quantizer():
                quantize_static(
                    str(src),
                    str(dst),
                    ArrayReader(input_name, calibration),
                    quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8,
                    per_channel=True,
                    reduce_range=reduce_range,
                    nodes_to_exclude=list(keep_float),
                    calibrate_method=CalibrationMethod.MinMax,
                    extra_options={"WeightSymmetric": True, "ActivationSymmetric": False},
                )
            quantized = onnx.load(str(dst))
        # The quantizer runs ONNX Runtime, onnx and numpy on the graph and lets whatever they
        # raise pass: this is where it becomes one typed error.
        except Exception as e:
            raise QuantizationError(f"ONNX Runtime's quantizer failed: {type(e).__name__}: "
                                    f"{first_line(e)}") from e
    quantized.graph.name = model.graph.name
    return quantized


@contextlib.contextmanager
def _quiet_quantizer() -> Iterator[None]:
    """The quantizer logs advice through the root logger ("consider pre-processing"): the
    graph is already shape-inferred and folded, so keep it off the user's terminal."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(previous)


def integer_kernels() -> str:
    """Which of ONNX Runtime's x86 integer kernels this CPU runs, from its flags, for the
    metadata of a file checked here: "VNNI (avx512_vnni)", "AVX2 without VNNI", ..."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown (no /proc/cpuinfo)"
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    vnni = [f for f in ("avx512_vnni", "avx_vnni") if f in flags]
    if vnni:
        return f"x86-64 VNNI ({', '.join(vnni)})"
    if "avx2" in flags:
        return "x86-64 AVX2 without VNNI"
    return "not x86-64 AVX2 or VNNI" if flags else "unknown (no CPU flags)"
