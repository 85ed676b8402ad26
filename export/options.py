"""What an export is asked to do: one ExportOptions, checked when it is made and passed whole
through the pipeline, so that a value is refused once, before any work, with the option named.

    export_generator(run, "g.onnx", precision="int8")                  # fields as keywords
    export_generator(run, "g.onnx", ExportOptions(precision="int8"))   # or the options made once
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import onnx

from .errors import OptionError
from .onnx_export import DEFAULT_OPSET
from .precision import CALIBRATION_INPUTS, DEFAULT_MIN_PSNR, PRECISIONS, QUALITY_IMAGES

# A function ModelProto -> ModelProto applied between tracing and the precision form.
ModelStep = Callable[[onnx.ModelProto], onnx.ModelProto]


@dataclass(frozen=True)
class ExportOptions:
    """How to export and check one network (the fields a discriminator has no use for,
    ``ema`` and ``bn_latents``, it ignores, so one ExportOptions serves both networks).

    opset               the ONNX opset to emit
    atol                the largest |ONNX - PyTorch| the fp32 parity check accepts
    checks              run the checker, shape, parity and dynamic-batch checks (checks.py)
    fold_bn             fold BatchNorm into the convolutions before tracing (fold.py)
    precision           "fp32", "fp16" or "int8" (precision.py)
    min_psnr            a variant whose PSNR against fp32 is below this many dB is refused
    quality_images      inputs of that comparison
    calibration_inputs  inputs an int8 variant is calibrated on
    ema                 generator: None takes the EMA weights when the checkpoint has them,
                        False the raw ones, True requires EMA
    bn_latents          generator: > 0 first replaces the BatchNorm running statistics by
                        their average over that many seeded latents (on a copy), so that the
                        statistics the eval-mode graph bakes in describe the exported weights
    extra_metadata      merged field by field into the stored metadata
    steps               model steps (ModelStep), applied in order after tracing
    """

    opset: int = DEFAULT_OPSET
    atol: float = 1e-4
    checks: bool = True
    fold_bn: bool = True
    precision: str = "fp32"
    min_psnr: float = DEFAULT_MIN_PSNR
    quality_images: int = QUALITY_IMAGES
    calibration_inputs: int = CALIBRATION_INPUTS
    ema: bool | None = None
    bn_latents: int = 0
    extra_metadata: dict[str, Any] | None = None
    steps: Sequence[ModelStep] = ()

    def __post_init__(self) -> None:
        # NaN passes every comparison, so each bound is written to fail on it; an infinite
        # atol would pass any parity check (checks=False says that plainly).
        if not (self.atol > 0 and math.isfinite(self.atol)):
            raise OptionError("atol", f"must be a positive, finite number, got {self.atol}")
        if self.precision not in PRECISIONS:
            raise OptionError("precision", f"must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if math.isnan(self.min_psnr):
            raise OptionError("min_psnr", "must be a number")
        if not self.quality_images >= 2:
            raise OptionError("quality_images", f"must be 2 or more, got {self.quality_images}")
        if not self.calibration_inputs >= 1:
            raise OptionError("calibration_inputs", f"must be 1 or more, got {self.calibration_inputs}")
        if not self.bn_latents >= 0:
            raise OptionError("bn_latents", f"must be 0 or more, got {self.bn_latents}")
        object.__setattr__(self, "steps", tuple(self.steps))

    @property
    def is_variant(self) -> bool:
        """A reduced-precision variant: gated by its quality against fp32, not by ``atol``."""
        return self.precision != "fp32"


def export_options(options: ExportOptions | None = None, **fields: Any) -> ExportOptions:
    """``options`` with ``fields`` replaced (checked again), or ExportOptions(**fields)."""
    return ExportOptions(**fields) if options is None else dataclasses.replace(options, **fields)
