import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { clampToAlpha, picturePixels, toRgba, unpremultiply } from '../src/images.js';
import { generatorInfo } from '../src/model_info.js';
import { loadGenerator, range } from '../src/node.js';
import { FIXTURES, NO_PYTHON, fromBase64, python, pythonImages, pythonJson } from './helpers.js';

const RGBA = path.join(FIXTURES, 'gen_rgba32.onnx');
const GREY = path.join(FIXTURES, 'gen_grey128.onnx');

test('unpremultiply rounds as dcgan.core.images does, for every colour and alpha', { skip: python() ? false : NO_PYTHON }, () => {
  const data = pythonJson('python_alpha.py');
  const premultiplied = fromBase64(data.premultiplied), want = fromBase64(data.straight);
  assert.equal(premultiplied.length, 256 * 256 * 4);
  const got = unpremultiply(premultiplied);
  const off = got.findIndex((v, i) => v !== want[i]);
  assert.equal(off, -1, `pixel ${Math.floor(off / 4)}: ${premultiplied.subarray(off - (off % 4), off - (off % 4) + 4)} -> ${got[off]}, Python ${want[off]}`);
  assert.deepEqual(Array.from(toRgba(premultiplied, 4)), Array.from(want)); // what a canvas shows
});

test('grey pixels show as grey, opaque; RGB and grey pictures are the pixels themselves', () => {
  assert.deepEqual(Array.from(toRgba(Uint8Array.from([0, 77, 255]), 1)), [0, 0, 0, 255, 77, 77, 77, 255, 255, 255, 255, 255]);
  const rgb = Uint8Array.from([1, 2, 3]);
  assert.equal(picturePixels(rgb, 3), rgb);
  assert.deepEqual(Array.from(clampToAlpha(Uint8Array.from([200, 10, 90, 90, 5, 0, 0, 0]))), [90, 10, 90, 90, 0, 0, 0, 0]);
});

test('1- and 4-channel generators describe themselves', () => {
  const rgba = generatorInfo(new Uint8Array(fs.readFileSync(RGBA)), 'gen_rgba32.onnx');
  assert.deepEqual([rgba.height, rgba.width, rgba.channels, rgba.metadata.alpha], [32, 32, 4, 'premultiplied']);
  const grey = generatorInfo(new Uint8Array(fs.readFileSync(GREY)), 'gen_grey128.onnx');
  assert.deepEqual([grey.height, grey.width, grey.channels, grey.metadata.alpha], [128, 128, 1, null]);
});

test('an RGBA generator samples the premultiplied pixels dcgan.runtime samples, colour within alpha', { skip: python() ? false : NO_PYTHON }, async () => {
  const g = await loadGenerator(RGBA, { threads: 1 });
  const mine = await g.sampleSeeds(range(0, 6), { batchSize: 6 });
  const want = pythonImages(0, 6, RGBA);
  assert.equal(mine.length, want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(mine[i] - want[i]));
  assert.ok(worst <= 1, `values differ by up to ${worst}`);
  for (let i = 0; i < mine.length; i += 4) {
    assert.ok(mine[i] <= mine[i + 3] && mine[i + 1] <= mine[i + 3] && mine[i + 2] <= mine[i + 3]);
  }
  await g.release();
});
