// The package in Node, on onnxruntime-node: load a generator from a file, write PNGs.
//
//   import { loadGenerator, writeGridPng } from 'dcgan-edge-web/node';
//   const g = await loadGenerator('model.onnx');
//   await writeGridPng(g, range(0, 21), 'grid.png');

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import ort from 'onnxruntime-node';

import { Generator, range } from './generator.js';
import { GridCanvas, picturePixels } from './images.js';
import { encodePng } from './png.js';

export * from './index.js';

/** A generator on ONNX Runtime's CPU provider; threads defaults to one per CPU. */
export async function loadGenerator(file, { threads = os.availableParallelism() } = {}) {
  const bytes = new Uint8Array(await fs.readFile(file));
  return Generator.load(ort, bytes, {
    name: path.basename(file),
    sessionOptions: { executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1 },
    runtime: { device: 'cpu', threads, library: `onnxruntime-node ${ort.env.versions?.node ?? ''}`.trim() },
  });
}

export const pngBytes = (pixels, h, w, c) => encodePng(pixels, h, w, c, (b) => zlib.deflateSync(b, { level: 3 }));

/** Write a file whole or not at all: a temp file beside it, then a rename. */
export async function writeWhole(file, bytes) {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    await fs.writeFile(tmp, bytes, { flush: true });
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
}

/** The grid of these seeds' images (dcgan-gen's layout) as a PNG file; RGBA in straight alpha. */
export async function writeGridPng(generator, seeds, file, { nrow = 7, padding = 2, batchSize, onBatch } = {}) {
  const grid = new GridCanvas(seeds.length, generator.imageShape, { nrow, padding });
  await generator.sampleSeeds(seeds, { batchSize, onBatch: (b) => { grid.paste(b.pixels, b.seeds.length); return onBatch?.(b); } });
  const { channels } = generator.info;
  await writeWhole(file, await pngBytes(picturePixels(grid.pixels, channels), grid.height, grid.width, channels));
  return grid;
}

export { range };
