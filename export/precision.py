"""Reduced-precision variants (fp16, int8) of an exported network, and the quality gate.

    fp32  the traced graph (the reference); a generator's first layer as a Gemm (latent_gemm.py)
          and a Clip before its Tanh (portable.py)
    fp16  the fp32 form, its first layer as MatMul + Add, with float16 weights and arithmetic,
          float32 input and output (float16.py)
    int8  QDQ static quantization (quantize.py); the generator first goes to sub-pixel form
          (subpixel.py), because ONNX Runtime has int8 kernels for Conv, not ConvTranspose

A variant is measured against the fp32 graph traced in the same export, on the same inputs
(variant_quality.py), and refused when its PSNR (generator: of the uint8 images;
discriminator: of the logits, the range of the fp32 ones as the peak) is below ``min_psnr``.
For RGBA the images are compared in premultiplied alpha (variant_quality.py says why).

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
from typing import TYPE_CHECKING, Callable

import numpy as np
import onnx
import torch
from torch import nn

from dcgan.core.images import from_uint8
from dcgan.core.latents import latents_for_seeds
from dcgan.core.images import generated_images

from .errors import PassError, QualityError
from .onnx_export import NetSpec
from .passes.float16 import to_float16
from .passes.latent_gemm import latent_layer_as_gemm
from .passes.portable import clip_before_tanh
from .passes.quantize import quantize_int8
from .passes.subpixel import rewrite_subpixel
from .variant_quality import ImageQuality, LogitQuality, discriminator_quality, generator_quality

if TYPE_CHECKING:  # options.py reads its defaults from here
    from .options import ExportOptions

PRECISIONS = ("fp32", "fp16", "int8")
DEFAULT_MIN_PSNR = 30.0
QUALITY_IMAGES = 512
CALIBRATION_INPUTS = 256
# Seeds of the latents of a discriminator's calibration images: far from 0..n-1, which the
# quality comparison uses.
_CALIBRATION_SEED = 2**31


@dataclass
class VariantInputs:
    """Inputs for the calibration of an int8 variant and for the quality comparison."""

    calibration: np.ndarray
    evaluation: np.ndarray
    source: str  # how they were made, for the report and the metadata


def generator_inputs(spec: NetSpec, options: "ExportOptions") -> VariantInputs:
    latent = spec.input_dims[0]
    rng = np.random.default_rng([_CALIBRATION_SEED, 1])
    calibration = rng.standard_normal((options.calibration_inputs, latent, 1, 1), dtype=np.float32)
    evaluation = latents_for_seeds(range(options.quality_images), latent).reshape(-1, latent, 1, 1)
    return VariantInputs(calibration, evaluation, "latents N(0, 1)")


def discriminator_inputs(spec: NetSpec, options: "ExportOptions", generator: nn.Module | None) -> VariantInputs:
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
    # The runtime scores the uint8 images a user gets (RGBA clamped to alpha), back in [-1, 1].
    images = from_uint8(generated_images(x.numpy()))
    return VariantInputs(images[:n_cal], images[n_cal:], "images of the checkpoint's generator")


def precision_form(model: onnx.ModelProto, spec: NetSpec, options: "ExportOptions",
                   variant_inputs: Callable[[], VariantInputs],
                   ) -> tuple[onnx.ModelProto, ImageQuality | LogitQuality | None, str | None]:
    """(the ``options.precision`` form of the traced ``model``, as it is written; for a variant
    its quality against ``model`` and, for int8, what it was calibrated on, else None).

    A variant is made and measured here, before anything is written, so a refused one
    (QualityError) leaves no file."""
    inputs = variant_inputs() if options.is_variant else None
    calibration = None if inputs is None else inputs.calibration
    try:
        written = make_variant(model, spec, options.precision, calibration)
    except PassError as e:  # the class says which pass failed; the message adds what it was for
        raise type(e)(f"making the {options.precision} {spec.role} failed: {e}") from e
    if inputs is None:
        return written, None, None
    quality = measure_quality(model, written, spec, options.precision, inputs)
    check_quality(quality, spec.role, options.min_psnr)
    return written, quality, inputs.source if options.precision == "int8" else None


def make_variant(model: onnx.ModelProto, spec: NetSpec, precision: str,
                 calibration: np.ndarray | None, reduce_range: bool = True) -> onnx.ModelProto:
    """The ``precision`` form of the traced fp32 ``model``, as it is written. A generator's
    first layer becomes one matrix product over the batch in fp32 and fp16 (latent_gemm.py), and
    its Tanh gets the Clip that other engines need (portable.py), after quantization in int8 so
    the quantizer does not fold it into the last layer's range. ``reduce_range``: an int8
    generator's weights in 7 bits (quantize.py says why; False, 8 bits, is for comparisons)."""
    if precision in ("fp32", "fp16"):
        if spec.role == "generator":
            model = clip_before_tanh(latent_layer_as_gemm(model, matmul=precision == "fp16"))
        return model if precision == "fp32" else to_float16(model)
    if spec.role == "generator":
        return clip_before_tanh(quantize_int8(rewrite_subpixel(model), spec.input_name, calibration,
                                              reduce_range=reduce_range))
    # The discriminator's last convolution (512 x 16 multiply-adds per image) stays float:
    # quantizing its output to 8 bits was most of the logit error (max |diff| 0.96 -> 0.14
    # on a trained model) for 9% of the int8 speed.
    # Its weights keep the 8-bit range: with 7 bits a small test model's logits fell below the
    # 30 dB gate (29.3 dB), and a ranking needs no bit-identical logits across CPUs.
    last_conv = [node.name for node in model.graph.node if node.op_type == "Conv"][-1:]
    return quantize_int8(model, spec.input_name, calibration, keep_float=last_conv, reduce_range=False)


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
