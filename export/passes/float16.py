"""fp16 variant of an exported model: float16 weights and arithmetic, float32 inputs and outputs.

The graph's float inputs are cast to float16 on entry and its float outputs back to float32
on exit, so a caller (and the runtime's signature checks) sees the same float32 interface as
the fp32 model. Everything between runs in float16: initializers, Constant nodes, Cast
targets and the declared types of intermediate values are converted together, so the graph
stays type-consistent (the checker's full_check verifies this).

Written with the onnx helpers alone; the graphs exported here contain only convolutions,
activations and shape arithmetic, none of the ops that need a float32 island (Resize scales,
RandomNormal, ...), so no op is kept in float32.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ..errors import Float16Error

FLOAT, FLOAT16 = TensorProto.FLOAT, TensorProto.FLOAT16
FP16_MAX = float(np.finfo(np.float16).max)


def to_float16(model: onnx.ModelProto) -> onnx.ModelProto:
    """A float16 copy of ``model`` with float32 graph inputs and outputs (a pipeline step)."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph

    for i, tensor in enumerate(graph.initializer):
        if tensor.data_type == FLOAT:
            graph.initializer[i].CopyFrom(_half(tensor))
    for node in graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.TENSOR and attr.t.data_type == FLOAT:
                attr.t.CopyFrom(_half(attr.t))
            elif node.op_type == "Cast" and attr.name == "to" and attr.i == FLOAT:
                attr.i = FLOAT16
    for value in graph.value_info:
        _retype(value)

    entry = [_boundary_cast(graph, value, FLOAT16) for value in graph.input if _elem(value) == FLOAT]
    exit_ = [_boundary_cast(graph, value, FLOAT) for value in graph.output if _elem(value) == FLOAT]
    nodes = entry + list(graph.node) + exit_
    del graph.node[:]
    graph.node.extend(nodes)
    return out


def _boundary_cast(graph: onnx.GraphProto, value: onnx.ValueInfoProto, to: int) -> onnx.NodeProto:
    """The Cast between the float32 graph value ``value`` and its float16 twin ``<name>.fp16``.

    to=FLOAT16, for an input: the Cast's float16 output takes the input's place in the graph.
    to=FLOAT, for an output: the last node writes the float16 twin instead, which the Cast
    turns into the float32 output under the output's own name."""
    name, half = value.name, f"{value.name}.fp16"
    if to == FLOAT16:
        _rename_uses(graph, name, half)
        return helper.make_node("Cast", [name], [half], name=f"{name}.to_fp16", to=FLOAT16)
    _rename_producer(graph, name, half)
    return helper.make_node("Cast", [half], [name], name=f"{name}.to_fp32", to=FLOAT)


def _half(tensor: TensorProto) -> TensorProto:
    values = numpy_helper.to_array(tensor)
    if np.isfinite(values).all() and np.abs(values).max(initial=0.0) > FP16_MAX:
        raise Float16Error(f"tensor {tensor.name!r} has values beyond the float16 range")
    return numpy_helper.from_array(values.astype(np.float16), tensor.name)


def _elem(value: onnx.ValueInfoProto) -> int:
    return value.type.tensor_type.elem_type


def _retype(value: onnx.ValueInfoProto) -> None:
    if _elem(value) == FLOAT:
        value.type.tensor_type.elem_type = FLOAT16


def _rename_uses(graph: onnx.GraphProto, old: str, new: str) -> None:
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name == old:
                node.input[i] = new


def _rename_producer(graph: onnx.GraphProto, old: str, new: str) -> None:
    _rename_uses(graph, old, new)  # a graph output may also feed later nodes
    for node in graph.node:
        for i, name in enumerate(node.output):
            if name == old:
                node.output[i] = new
