"""Forms that other engines compute right, which ONNX Runtime computes as before.

    clip_before_tanh  Clip(-10, 10) in front of every Tanh. OpenCV 5's DNN module returns NaN
                      for Tanh inputs between about 44 and 88 (its tanh overflows an exponential
                      there), and a trained generator's last layer reaches such values for a few
                      pixels. Beyond |x| = 10 the float32 and float16 tanh are exactly +-1, so
                      the clip changes no output of an engine that rounds tanh correctly, and
                      keeps every engine's exponential far from overflow.

The generator's first layer in fp16 is a MatMul and an Add instead of a Gemm (latent_gemm.py,
``matmul=True``): tract 0.23 refuses a float16 Gemm ("Translating node ... Gemm
ToTypedTranslator"), and ONNX Runtime fuses the pair back into one Gemm when it loads the file.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

TANH_CLIP = 10.0


def clip_before_tanh(model: onnx.ModelProto, bound: float = TANH_CLIP) -> onnx.ModelProto:
    """A copy of the float32 ``model`` with every Tanh fed through Clip(-bound, bound) (the fp16
    form converts the bounds with the rest); a Tanh that a Clip with bounds inside those already
    feeds is left as it is, so the pass can run twice."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    producer = {name: node for node in graph.node for name in node.output}
    consts = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    nodes, added = [], False
    for node in graph.node:
        if node.op_type == "Tanh" and not _clipped(producer.get(node.input[0]), consts, bound):
            source, clipped = node.input[0], f"{node.name or node.output[0]}.clipped"
            nodes.append(helper.make_node("Clip", [source, f"{clipped}.min", f"{clipped}.max"],
                                          [clipped], name=clipped))
            graph.initializer.extend([numpy_helper.from_array(np.array(-bound, np.float32), f"{clipped}.min"),
                                      numpy_helper.from_array(np.array(bound, np.float32), f"{clipped}.max")])
            node.input[0] = clipped
            added = True
        nodes.append(node)
    if added:
        del graph.node[:]
        graph.node.extend(nodes)
    return out


def _clipped(node: onnx.NodeProto | None, consts: dict[str, np.ndarray], bound: float) -> bool:
    if node is None or node.op_type != "Clip" or len(node.input) != 3:
        return False
    low, high = (consts.get(name) for name in node.input[1:])
    return low is not None and high is not None and -bound <= float(low) and float(high) <= bound
