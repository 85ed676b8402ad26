import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { GridCanvas, gridSize, toUint8 } from '../src/images.js';
import { ModelError, generatorInfo } from '../src/model_info.js';
import { loadGenerator, range } from '../src/node.js';
import { BUNDLED_MODEL, FIXTURES, NO_PYTHON, ROOT, python, pythonImages } from './helpers.js';

const read = (file) => new Uint8Array(fs.readFileSync(file));
const fixture = (name) => read(path.join(FIXTURES, name));

test('the bundled generator describes itself', () => {
  const info = generatorInfo(read(BUNDLED_MODEL), 'dcgan-pokemon.onnx');
  assert.deepEqual([info.latentDim, info.height, info.width, info.channels], [100, 64, 64, 3]);
  assert.deepEqual([info.inputName, info.outputName, info.outputRange], ['z', 'image', [-1, 1]]);
  assert.equal(info.metadata.role, 'generator');
});

test('models that are not generators are refused with what they are', () => {
  const refuse = (bytes, pattern) => assert.throws(() => generatorInfo(bytes, 'm.onnx'), (e) => e instanceof ModelError && pattern.test(e.message));
  refuse(fixture('disc_tiny.onnx'), /^m\.onnx is a discriminator model, not a generator/);
  refuse(fixture('foreign_2d.onnx'), /not a DCGAN generator: expected one float input \[N, L, 1, 1\].*found inputs x: float \[batch, 8\]/);
  refuse(fixture('gen_external.onnx'), /keeps its weights in another file/);
  refuse(read(path.join(ROOT, 'docs/grid.png')), /not an ONNX model|not a DCGAN generator/);
  const info = generatorInfo(fixture('gen_tiny_nometa.onnx'));
  assert.equal(info.latentDim, 8); // no metadata: the graph's shapes
  assert.equal(info.metadata, null);
});

test('the uint8 conversion rounds half to even and clips', () => {
  // With output range [0, 255] the scale is 1, so halves are exact.
  const x = Float32Array.from([0.5, 1.5, 2.5, 254.5, -3, 300, 7.4999]);
  assert.deepEqual(Array.from(toUint8(x, [1, 1, 1, 7], [0, 255])), [0, 2, 2, 254, 0, 255, 7]);
  assert.deepEqual(Array.from(toUint8(Float32Array.from([-1, 0, 1]), [1, 1, 1, 3])), [0, 128, 255]);
  assert.throws(() => toUint8(Float32Array.from([NaN]), [1, 1, 1, 1]), /NaN or infinite/);
});

test('grids have dcgan-gen\'s layout: 7 per row, 2 pixels around every tile, pad value 0', () => {
  assert.deepEqual(gridSize(21, [64, 64]), [200, 464]);
  assert.deepEqual(gridSize(3, [64, 64]), [68, 200]);
  const grid = new GridCanvas(2, [1, 1, 1], { nrow: 7, padding: 2 });
  grid.paste(Uint8Array.from([7, 9]), 2);
  assert.deepEqual([grid.height, grid.width], [5, 8]);
  assert.deepEqual(Array.from(grid.pixels), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 7, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
});

test('onnxruntime-node samples the images dcgan.runtime samples, whatever the batch size', { skip: python() ? false : NO_PYTHON }, async () => {
  const g = await loadGenerator(BUNDLED_MODEL, { threads: 1 });
  const mine = await g.sampleSeeds(range(0, 21), { batchSize: 21 });
  const batches = [];
  const again = await g.sampleSeeds(range(0, 21), { batchSize: 8, onBatch: (b) => batches.push(b.done) });
  assert.deepEqual(batches, [8, 16, 21]);
  assert.deepEqual(again, mine);
  const want = pythonImages(0, 21);
  let off = 0, worst = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(mine[i] - want[i]);
    if (d) off++;
    worst = Math.max(worst, d);
  }
  // Different ONNX Runtime builds may round a few outputs to the neighbouring level.
  assert.ok(worst <= 1 && off <= 20, `${off} of ${want.length} values differ, by up to ${worst}`);
  await g.release();
});
