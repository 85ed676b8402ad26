"""dcgan.export: folds, exports and checks the networks as self-describing ONNX.

Heavy names load on first use so that ``dcgan.export.entry`` can run without torch.
"""
from __future__ import annotations

from dcgan.core.lazy import lazy_attributes

_LAZY = {
    "export_generator": "pipeline",
    "export_discriminator": "pipeline",
    "prepare_generator": "pipeline",
    "prepare_discriminator": "pipeline",
    "ExportOptions": "options",
    "ExportReport": "report",
    "fold_batchnorm": "fold",
    "DEFAULT_OPSET": "onnx_export",
    "PRECISIONS": "precision",
    "ExportError": "errors",
    "OptionError": "errors",
    "SourceError": "errors",
    "OutputError": "dcgan.core.errors",
    "FoldError": "errors",
    "QualityError": "errors",
    "PassError": "errors",
    "LatentGemmError": "errors",
    "SubpixelError": "errors",
    "Float16Error": "errors",
    "QuantizationError": "errors",
    "CheckError": "errors",
    "CheckerError": "errors",
    "ShapeError": "errors",
    "ParityError": "errors",
    "DynamicBatchError": "errors",
    "MobileFormatError": "errors",
    "EngineError": "errors",
    "EngineUnavailableError": "errors",
    "EngineFailedError": "errors",
    "EngineParityError": "errors",
    "check_engines": "engine_parity",
    "prepare_ort_format": "mobile",
}

__getattr__, __all__ = lazy_attributes(__name__, _LAZY)
