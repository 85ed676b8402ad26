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

FLOAT, FLOAT16 = TensorProto.FLOAT, TensorProto.FLOAT16
FP16_MAX = float(np.finfo(np.float16).max)


class Float16Error(ValueError):
    """The model holds a value float16 cannot represent (beyond +-65504)."""


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

    # Boundary casts: a float32 input feeds a Cast whose float16 output takes the input's
    # place in the graph; the last node writes a float16 tensor that a Cast turns into the
    # float32 output under the output's own name.
    entry: list[onnx.NodeProto] = []
    for inp in graph.input:
        if _elem(inp) != FLOAT:
            continue
        half = f"{inp.name}.fp16"
        _rename_uses(graph, inp.name, half)
        entry.append(helper.make_node("Cast", [inp.name], [half], name=f"{inp.name}.to_fp16", to=FLOAT16))
    exit_: list[onnx.NodeProto] = []
    for outp in graph.output:
        if _elem(outp) != FLOAT:
            continue
        half = f"{outp.name}.fp16"
        _rename_producer(graph, outp.name, half)
        exit_.append(helper.make_node("Cast", [half], [outp.name], name=f"{outp.name}.to_fp32", to=FLOAT))
    nodes = entry + list(graph.node) + exit_
    del graph.node[:]
    graph.node.extend(nodes)
    return out


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
