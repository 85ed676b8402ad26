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
    "PendingExport": "pipeline",
    "ExportReport": "report",
    "fold_batchnorm": "fold",
    "DEFAULT_OPSET": "onnx_export",
    "ExportError": "errors",
    "SourceError": "errors",
    "OutputError": "errors",
    "QualityError": "errors",
    "PRECISIONS": "precision",
    "CheckError": "errors",
    "CheckerError": "errors",
    "ShapeError": "errors",
    "ParityError": "errors",
    "DynamicBatchError": "errors",
}

__getattr__, __all__ = lazy_attributes(__name__, _LAZY)
