"""Sub-pixel form of the generator: transposed convolutions as plain convolutions, for int8.

ONNX Runtime has fast int8 kernels for Conv but none for ConvTranspose: a QDQ-quantized
generator in its exported form ran slower than fp32. This graph pass rewrites the generator's
chain of transposed convolutions into convolutions that compute the same numbers:

* the first layer (kernel k on the 1x1 latent, stride 1, no padding) is one Gemm over the
  batch with k*k*C_out columns, ordered (row, column, channel) so that a Reshape turns it
  into the NHWC image [N, k, k, C_out] without moving data (as a 1x1 convolution it ran one
  image at a time: the int8 generator was 4% slower at batch 256);
* each kernel-4, stride-2, padding-1 layer computes output pixel (2i+a, 2j+b) from a 2x2
  patch of input pixels around (i, j), the patch and its four taps set by the phase (a, b).
  So the layer is four 2x2 convolutions, one per phase, each with its own asymmetric
  padding and exactly the multiply-adds of the transposed convolution; the four phase images
  are concatenated along channels and interleaved into the 2x upscaled image by a
  Reshape/Transpose/Reshape (DepthToSpace in NHWC);
* a layer with few output channels (the image layer: 1, 3 or 4; any layer of a narrow
  network) is one 3x3 convolution with 4*C_out channels instead (the taps a phase does not
  use are zero): 9/4 of the multiply-adds, but one GEMM with 12 columns ran 2.5x faster than
  four with 3.

The chain may have any number of stride-2 layers (3 at 32x32, 6 at 256x256): each doubles
the side, whatever its width.

Between layers the activations are NHWC. That is what makes the interleave cheap: in NHWC
it moves whole channel vectors, where DepthToSpace in NCHW moves single elements (it took as
long as the int8 convolution it followed). ONNX convolutions read NCHW, so each is wrapped in
a pair of Transposes; after quantization these run on uint8 and cost a few percent.

One axis, tap mapping: output 2i+a reads input i+d-1 (d = 0, 1, 2) through kernel tap
k = a + 3 - 2d, when 0 <= k <= 3; phase a uses d in {a, a+1}.

The rewrite accepts only the chain the toolkit's generator exports to (ConvTranspose, each
followed by elementwise activations; the first layer also in the Gemm form of the fp32 file,
latent_gemm.py); anything else raises SubpixelError.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..errors import SubpixelError

KERNEL, STRIDE, PAD = 4, 2, 1
# Activations that commute with any layout change (elementwise, no parameters to move).
ELEMENTWISE = {"Relu", "Tanh", "Sigmoid", "Clip"}  # Clip with constant bounds (portable.py)
# Below this many output channels a layer is one 3x3 convolution, not four 2x2 ones.
MIN_PHASE_CHANNELS = 16
NCHW_TO_NHWC, NHWC_TO_NCHW = [0, 2, 3, 1], [0, 3, 1, 2]


@dataclass
class _Layer:
    weight: np.ndarray  # ConvTranspose layout (C_in, C_out, k, k)
    bias: np.ndarray | None
    attrs: dict
    activations: list[onnx.NodeProto] = field(default_factory=list)


def phase_taps(weight: np.ndarray, a: int, b: int) -> np.ndarray:
    """ConvTranspose weight (C_in, C_out, 4, 4) -> the 2x2 Conv weight (C_out, C_in, 2, 2)
    of output phase (a, b), to run with pads (top, left, bottom, right) = phase_pads(a, b)."""
    rows = [a + 3 - 2 * (a + d) for d in range(2)]
    cols = [b + 3 - 2 * (b + d) for d in range(2)]
    w = weight.transpose(1, 0, 2, 3)
    return np.ascontiguousarray(w[:, :, rows][:, :, :, cols])


def phase_pads(a: int, b: int) -> list[int]:
    return [1 - a, 1 - b, a, b]


def subpixel_taps(weight: np.ndarray) -> np.ndarray:
    """ConvTranspose weight (C_in, C_out, 4, 4) -> one 3x3 Conv weight (4 * C_out, C_in, 3, 3);
    output channel (a * 2 + b) * C_out + o holds phase (a, b) of channel o."""
    c_in, c_out = weight.shape[:2]
    out = np.zeros((2, 2, c_out, c_in, 3, 3), dtype=weight.dtype)
    for a in range(2):
        for b in range(2):
            for d in range(2):
                for e in range(2):
                    out[a, b, :, :, a + d, b + e] = phase_taps(weight, a, b)[:, :, d, e]
    return out.reshape(4 * c_out, c_in, 3, 3)


def rewrite_subpixel(model: onnx.ModelProto) -> onnx.ModelProto:
    """The generator ``model`` in sub-pixel NHWC form (a pipeline step); same signature."""
    layers, z, image = _read_chain(model.graph)
    b = _Builder({t.name: numpy_helper.to_array(t) for t in model.graph.initializer})
    first = layers[0]
    c_out, k = first.weight.shape[1], first.weight.shape[2]
    # (C_in, C_out, k, k) -> (k, k, C_out, C_in): output channel (h * k + w) * C_out + o.
    w1 = first.weight.transpose(2, 3, 1, 0).reshape(k * k * c_out, -1, 1, 1)
    flat = b.node("Flatten", [z.name], "l0.flat", axis=1)
    inputs = [flat, b.const("l0.weight", np.ascontiguousarray(w1.reshape(k * k * c_out, -1).T))]
    if first.bias is not None:
        inputs.append(b.const("l0.bias", np.tile(first.bias, k * k)))
    x = b.node("Gemm", inputs, "l0.gemm")
    x = b.activations(first.activations, x, "l0")
    x = b.node("Reshape", [x, b.const("l0.nhwc_shape", np.array([0, k, k, c_out], np.int64))], "l0.out")

    size = k
    for i, layer in enumerate(layers[1:], start=1):
        last = i == len(layers) - 1
        x = b.node("Transpose", [x], f"l{i}.nchw", perm=NHWC_TO_NCHW)
        acts = [] if last else layer.activations
        if layer.weight.shape[1] >= MIN_PHASE_CHANNELS:
            x = _phase_convs(b, x, layer, acts, f"l{i}")
        else:
            x = _one_conv(b, x, layer, acts, f"l{i}")
        x = _interleave(b, x, size, layer.weight.shape[1], f"l{i}")
        size *= STRIDE

    # Back to NCHW for the graph output; the final activation runs there (in float, after
    # the dequantization of an int8 model).
    x = b.node("Transpose", [x], "out.nchw", perm=NHWC_TO_NCHW)
    x = b.activations(layers[-1].activations, x, "out", final=image.name)

    graph = helper.make_graph(b.nodes, model.graph.name, [z], [image], b.initializers)
    out = helper.make_model(graph, opset_imports=list(model.opset_import), ir_version=model.ir_version)
    out.producer_name, out.producer_version = model.producer_name, model.producer_version
    out.metadata_props.extend(model.metadata_props)
    return out


def _phase_convs(b: "_Builder", x: str, layer: _Layer, acts, stem: str) -> str:
    parts = []
    for a in range(2):
        for c in range(2):
            inputs = [x, b.const(f"{stem}.weight{a}{c}", phase_taps(layer.weight, a, c))]
            if layer.bias is not None:
                inputs.append(b.const(f"{stem}.bias{a}{c}", layer.bias))
            y = b.node("Conv", inputs, f"{stem}.conv{a}{c}", kernel_shape=[2, 2], pads=phase_pads(a, c))
            y = b.activations(acts, y, f"{stem}.{a}{c}")
            parts.append(b.node("Transpose", [y], f"{stem}.nhwc{a}{c}", perm=NCHW_TO_NHWC))
    return b.node("Concat", parts, f"{stem}.phases", axis=3)


def _one_conv(b: "_Builder", x: str, layer: _Layer, acts, stem: str) -> str:
    inputs = [x, b.const(f"{stem}.weight", subpixel_taps(layer.weight))]
    if layer.bias is not None:
        inputs.append(b.const(f"{stem}.bias", np.tile(layer.bias, 4)))
    y = b.node("Conv", inputs, f"{stem}.conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    y = b.activations(acts, y, stem)
    return b.node("Transpose", [y], f"{stem}.phases", perm=NCHW_TO_NHWC)


def _interleave(b: "_Builder", x: str, size: int, c_out: int, stem: str) -> str:
    """NHWC [N, H, W, (a, b, C)] -> [N, 2H, 2W, C]: DepthToSpace (DCR) in channels-last."""
    x = b.node("Reshape", [x, b.const(f"{stem}.split_shape", np.array([-1, size, size, 2, 2, c_out], np.int64))],
               f"{stem}.split")
    x = b.node("Transpose", [x], f"{stem}.interleaved", perm=[0, 1, 3, 2, 4, 5])
    return b.node("Reshape", [x, b.const(f"{stem}.shape", np.array([-1, 2 * size, 2 * size, c_out], np.int64))],
                  f"{stem}.out")


class _Builder:
    def __init__(self, source_consts: dict[str, np.ndarray]) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.source_consts = source_consts  # the graph's initializers an activation may take

    def const(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attrs) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def activations(self, acts: list[onnx.NodeProto], x: str, stem: str, final: str | None = None) -> str:
        for j, act in enumerate(acts):
            name = final if final is not None and j == len(acts) - 1 else f"{stem}.{act.op_type.lower()}{j}"
            consts = [self.const(f"{name}.in{i}", self.source_consts[c]) if c else ""
                      for i, c in enumerate(act.input[1:], start=1)]
            self.nodes.append(helper.make_node(act.op_type, [x, *consts], [name], name=name))
            self.nodes[-1].attribute.extend(act.attribute)
            x = name
        if final is not None and not acts:
            x = self.node("Identity", [x], final)
        return x


def _read_chain(graph: onnx.GraphProto) -> tuple[list[_Layer], onnx.ValueInfoProto, onnx.ValueInfoProto]:
    """The layers of a single-input, single-output ConvTranspose chain, validated."""
    if len(graph.input) != 1 or len(graph.output) != 1:
        raise SubpixelError("expected one input and one output")
    z, image = graph.input[0], graph.output[0]
    dims = [d.dim_value for d in z.type.tensor_type.shape.dim]
    if len(dims) != 4 or dims[2:] != [1, 1]:
        raise SubpixelError("the input must be a latent [N, L, 1, 1]")
    inits = {t.name: t for t in graph.initializer}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    layers: list[_Layer] = []
    tensor = z.name
    head = consumers.get(tensor, [])
    if len(head) == 1 and head[0].op_type == "Flatten":  # the first layer in Gemm form
        first, tensor = _gemm_head(head[0], consumers, inits, latent=dims[1])
        layers.append(first)
    while tensor != image.name:
        users = consumers.get(tensor, [])
        if len(users) != 1:
            raise SubpixelError(f"{tensor!r} feeds {len(users)} nodes; expected a chain")
        node = users[0]
        if node.op_type == "ConvTranspose":
            layers.append(read_conv_transpose(node, inits, first=not layers))
        elif node.op_type in ELEMENTWISE and layers and all(c in inits for c in node.input[1:] if c):
            layers[-1].activations.append(node)
        else:
            raise SubpixelError(f"unsupported node {node.op_type} ({node.name}) in the generator chain")
        tensor = node.output[0]
    if len(layers) < 2:
        raise SubpixelError("expected at least two transposed convolutions")
    for layer in layers[:-1]:
        if [a.op_type for a in layer.activations] != ["Relu"]:
            raise SubpixelError("inner layers must end in one Relu")
    return layers, z, image


def _gemm_head(flatten: onnx.NodeProto, consumers: dict, inits: dict, latent: int) -> tuple[_Layer, str]:
    """The first layer written as Flatten -> Gemm -> Reshape (latent_gemm.py), read back as
    the transposed convolution it computes; (layer, the tensor it outputs)."""
    def only_user(tensor: str, op: str) -> onnx.NodeProto:
        users = consumers.get(tensor, [])
        if len(users) != 1 or users[0].op_type != op:
            raise SubpixelError("expected the latent's Flatten to feed a Gemm, then a Reshape")
        return users[0]

    gemm = only_user(flatten.output[0], "Gemm")
    reshape = only_user(gemm.output[0], "Reshape")
    attrs = {a.name: helper.get_attribute_value(a) for a in [*flatten.attribute, *gemm.attribute]}
    names = [*gemm.input[1:], reshape.input[1]]
    if any(name and name not in inits for name in names):
        raise SubpixelError(f"{gemm.name}: weights and shape must be initializers")
    if (attrs.get("axis", 1) != 1 or attrs.get("transA", 0) or attrs.get("transB", 0)
            or attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0):
        raise SubpixelError(f"{gemm.name}: expected a plain Gemm on the flattened latent")
    weight = numpy_helper.to_array(inits[gemm.input[1]])
    shape = [int(d) for d in numpy_helper.to_array(inits[reshape.input[1]])]
    if (weight.ndim != 2 or weight.shape[0] != latent or len(shape) != 4 or shape[0] not in (0, -1)
            or shape[2] != shape[3] or shape[1] * shape[2] * shape[3] != weight.shape[1]):
        raise SubpixelError(f"{gemm.name}: expected a [L, C*k*k] weight reshaped to [N, C, k, k]")
    c_out, k = shape[1], shape[2]
    bias = None
    if len(gemm.input) > 2 and gemm.input[2]:
        flat_bias = numpy_helper.to_array(inits[gemm.input[2]])
        bias = flat_bias.reshape(c_out, k * k)[:, 0] if flat_bias.size == c_out * k * k else None
        if bias is None or not np.array_equal(np.repeat(bias, k * k), flat_bias):
            raise SubpixelError(f"{gemm.name}: the bias must be one value per output channel")
    return _Layer(weight.reshape(latent, c_out, k, k), bias, {}), reshape.output[0]


def read_conv_transpose(node: onnx.NodeProto, inits: dict, first: bool) -> _Layer:
    """The weight, bias and attributes of a plain ConvTranspose: for the ``first`` layer
    stride 1 and no padding, else kernel 4, stride 2, padding 1; SubpixelError otherwise."""
    if any(name and name not in inits for name in node.input[1:]):
        raise SubpixelError(f"{node.name}: weights must be initializers")
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    weight = numpy_helper.to_array(inits[node.input[1]])
    bias = numpy_helper.to_array(inits[node.input[2]]) if len(node.input) > 2 and node.input[2] else None
    k = weight.shape[2]
    plain = (
        weight.ndim == 4 and weight.shape[3] == k
        and attrs.get("group", 1) == 1
        and list(attrs.get("dilations", [1, 1])) == [1, 1]
        and not any(attrs.get("output_padding", [0, 0]))
        and "output_shape" not in attrs
        and attrs.get("auto_pad", b"NOTSET") in (b"NOTSET", "NOTSET")
    )
    strides, pads = list(attrs.get("strides", [1, 1])), list(attrs.get("pads", [0, 0, 0, 0]))
    if first:
        ok = plain and strides == [1, 1] and pads == [0, 0, 0, 0]
    else:
        ok = plain and k == KERNEL and strides == [STRIDE, STRIDE] and pads == [PAD] * 4
    if not ok:
        want = "stride 1, no padding" if first else f"kernel {KERNEL}, stride {STRIDE}, padding {PAD}"
        raise SubpixelError(f"{node.name}: expected a plain ConvTranspose with {want}")
    return _Layer(weight, bias, attrs)
