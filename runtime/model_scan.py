"""What a model file may reference: nothing. A dcgan-edge model is one self-contained file.

ONNX lets a tensor keep its bytes in another file (``data_location: EXTERNAL`` with a
``location`` relative to the model). ONNX Runtime then opens that path itself, and older
versions follow ``../`` and symlinks out of the model's folder: a model could make dcgan-gen
compute images from /etc/passwd. dcgan-export never writes external data, so the runtime
refuses any model whose tensors have some, on every ONNX Runtime version, before a session
is made.

The check walks the protobuf wire format of the file (no onnx package in a deployment
install) and visits every tensor a graph can hold: initializers, sparse initializers, tensor
attributes of nodes, and the subgraphs and functions that hold more of them. Tensor bytes are
skipped by their length, never read, so the walk costs a few hundred field headers.
"""
from __future__ import annotations

from typing import Iterator

# Field numbers of onnx.proto (checked against the onnx package by the tests).
MODEL_GRAPH, MODEL_FUNCTIONS = 7, 25
GRAPH_NODE, GRAPH_INITIALIZER, GRAPH_SPARSE_INITIALIZER = 1, 5, 15
FUNCTION_NODE = 7
NODE_ATTRIBUTE = 5
ATTR_T, ATTR_G, ATTR_TENSORS, ATTR_GRAPHS, ATTR_SPARSE_TENSOR, ATTR_SPARSE_TENSORS = 5, 6, 10, 11, 22, 23
SPARSE_VALUES, SPARSE_INDICES = 1, 2
TENSOR_NAME, TENSOR_EXTERNAL_DATA, TENSOR_DATA_LOCATION = 8, 13, 14
ENTRY_KEY, ENTRY_VALUE = 1, 2
EXTERNAL = 1
_MAX_DEPTH = 64  # subgraphs nest; a file nested deeper than any real model is not one


class MalformedModel(ValueError):
    """Bytes that are not a protobuf message where one should be."""


def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise MalformedModel("truncated or invalid varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def fields(buf: memoryview) -> Iterator[tuple[int, int, int | memoryview]]:
    """(field number, wire type, value) of each field of one message: an int for varints, a
    memoryview (not a copy) for length-delimited fields, and 0 for fixed-size ones."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 2:
            length, pos = _varint(buf, pos)
            if pos + length > len(buf):
                raise MalformedModel("a field runs past the end of its message")
            value, pos = buf[pos:pos + length], pos + length
        elif wire in (1, 5):
            value, pos = 0, pos + (8 if wire == 1 else 4)
        else:
            raise MalformedModel(f"unsupported wire type {wire}")
        yield number, wire, value


def _sub(message: memoryview, wanted: set[int]) -> Iterator[tuple[int, memoryview]]:
    for number, wire, value in fields(message):
        if number in wanted and wire == 2:
            yield number, value


def _tensor_location(tensor: memoryview) -> tuple[str, str] | None:
    """(tensor name, external location) when the tensor keeps its bytes elsewhere."""
    name, location, external = "", "", False
    for number, wire, value in fields(tensor):
        if number == TENSOR_NAME and wire == 2:
            name = bytes(value).decode("utf-8", "replace")
        elif number == TENSOR_DATA_LOCATION and wire == 0:
            external = external or value == EXTERNAL
        elif number == TENSOR_EXTERNAL_DATA and wire == 2:
            external = True
            entry = dict(_sub(value, {ENTRY_KEY, ENTRY_VALUE}))
            if bytes(entry.get(ENTRY_KEY, b"")) == b"location":
                location = bytes(entry.get(ENTRY_VALUE, b"")).decode("utf-8", "replace")
    return (name, location) if external else None


def _graph_tensors(graph: memoryview, depth: int) -> Iterator[memoryview]:
    if depth > _MAX_DEPTH:
        raise MalformedModel(f"graphs nested more than {_MAX_DEPTH} deep")
    for number, value in _sub(graph, {GRAPH_NODE, GRAPH_INITIALIZER, GRAPH_SPARSE_INITIALIZER}):
        if number == GRAPH_INITIALIZER:
            yield value
        elif number == GRAPH_SPARSE_INITIALIZER:
            yield from (v for _, v in _sub(value, {SPARSE_VALUES, SPARSE_INDICES}))
        else:
            yield from _node_tensors(value, depth)


def _node_tensors(node: memoryview, depth: int) -> Iterator[memoryview]:
    for _, attribute in _sub(node, {NODE_ATTRIBUTE}):
        for number, value in _sub(attribute, {ATTR_T, ATTR_G, ATTR_TENSORS, ATTR_GRAPHS,
                                              ATTR_SPARSE_TENSOR, ATTR_SPARSE_TENSORS}):
            if number in (ATTR_T, ATTR_TENSORS):
                yield value
            elif number in (ATTR_G, ATTR_GRAPHS):
                yield from _graph_tensors(value, depth + 1)
            else:
                yield from (v for _, v in _sub(value, {SPARSE_VALUES, SPARSE_INDICES}))


def external_tensors(model: bytes | memoryview) -> list[tuple[str, str]]:
    """(tensor name, location) of every tensor of the model whose bytes live in another file."""
    buf = memoryview(model)
    found = []
    for number, value in _sub(buf, {MODEL_GRAPH, MODEL_FUNCTIONS}):
        tensors = (_graph_tensors(value, 0) if number == MODEL_GRAPH else
                   (t for _, node in _sub(value, {FUNCTION_NODE}) for t in _node_tensors(node, 0)))
        found += [hit for t in tensors if (hit := _tensor_location(t)) is not None]
    return found
