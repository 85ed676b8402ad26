"""Trace a network to an in-memory ONNX model with a symbolic batch axis.

Exporter choice, measured with torch 2.14 / onnxscript 0.7 on both networks (default widths):
  * dynamo=True (torch.export + onnxscript): correct, and the graph is exactly
    ConvTranspose/Relu/Tanh (generator) or Conv/LeakyRelu/Reshape (discriminator); no
    deprecation warning. About 1 s per network warm (2-3 s for the first in a process).
  * dynamo=False (TorchScript): ~0.05 s, same numbers, but it emits DeprecationWarnings
    ("The feature will be removed") in torch 2.14, and it leaves BatchNormalization after each
    ConvTranspose when BN is not folded beforehand.
The TorchScript exporter is on its way out, so the dynamo one is used, with external_data=False
(its default writes weights to a side .data file; ours must be one self-contained file) and
the export's own verbose progress lines turned off. Opset 18 is the lowest the dynamo exporter
emits natively (lower ones go through the version converter) and loads in every ONNX Runtime
the runtime package accepts (>= 1.18).
"""
from __future__ import annotations

from dataclasses import dataclass

import onnx
import torch
from torch import nn

from dcgan.core.text import first_line

from .errors import ExportError

DEFAULT_OPSET = 18
BATCH_DIM = "batch"
# torch.export specialises a dimension whose example size is 0 or 1, so trace at 2.
_TRACE_BATCH = 2


@dataclass(frozen=True)
class NetSpec:
    """The signature a runtime relies on: names and per-example shapes (batch excluded)."""

    role: str
    input_name: str
    input_dims: tuple[int, ...]
    output_name: str
    output_dims: tuple[int, ...]

    def input_shape(self, batch: int | str = BATCH_DIM) -> list[int | str]:
        return [batch, *self.input_dims]

    def output_shape(self, batch: int | str = BATCH_DIM) -> list[int | str]:
        return [batch, *self.output_dims]


def generator_spec(latent_dim: int, channels: int, image_size: int) -> NetSpec:
    return NetSpec(
        "generator", "z", (latent_dim, 1, 1), "image", (channels, image_size, image_size)
    )


def discriminator_spec(channels: int, image_size: int) -> NetSpec:
    # One logit per image as a flat [batch] vector: what a ranking loop indexes directly.
    return NetSpec("discriminator", "image", (channels, image_size, image_size), "logit", ())


class DiscriminatorLogits(nn.Module):
    """The discriminator with its (N, 1, 1, 1) output flattened to (N,)."""

    def __init__(self, discriminator: nn.Module):
        super().__init__()
        self.discriminator = discriminator

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.discriminator(image).reshape(-1)


def trace_to_onnx(
    module: nn.Module,
    spec: NetSpec,
    *,
    opset: int = DEFAULT_OPSET,
    dynamic_batch: bool = True,
    optimize: bool = True,
) -> onnx.ModelProto:
    """Export ``module`` (already in eval mode) to an ONNX model held in memory.

    ``optimize`` runs the exporter's onnxscript optimiser, which removes the shape arithmetic
    around the discriminator's flatten; it also fuses BatchNorm into (transposed)
    convolutions by itself, so an export meant to keep BatchNormalization nodes turns it off.
    """
    example = torch.randn(spec.input_shape(_TRACE_BATCH), generator=torch.Generator().manual_seed(0))
    dynamic = ({0: torch.export.Dim(BATCH_DIM)},) if dynamic_batch else None
    try:
        with torch.no_grad():
            program = torch.onnx.export(
                module,
                (example,),
                dynamo=True,
                external_data=False,
                optimize=optimize,
                verbose=False,
                opset_version=opset,
                input_names=[spec.input_name],
                output_names=[spec.output_name],
                dynamic_shapes=dynamic,
            )
        model = program.model_proto
    except Exception as e:  # the exporter raises many unrelated types
        raise ExportError(f"tracing the {spec.role} to ONNX failed: {type(e).__name__}: {first_line(e)}") from e
    _strip_debug_info(model)
    model.graph.name = f"dcgan_edge_{spec.role}"
    return model


def _strip_debug_info(model: onnx.ModelProto) -> None:
    # The exporter records per-node stack traces and FX names: source paths of the machine
    # that exported, of no use to a runtime.
    for node in model.graph.node:
        del node.metadata_props[:]
        node.doc_string = ""
