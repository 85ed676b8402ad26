"""How far a reduced-precision model (fp16, int8) is from the fp32 one, on the same inputs.

Both models run in ONNX Runtime on the CPU with the runtime's own session settings, so the
figures describe what dcgan-gen will compute.

Generator (the images a user gets, uint8, as dcgan.core.images.generated_images makes
them; RGBA in premultiplied alpha with each colour clamped to its alpha, the values every
picture file is made from: an error there is the error seen over any background, where in
straight alpha a colour's error grows as its alpha falls and is hidden by it):
  psnr_db        10 log10(255^2 / MSE) over all pixels and channels (alpha included); None when
                 the images are identical
  max_abs_error  the largest difference of one pixel channel, in uint8 levels
  swd_x1e3       multi-scale sliced Wasserstein distance (dcgan.core.swd.swd) between
                 the two image sets: whether the variant changes the kind of local structure
                 the generator draws, not only single pixels (0 for identical sets)
Discriminator (logits, used to rank samples):
  psnr_db        20 log10(range of the fp32 logits / RMS difference): PSNR with the spread
                 of the scores over the images as the peak, since a ranking reads the
                 scores relative to one another
  max_abs_diff   the largest logit difference
  rank_correlation  Spearman correlation of the two rankings
The export's threshold (--min-psnr) applies to ``psnr_db`` of either.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import onnx

from dcgan.core.swd import swd
from dcgan.core.images import generated_images
from dcgan.runtime.providers import session_options

from .errors import QualityError

RUN_BATCH = 64


@dataclass(frozen=True)
class _AgainstFp32:
    """What both kinds of figures share, the PSNR the gate reads among them (None: identical
    outputs)."""

    precision: str
    images: int
    psnr_db: float | None

    @property
    def gate_db(self) -> float:
        return math.inf if self.psnr_db is None else self.psnr_db

    def as_metadata(self) -> dict:
        return {"reference": "fp32", **asdict(self)}

    def _summary(self, psnr_name: str, figures: str) -> str:
        psnr = "identical" if self.psnr_db is None else f"{psnr_name} {self.psnr_db:.1f} dB"
        return f"{psnr}, {figures} ({self.images} images vs fp32)"


@dataclass(frozen=True)
class ImageQuality(_AgainstFp32):
    max_abs_error: int
    swd_x1e3: float

    def summary(self) -> str:
        return self._summary("PSNR", f"max error {self.max_abs_error} levels, SWD x1e3 {self.swd_x1e3:.3f}")


@dataclass(frozen=True)
class LogitQuality(_AgainstFp32):
    max_abs_diff: float
    rank_correlation: float

    def summary(self) -> str:
        return self._summary("logit PSNR", f"max |diff| {self.max_abs_diff:.3g}, "
                                           f"rank correlation {self.rank_correlation:.4f}")


def generator_quality(reference: onnx.ModelProto, variant: onnx.ModelProto, precision: str,
                      latents: np.ndarray) -> ImageQuality:
    """Compare the two generators on ``latents`` (N, L, 1, 1)."""
    want = generated_images(run_model(reference, latents))
    got = generated_images(_finite(run_model(variant, latents), precision, "generator"))
    diff = want.astype(np.int16) - got.astype(np.int16)
    mse = float(np.mean(diff.astype(np.float64) ** 2))
    return ImageQuality(
        precision=precision,
        images=len(latents),
        psnr_db=None if mse == 0 else round(10 * math.log10(255.0**2 / mse), 2),
        max_abs_error=int(np.abs(diff).max(initial=0)),
        swd_x1e3=round(swd(want, got, seed=0).mean, 4),
    )


def discriminator_quality(reference: onnx.ModelProto, variant: onnx.ModelProto, precision: str,
                          images: np.ndarray) -> LogitQuality:
    """Compare the two discriminators on ``images`` (N, C, H, W) in [-1, 1]."""
    want = run_model(reference, images).astype(np.float64).reshape(-1)
    got = _finite(run_model(variant, images), precision, "discriminator").astype(np.float64).reshape(-1)
    mse = float(np.mean((got - want) ** 2))
    spread = float(want.max() - want.min())
    return LogitQuality(
        precision=precision,
        images=len(images),
        psnr_db=None if mse == 0 else round(20 * math.log10(max(spread, 1e-30) / math.sqrt(mse)), 2),
        max_abs_diff=float(np.abs(got - want).max(initial=0.0)),
        rank_correlation=round(_spearman(want, got), 6),
    )


def _finite(outputs: np.ndarray, precision: str, role: str) -> np.ndarray:
    """``outputs`` of the variant, refused when any is NaN or infinite (a float16 overflow, say):
    no figure measures those, and NaN would pass every comparison with the gate."""
    bad = int((~np.isfinite(outputs.reshape(len(outputs), -1)).all(axis=1)).sum())
    if bad:
        raise QualityError(f"{precision} {role} refused: it computes NaN or infinite values for {bad} "
                           f"of {len(outputs)} inputs; nothing written")
    return outputs


def run_model(model: onnx.ModelProto, inputs: np.ndarray, batch: int = RUN_BATCH) -> np.ndarray:
    """The model's float32 output for ``inputs``, on the CPU, in chunks of ``batch``."""
    import onnxruntime as ort

    session = ort.InferenceSession(model.SerializeToString(), session_options(),
                                   providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    parts = [session.run(None, {name: inputs[i : i + batch]})[0] for i in range(0, len(inputs), batch)]
    return np.concatenate(parts).astype(np.float32, copy=False)


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 2:
        return 1.0
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    if ra.std() == 0 or rb.std() == 0:
        return 1.0 if np.array_equal(ra, rb) else 0.0
    return float(np.corrcoef(ra, rb)[0, 1])
