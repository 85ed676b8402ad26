// The generator's facts (latent size, image shape, names, output range) from its dcgan_edge
// metadata and its graph, checked against each other as dcgan.runtime checks them; a model
// that is not a DCGAN generator is refused with a message that says what it is.

import { OnnxFormatError, readOnnx } from './onnx_file.js';

export const METADATA_KEY = 'dcgan_edge';
export const SCHEMA_VERSION = 1;
const EXPECTED = 'one float input [N, L, 1, 1] and one output [N, C, H, W]';
const MAX_LATENT = 1 << 16;

/** A model this package cannot sample from; its message is meant for the user. */
export class ModelError extends Error {
  name = 'ModelError';
}

function signature({ inputs, outputs }) {
  const spec = (t) => `${t.name}: ${t.elemType ?? '?'} [${(t.dims ?? []).map((d) => d ?? '?').join(', ')}]`;
  return `inputs ${inputs.map(spec).join('; ') || 'none'} -> outputs ${outputs.map(spec).join('; ') || 'none'}`;
}

/** The parsed dcgan_edge metadata, null when the model has none. */
export function parseMetadata(textValue, name) {
  if (textValue === undefined) return null;
  let meta;
  try {
    meta = JSON.parse(textValue);
  } catch {
    throw new ModelError(`${name}: its ${METADATA_KEY} metadata is not valid JSON`);
  }
  if (typeof meta !== 'object' || meta === null || !Number.isInteger(meta.schema) || meta.schema < 1) {
    throw new ModelError(`${name}: its ${METADATA_KEY} metadata has no valid schema version`);
  }
  if (meta.schema > SCHEMA_VERSION) {
    throw new ModelError(`${name}: metadata schema ${meta.schema} is newer than this page understands (${SCHEMA_VERSION})`);
  }
  return meta;
}

const isFixed = (d) => typeof d === 'number' && d > 0;

/** { latentDim, height, width, channels, inputName, outputName, outputRange, metadata }. */
export function generatorInfo(bytes, name = 'the model') {
  let onnx;
  try {
    onnx = readOnnx(bytes);
  } catch (e) {
    if (e instanceof OnnxFormatError) throw new ModelError(`${name} is not an ONNX model (${e.message})`);
    throw e;
  }
  const meta = parseMetadata(onnx.metadata[METADATA_KEY], name);
  if (meta && meta.role !== 'generator') {
    const hint = meta.role === 'discriminator' ? ' (it scores images; it does not make them)' : '';
    throw new ModelError(`${name} is a ${meta.role} model, not a generator${hint}`);
  }
  const [z, img] = [onnx.inputs[0], onnx.outputs[0]];
  const floats = (t) => t.elemType === 'float' || t.elemType === 'float16';
  if (onnx.inputs.length !== 1 || onnx.outputs.length !== 1 || !floats(z) || !floats(img)
      || z.dims?.length !== 4 || z.dims[2] !== 1 || z.dims[3] !== 1 || img.dims?.length !== 4) {
    throw new ModelError(`${name} is not a DCGAN generator: expected ${EXPECTED}, found ${signature(onnx)}`);
  }
  if (onnx.externalData) {
    throw new ModelError(`${name} keeps its weights in another file; a dcgan-edge model is one self-contained file`);
  }
  return checkedInfo(meta ?? {}, z, img, name);
}

function checkedInfo(meta, z, img, name) {
  const latentDim = meta.latent_dim ?? (isFixed(z.dims[1]) ? z.dims[1] : null);
  const size = meta.image_size ?? 64;
  const info = {
    latentDim,
    channels: isFixed(img.dims[1]) ? img.dims[1] : meta.channels ?? 3,
    height: isFixed(img.dims[2]) ? img.dims[2] : size,
    width: isFixed(img.dims[3]) ? img.dims[3] : size,
    inputName: z.name,
    outputName: img.name,
    inputType: z.elemType,
    outputRange: meta.output_range ?? [-1, 1],
    fixedBatch: isFixed(z.dims[0]) ? z.dims[0] : null,
    metadata: Object.keys(meta).length ? meta : null,
  };
  const problems = [];
  if (meta.input_name !== undefined && (meta.input_name !== z.name || meta.output_name !== img.name)) {
    problems.push(`metadata names ${meta.input_name} -> ${meta.output_name}, the graph has ${z.name} -> ${img.name}`);
  }
  if ((meta.layout ?? 'NCHW') !== 'NCHW') problems.push(`layout ${meta.layout} (images are read as NCHW)`);
  const recorded = [meta.channels ?? 3, size, size];
  if (meta.input_name !== undefined && img.dims.slice(1).some((d, i) => isFixed(d) && d !== recorded[i])) {
    problems.push(`metadata images [N, ${recorded.join(', ')}], the graph's [N, ${img.dims.slice(1).map((d) => d ?? '?').join(', ')}]`);
  }
  if (latentDim === null) problems.push('neither metadata nor graph give the latent size');
  else if (isFixed(z.dims[1]) && z.dims[1] !== latentDim) problems.push(`metadata latent_dim ${latentDim}, graph input ${z.dims[1]}`);
  if (problems.length) throw new ModelError(`${name}: metadata does not match the graph: ${problems.join('; ')}`);
  if (!(latentDim >= 1 && latentDim <= MAX_LATENT)) {
    throw new ModelError(`${name}: a latent of ${latentDim} numbers is not a DCGAN's (1 to ${MAX_LATENT})`);
  }
  if (![1, 3, 4].includes(info.channels)) throw new ModelError(`${name}: images must have 1, 3 or 4 channels, found ${info.channels}`);
  if (info.channels === 4 && meta.alpha !== 'premultiplied') {
    throw new ModelError(`${name}: 4-channel images need the metadata's alpha "premultiplied" (export it with dcgan-export)`);
  }
  return info;
}
