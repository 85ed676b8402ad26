// What a generator check needs from an ONNX file, read from its protobuf bytes: the metadata
// properties, the graph's inputs and outputs (names, element types, dimensions), and whether
// any weight keeps its data in another file. Only the fields named here are decoded; the rest
// (nodes, weight bytes) are skipped by length.

const FIELD = {
  model: { graph: 7, metadataProps: 14 },
  entry: { key: 1, value: 2 },
  graph: { initializer: 5, input: 11, output: 12 },
  valueInfo: { name: 1, type: 2 },
  type: { tensor: 1 },
  tensorType: { elemType: 1, shape: 2 },
  shape: { dim: 1 },
  dim: { value: 1, param: 2 },
  tensor: { name: 8, externalData: 13, dataLocation: 14 },
};
export const ELEM_TYPES = { 1: 'float', 10: 'float16' };
const EXTERNAL = 1;

export class OnnxFormatError extends Error {}

/** The fields of one protobuf message: [{ field, wire, value }], value a Number or bytes. */
function* fields(bytes) {
  let pos = 0;
  const varint = () => {
    let result = 0, scale = 1, byte;
    do {
      if (pos >= bytes.length) throw new OnnxFormatError('the file ends inside a field');
      byte = bytes[pos++];
      result += (byte & 0x7f) * scale;
      scale *= 128;
    } while (byte & 0x80);
    return result;
  };
  while (pos < bytes.length) {
    const tag = varint();
    const field = Math.floor(tag / 8), wire = tag % 8;
    if (wire === 0) yield { field, wire, value: varint() };
    else if (wire === 1 || wire === 5) pos += wire === 1 ? 8 : 4;
    else if (wire === 2) {
      const length = varint();
      if (pos + length > bytes.length) throw new OnnxFormatError('a field runs past the end of the file');
      yield { field, wire, value: bytes.subarray(pos, pos + length) };
      pos += length;
    } else throw new OnnxFormatError(`unknown protobuf wire type ${wire}`);
  }
}

const text = (bytes) => new TextDecoder().decode(bytes);

function messages(bytes, number) {
  const out = [];
  for (const f of fields(bytes)) if (f.field === number && f.wire === 2) out.push(f.value);
  return out;
}

function first(bytes, number) {
  for (const f of fields(bytes)) if (f.field === number) return f.value;
  return undefined;
}

function tensorSpec(valueInfo) {
  const name = text(first(valueInfo, FIELD.valueInfo.name) ?? new Uint8Array());
  const type = first(valueInfo, FIELD.valueInfo.type);
  const tensor = type && first(type, FIELD.type.tensor);
  if (!tensor) return { name, elemType: null, dims: null };
  const elemType = ELEM_TYPES[first(tensor, FIELD.tensorType.elemType)] ?? 'other';
  const shape = first(tensor, FIELD.tensorType.shape);
  const dims = shape === undefined ? null : messages(shape, FIELD.shape.dim).map((d) => {
    const value = first(d, FIELD.dim.value);
    if (typeof value === 'number') return value;
    const param = first(d, FIELD.dim.param);
    return param === undefined ? null : text(param);
  });
  return { name, elemType, dims };
}

function keepsDataElsewhere(tensor) {
  for (const f of fields(tensor)) {
    if (f.field === FIELD.tensor.dataLocation && f.value === EXTERNAL) return true;
    if (f.field === FIELD.tensor.externalData) return true;
  }
  return false;
}

/** { metadata: {key: value}, inputs, outputs, externalData } of a model file's bytes. */
export function readOnnx(bytes) {
  const metadata = {};
  let graph;
  for (const f of fields(bytes)) {
    if (f.field === FIELD.model.metadataProps && f.wire === 2) {
      const key = first(f.value, FIELD.entry.key), value = first(f.value, FIELD.entry.value);
      if (key !== undefined) metadata[text(key)] = value === undefined ? '' : text(value);
    } else if (f.field === FIELD.model.graph && f.wire === 2) graph = f.value;
  }
  if (graph === undefined) throw new OnnxFormatError('no graph in the file');
  const initializers = [], inputs = [], outputs = [];
  for (const f of fields(graph)) {
    if (f.wire !== 2) continue;
    if (f.field === FIELD.graph.initializer) initializers.push(f.value);
    else if (f.field === FIELD.graph.input) inputs.push(tensorSpec(f.value));
    else if (f.field === FIELD.graph.output) outputs.push(tensorSpec(f.value));
  }
  const weights = new Set(initializers.map((t) => text(first(t, FIELD.tensor.name) ?? new Uint8Array())));
  return {
    metadata,
    // Older exporters list the weights among the graph inputs too: those are not fed.
    inputs: inputs.filter((t) => !weights.has(t.name)),
    outputs,
    externalData: initializers.some(keepsDataElsewhere),
  };
}
