"""Reduced-precision variants (fp16, int8) of an exported network, and the quality gate.

    fp32  the traced graph (the reference); a generator's first layer as a Gemm (latent_gemm.py)
    fp16  the fp32 form with float16 weights and arithmetic, float32 input and output
          (float16.py)
    int8  QDQ static quantization (quantize.py); the generator first goes to sub-pixel form
          (subpixel.py), because ONNX Runtime has int8 kernels for Conv, not ConvTranspose

A variant is measured against the fp32 graph traced in the same export, on the same inputs
(variant_quality.py), and refused when its PSNR (generator: of the uint8 images;
discriminator: of the logits, the range of the fp32 ones as the peak) is below ``min_psnr``.

Inputs, all drawn from fixed seeds so that an export is reproducible:
  * generator calibration: N(0, 1) latents, the distribution the generator samples from;
  * generator quality: the latents of seeds 0..n-1, as dcgan-gen draws them;
  * discriminator calibration and quality: images of the checkpoint's own generator
    (rounded to uint8 levels, as the runtime scores them), the distribution the
    discriminator ranks; disjoint latents for the two. A discriminator exported from a bare
    module has no generator beside it: uniform noise images in [-1, 1] then.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
import torch
from torch import nn

from dcgan.core.latents import latents_for_seeds

from .errors import QualityError
from .passes.float16 import to_float16
from .passes.latent_gemm import latent_layer_as_gemm
from .onnx_export import NetSpec
from .passes.quantize import quantize_int8
from .passes.subpixel import rewrite_subpixel
from .variant_quality import ImageQuality, LogitQuality, discriminator_quality, generator_quality

PRECISIONS = ("fp32", "fp16", "int8")
DEFAULT_MIN_PSNR = 30.0
QUALITY_IMAGES = 512
CALIBRATION_INPUTS = 256
# Seeds of the latents of a discriminator's calibration images: far from 0..n-1, which the
# quality comparison uses.
_CALIBRATION_SEED = 2**31


@dataclass(frozen=True)
class PrecisionOptions:
    """What to export: ``precision``, and for a variant the gate and the input counts."""

    precision: str = "fp32"
    min_psnr: float = DEFAULT_MIN_PSNR
    quality_images: int = QUALITY_IMAGES
    calibration_inputs: int = CALIBRATION_INPUTS

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if not self.min_psnr == self.min_psnr:  # NaN would pass every comparison
            raise ValueError("min_psnr must be a number")
        if self.quality_images < 2 or self.calibration_inputs < 1:
            raise ValueError("quality_images must be >= 2 and calibration_inputs >= 1")

    @property
    def is_variant(self) -> bool:
        return self.precision != "fp32"


@dataclass
class VariantInputs:
    """Inputs for the calibration of an int8 variant and for the quality comparison."""

    calibration: np.ndarray
    evaluation: np.ndarray
    source: str  # how they were made, for the report and the metadata


def generator_inputs(spec: NetSpec, options: PrecisionOptions) -> VariantInputs:
    latent = spec.input_dims[0]
    rng = np.random.default_rng([_CALIBRATION_SEED, 1])
    calibration = rng.standard_normal((options.calibration_inputs, latent, 1, 1), dtype=np.float32)
    evaluation = latents_for_seeds(range(options.quality_images), latent).reshape(-1, latent, 1, 1)
    return VariantInputs(calibration, evaluation, "latents N(0, 1)")


def discriminator_inputs(spec: NetSpec, options: PrecisionOptions, generator: nn.Module | None) -> VariantInputs:
    n_cal, n_eval = options.calibration_inputs, options.quality_images
    if generator is None:
        rng = np.random.default_rng([_CALIBRATION_SEED, 2])
        images = rng.uniform(-1.0, 1.0, (n_cal + n_eval, *spec.input_dims)).astype(np.float32)
        return VariantInputs(images[:n_cal], images[n_cal:], "uniform images in [-1, 1]")
    latent = generator.cfg.latent_dim
    seeds = [*range(_CALIBRATION_SEED, _CALIBRATION_SEED + n_cal), *range(n_eval)]
    z = torch.from_numpy(latents_for_seeds(seeds, latent).reshape(-1, latent, 1, 1))
    with torch.inference_mode():
        x = torch.cat([generator.eval()(chunk) for chunk in z.split(64)])
        # The runtime scores the uint8 images a user gets, mapped back to [-1, 1].
        x = ((x + 1) * 127.5).round().clamp(0, 255) / 127.5 - 1
    images = x.numpy().astype(np.float32)
    return VariantInputs(images[:n_cal], images[n_cal:], "images of the checkpoint's generator")


def make_variant(model: onnx.ModelProto, spec: NetSpec, precision: str,
                 calibration: np.ndarray | None) -> onnx.ModelProto:
    """The ``precision`` form of the traced fp32 ``model``, as it is written. A generator's
    first layer becomes a Gemm in fp32 and fp16 (latent_gemm.py)."""
    if precision in ("fp32", "fp16"):
        fast = latent_layer_as_gemm(model) if spec.role == "generator" else model
        return fast if precision == "fp32" else to_float16(fast)
    if spec.role == "generator":
        return quantize_int8(rewrite_subpixel(model), spec.input_name, calibration)
    # The discriminator's last convolution (512 x 16 multiply-adds per image) stays float:
    # quantizing its output to 8 bits was most of the logit error (max |diff| 0.96 -> 0.14
    # on a trained model) for 9% of the int8 speed.
    last_conv = [node.name for node in model.graph.node if node.op_type == "Conv"][-1:]
    return quantize_int8(model, spec.input_name, calibration, keep_float=last_conv)


def measure_quality(reference: onnx.ModelProto, variant: onnx.ModelProto, spec: NetSpec,
                    precision: str, inputs: VariantInputs) -> ImageQuality | LogitQuality:
    if spec.role == "generator":
        return generator_quality(reference, variant, precision, inputs.evaluation)
    return discriminator_quality(reference, variant, precision, inputs.evaluation)


def check_quality(quality: ImageQuality | LogitQuality, role: str, min_psnr: float) -> None:
    """Refuse a variant whose gate figure is below ``min_psnr`` (raises QualityError)."""
    if quality.gate_db < min_psnr:
        raise QualityError(
            f"{quality.precision} {role} refused, below the minimum {min_psnr:g} dB: "
            f"{quality.summary()}; nothing written"
        )
