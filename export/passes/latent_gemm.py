"""The generator's first layer as one matrix product over the batch (a graph pass for fp32/fp16).

The first layer is a transposed convolution of kernel k on the 1x1 latent: output pixel (y, x)
of channel o is sum_c z[c] * W[c, o, y, x] + b[o]. ONNX Runtime runs ConvTranspose one image
at a time, so on a [N, L, 1, 1] input this layer is N matrix-vector products that each read
the whole weight (L x C_out*k*k floats, 3.3 MB in the default model): 16 ms of 214 at batch
256 on two cores, for 0.8% of the generator's multiply-adds. As

    Flatten(z) [N, L]  ->  Gemm with W reshaped to [L, C_out*k*k], bias repeated k*k times
                       ->  Reshape [0, C_out, k, k]

the weight is read once per batch, and the Gemm's output is already in NCHW order (W's
layout is (C_in, C_out, k, k)), so the Reshape moves no data. Same multiply-adds, same
numbers to ~4e-6. Reshape's 0 keeps the batch dimension symbolic for shape inference.

The first layer is read and checked as the sub-pixel rewrite reads it (subpixel.py), which in
turn accepts the Gemm form this pass writes.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..errors import LatentGemmError, SubpixelError
from .subpixel import read_conv_transpose


def latent_layer_as_gemm(model: onnx.ModelProto, matmul: bool = False) -> onnx.ModelProto:
    """A copy of the generator ``model`` whose first ConvTranspose is a Gemm (a pipeline step);
    with ``matmul``, a MatMul and an Add, the same product in the form tract accepts in float16
    (portable.py)."""
    graph = model.graph
    if len(graph.input) != 1:
        raise LatentGemmError("expected one graph input, the latent")
    z = graph.input[0]
    dims = [d.dim_value for d in z.type.tensor_type.shape.dim]
    if len(dims) != 4 or dims[2:] != [1, 1] or dims[1] < 1:
        raise LatentGemmError("the input must be a latent [N, L, 1, 1]")
    users = [n for n in graph.node if z.name in n.input]
    if len(users) != 1 or users[0].op_type != "ConvTranspose":
        raise LatentGemmError("the latent must feed one ConvTranspose")
    conv = users[0]
    try:
        layer = read_conv_transpose(conv, {t.name: t for t in graph.initializer}, first=True)
    except SubpixelError as e:
        raise LatentGemmError(str(e)) from None
    weight, bias = layer.weight, layer.bias
    if weight.shape[0] != dims[1]:
        raise LatentGemmError(f"{conv.name}: expected a (L, C_out, k, k) weight")

    latent, c_out, k = weight.shape[0], weight.shape[1], weight.shape[2]
    stem = conv.name or "latent_layer"
    new_inits = [numpy_helper.from_array(np.ascontiguousarray(weight.reshape(latent, c_out * k * k)),
                                         f"{stem}.gemm_weight"),
                 numpy_helper.from_array(np.array([0, c_out, k, k], np.int64), f"{stem}.nchw_shape")]
    gemm_inputs = [f"{stem}.flat", f"{stem}.gemm_weight"]
    if bias is not None:
        new_inits.append(numpy_helper.from_array(np.repeat(bias, k * k), f"{stem}.gemm_bias"))
        gemm_inputs.append(f"{stem}.gemm_bias")
    product_name = f"{stem}.gemm"
    if not matmul:
        product = [helper.make_node("Gemm", gemm_inputs, [product_name], name=product_name)]
    elif bias is None:
        product = [helper.make_node("MatMul", gemm_inputs, [product_name], name=f"{stem}.matmul")]
    else:
        product = [helper.make_node("MatMul", gemm_inputs[:2], [f"{stem}.matmul"], name=f"{stem}.matmul"),
                   helper.make_node("Add", [f"{stem}.matmul", gemm_inputs[2]], [product_name], name=f"{stem}.add")]
    replacement = [
        helper.make_node("Flatten", [z.name], [f"{stem}.flat"], name=f"{stem}.flat", axis=1),
        *product,
        helper.make_node("Reshape", [f"{stem}.gemm", f"{stem}.nchw_shape"], [conv.output[0]],
                         name=f"{stem}.nchw"),
    ]

    out = onnx.ModelProto()
    out.CopyFrom(model)
    nodes = []
    for node in out.graph.node:
        nodes.extend(replacement if node.name == conv.name and list(node.output) == list(conv.output)
                     else [node])
    del out.graph.node[:]
    out.graph.node.extend(nodes)
    still_used = {name for node in nodes for name in node.input}
    kept = [t for t in out.graph.initializer if t.name in still_used] + new_inits
    del out.graph.initializer[:]
    out.graph.initializer.extend(kept)
    return out
