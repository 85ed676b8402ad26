// Generator: seeds in, uint8 images out, through an ONNX Runtime for JavaScript (onnxruntime-web
// in a browser, onnxruntime-node in Node): the module is passed in, so this file runs in both.
//
//   const g = await Generator.load(ort, bytes, { name: 'model.onnx' });
//   const { pixels } = await g.sampleSeeds(range(0, 21), { batchSize: 21 });

import { clampToAlpha, toUint8 } from './images.js';
import { latentsForSeeds } from './latents.js';
import { generatorInfo } from './model_info.js';

export const DEFAULT_BATCH_SIZE = 64;

/** [start, start + 1, ..., start + count - 1]. */
export const range = (start, count) => Array.from({ length: count }, (_, i) => start + i);

export class Generator {
  constructor(ort, session, info, runtime) {
    Object.assign(this, { ort, session, info, runtime });
  }

  /**
   * bytes: the ONNX file (Uint8Array). options.sessionOptions go to InferenceSession.create
   * (executionProviders, intraOpNumThreads, ...); options.runtime describes what runs it.
   * Throws ModelError for a file that is not a generator, before any session is made.
   */
  static async load(ort, bytes, { name = 'the model', sessionOptions = {}, runtime = {} } = {}) {
    const info = generatorInfo(bytes, name);
    const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all', ...sessionOptions });
    return new Generator(ort, session, info, runtime);
  }

  get imageShape() {
    const { height, width, channels } = this.info;
    return [height, width, channels];
  }

  get imageBytes() {
    return this.info.height * this.info.width * this.info.channels;
  }

  /** uint8 (count, H, W, C) pixels for count latents (Float32Array of count * latentDim). */
  async run(latents, count) {
    const { latentDim, channels, height, width, inputName, outputName, outputRange, fixedBatch } = this.info;
    if (fixedBatch !== null && fixedBatch !== count) {
      throw new RangeError(`this model was exported for batches of exactly ${fixedBatch}`);
    }
    if (this.info.inputType !== 'float') throw new RangeError('only float32 generators run here');
    const z = new this.ort.Tensor('float32', latents, [count, latentDim, 1, 1]);
    const result = await this.session.run({ [inputName]: z });
    const out = result[outputName];
    try {
      const pixels = toUint8(out.data, [count, channels, height, width], outputRange);
      return channels === 4 ? clampToAlpha(pixels) : pixels; // premultiplied, as dcgan.runtime's
    } finally {
      out.dispose?.();
      z.dispose?.();
    }
  }

  /**
   * Images for latents in batches: onBatch({ done, total, pixels, seconds }) after each one,
   * pixels that batch's. Returns the uint8 (n, H, W, C) pixels of all.
   */
  async generate(latents, count, { batchSize = DEFAULT_BATCH_SIZE, onBatch } = {}) {
    const all = new Uint8Array(count * this.imageBytes);
    const dim = this.info.latentDim;
    for (let start = 0; start < count; start += batchSize) {
      const n = Math.min(batchSize, count - start);
      const t0 = performance.now();
      const pixels = await this.run(latents.subarray(start * dim, (start + n) * dim), n);
      all.set(pixels, start * this.imageBytes);
      await onBatch?.({ done: start + n, total: count, pixels, seconds: (performance.now() - t0) / 1000 });
    }
    return all;
  }

  /** The images of these seeds (image i is the image of seeds[i], whatever batchSize). */
  async sampleSeeds(seeds, options = {}) {
    const { batchSize = DEFAULT_BATCH_SIZE, onBatch } = options;
    const all = new Uint8Array(seeds.length * this.imageBytes);
    let done = 0;
    for (let start = 0; start < seeds.length; start += batchSize) {
      const chunk = seeds.slice(start, start + batchSize);
      const t0 = performance.now();
      const pixels = await this.run(latentsForSeeds(chunk, this.info.latentDim), chunk.length);
      all.set(pixels, start * this.imageBytes);
      done += chunk.length;
      await onBatch?.({ done, total: seeds.length, seeds: chunk, pixels, seconds: (performance.now() - t0) / 1000 });
    }
    return all;
  }

  async release() {
    await this.session.release?.();
  }
}
