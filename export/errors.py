"""Typed errors of the export, all in this one module and all ExportErrors (a DcganError, so a
command line catches one class and prints one line).

Every message is one line, so the CLI can print ``str(error)`` as it is. Check failures are
collected over all checks and raised together as one CheckError whose class says what failed:
the specific class when every failure is of one kind (a tampered weight gives a ParityError),
the CheckError base when several kinds failed at once; ``.failures`` lists them all either way.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dcgan.core.errors import DcganError, OutputError  # noqa: F401  OutputError: the one of core

if TYPE_CHECKING:
    from .report import ExportReport


class ExportError(DcganError):
    """Anything that stops an export; nothing is left at the output path."""


class OptionError(ExportError, ValueError):
    """An export option out of its range. Also a ValueError, as Python's own argument checks
    raise; ``option`` names the ExportOptions field, ``reason`` says what it must be."""

    def __init__(self, option: str, reason: str):
        self.option, self.reason = option, reason
        super().__init__(f"{option} {reason}")


class SourceError(ExportError):
    """The checkpoint or module to export is missing, unreadable, foreign or does not fit."""


class FoldError(ExportError):
    """A BatchNorm layer that cannot be folded into a convolution."""


class QualityError(ExportError):
    """A reduced-precision variant differs from the fp32 model more than the threshold allows."""


# -- graph passes (passes/) --------------------------------------------------------------------
# Each takes one message, so the pipeline can say which variant it was making and keep the class.

class PassError(ExportError):
    """A graph pass cannot rewrite the graph it was given."""


class LatentGemmError(PassError):
    """The graph does not start with a transposed convolution of the 1x1 latent."""


class SubpixelError(PassError):
    """The graph is not a chain of transposed convolutions this rewrite understands."""


class Float16Error(PassError):
    """The model holds a value float16 cannot represent (beyond +-65504)."""


class QuantizationError(PassError):
    """ONNX Runtime's quantizer failed on the graph, or was given nothing to calibrate on."""


class MobileFormatError(ExportError):
    """The ORT-format files for ONNX Runtime Mobile (mobile.py) cannot be made, or the ORT file
    computes other outputs than the ONNX file it came from."""


# -- checks (checks.py) ------------------------------------------------------------------------

class CheckError(ExportError):
    """One or more checks of the exported model failed."""

    def __init__(self, failures: list["CheckFailure"], report: "ExportReport | None" = None):
        self.failures = list(failures)
        self.report = report
        role = report.role if report is not None else "model"
        figures = f" [{report.parity_summary()}]" if report is not None else ""
        listed = "; ".join(f"{f.check}: {f.message}" for f in self.failures)
        super().__init__(f"{role} export failed its checks{figures}: {listed}")


class CheckerError(CheckError):
    """onnx.checker rejected the graph, or ONNX Runtime could not load it."""


class ShapeError(CheckError):
    """Input/output names, ranks or sizes differ from what the runtime expects."""


class ParityError(CheckError):
    """ONNX Runtime's outputs differ from PyTorch's by more than atol (or are not finite)."""


class DynamicBatchError(CheckError):
    """The batch axis is not symbolic, or the model does not run at two batch sizes."""


@dataclass(frozen=True)
class CheckFailure:
    """One failed check: ``kind`` is the CheckError subclass that stands for it."""

    kind: type[CheckError]
    message: str

    @property
    def check(self) -> str:
        return {
            CheckerError: "checker",
            ShapeError: "shapes",
            ParityError: "parity",
            DynamicBatchError: "dynamic batch",
        }.get(self.kind, "check")


def raise_failures(failures: list[CheckFailure], report: "ExportReport | None" = None) -> None:
    """Raise one CheckError for all failures (no-op when there are none)."""
    if not failures:
        return
    kinds = {f.kind for f in failures}
    cls = kinds.pop() if len(kinds) == 1 else CheckError
    raise cls(failures, report)


# -- other engines (engines.py, engine_parity.py) ----------------------------------------------

class EngineError(ExportError):
    """Base of the errors of the engine checks (dcgan-export --check-engines)."""


class EngineUnavailableError(EngineError):
    """An engine asked for that this toolkit does not know, or that is not installed."""


class EngineFailedError(EngineError):
    """An engine could not load or run a model; the message is the engine's own, on one line."""


class EngineParityError(EngineError):
    """An exported file fails on an engine the user asked for: it does not load or run, loses
    its dynamic batch, computes NaN/Inf or differs from ONNX Runtime beyond the tolerance.
    ``problems`` holds one line per failed (file, engine)."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        count = f"{len(self.problems)} engine check{'s' if len(self.problems) != 1 else ''}"
        super().__init__(f"nothing written: {count} failed: {'; '.join(self.problems)}")
