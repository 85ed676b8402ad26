"""What an export did, as an object (for code) and as a few lines of text (for people)."""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dcgan.core.text import format_size


@dataclass
class ExportReport:
    role: str
    path: Path  # where the file goes; it is there once committed
    opset: int
    exporter: str
    input_name: str
    input_shape: list[int | str]
    output_name: str
    output_shape: list[int | str]
    file_bytes: int
    op_counts: dict[str, int]
    parameters: int
    bn_folded: bool
    atol: float
    checked: bool
    ema: bool | None = None
    parity: dict[int, float] = field(default_factory=dict)  # batch -> max |diff| vs PyTorch
    seconds: dict[str, float] = field(default_factory=dict)  # export (fold + trace), checks, total
    metadata: dict[str, Any] = field(default_factory=dict)
    precision: str = "fp32"
    # A variant's figures against the fp32 graph (variant_quality.ImageQuality/LogitQuality).
    quality: Any = None
    min_psnr: float | None = None
    calibration: str | None = None  # what an int8 variant was calibrated on

    @property
    def node_count(self) -> int:
        return sum(self.op_counts.values())

    @property
    def max_abs_diff(self) -> float | None:
        return max(self.parity.values()) if self.parity else None

    def parity_summary(self) -> str:
        if not self.parity:
            return "max |diff| not measured"
        parts = [f"batch {b}: {_fmt_diff(d)}" for b, d in sorted(self.parity.items())]
        return "max |diff| " + ", ".join(parts)

    def lines(self) -> list[str]:
        ops = ", ".join(f"{op} x{n}" for op, n in Counter(self.op_counts).most_common())
        weights = {True: "EMA weights", False: "raw weights", None: ""}[self.ema if self.role == "generator" else None]
        head = f"{self.role}: {self.path} ({format_size(self.file_bytes)}, {self.parameters:,} parameters"
        head += f", {weights})" if weights else ")"
        out = [
            head,
            f"  {self.input_name} {_fmt_shape(self.input_shape)} -> {self.output_name} {_fmt_shape(self.output_shape)}"
            f", opset {self.opset}, {self.exporter}",
            f"  {self.node_count} nodes: {ops}" + ("" if self.bn_folded else " (BatchNorm not folded)"),
        ]
        if self.quality is not None:
            gate = f"; min {self.min_psnr:g} dB" if self.min_psnr is not None else ""
            calibrated = f"; calibrated on {self.calibration}" if self.calibration else ""
            out.append(f"  {self.precision}: {self.quality.summary()}{gate}{calibrated}")
        if self.checked and self.precision != "fp32":
            out.append(f"  checks passed: checker, shapes, dynamic batch; vs PyTorch {self.parity_summary()} "
                       f"(not bounded: {self.precision} is gated by its quality against fp32)")
        elif self.checked:
            out.append(f"  checks passed: checker, shapes, dynamic batch; parity {self.parity_summary()} (atol {self.atol:g})")
        else:
            out.append("  checks skipped (--no-check)")
        if self.seconds:
            out.append("  time: " + ", ".join(f"{k} {v:.2f} s" for k, v in self.seconds.items()))
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


def _fmt_shape(shape: list[int | str]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def _fmt_diff(d: float) -> str:
    return "non-finite" if math.isnan(d) else f"{d:.2e}"
