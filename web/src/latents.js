// Latents from seeds, and walks between them, as dcgan.core.latents defines them: the latent
// of seed s is numpy.random.default_rng(s).standard_normal(latentDim, dtype=float32), one
// generator per seed, so an image depends on its seed alone.

import { PCG64 } from './pcg64.js';
import { standardNormalF32 } from './ziggurat.js';

/** Float32Array(latentDim); seed a non-negative integer (Number or BigInt). */
export function latentForSeed(seed, latentDim) {
  const rng = new PCG64(seed);
  const out = new Float32Array(latentDim);
  for (let i = 0; i < latentDim; i++) out[i] = standardNormalF32(rng);
  return out;
}

/** Float32Array(seeds.length * latentDim), row i the latent of seeds[i]. */
export function latentsForSeeds(seeds, latentDim) {
  const out = new Float32Array(seeds.length * latentDim);
  seeds.forEach((seed, row) => out.set(latentForSeed(seed, latentDim), row * latentDim));
  return out;
}

function norm(v) {
  let sum = 0;
  for (const x of v) sum += x * x;
  return Math.sqrt(sum);
}

function lerp(a, b, t) {
  return Float32Array.from(a, (x, i) => (1 - t) * x + t * b[i]);
}

/**
 * Spherical interpolation of two latents in float64, the result rounded to float32 (t = 0
 * gives a, t = 1 gives b). Keeps the norm of Gaussian latents along the path.
 */
export function slerp(a, b, t) {
  const na = norm(a), nb = norm(b);
  if (na === 0 || nb === 0) return lerp(a, b, t);
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += (a[i] / na) * (b[i] / nb);
  const omega = Math.acos(Math.min(1, Math.max(-1, dot)));
  const sinOmega = Math.sin(omega);
  if (sinOmega < 1e-6) return lerp(a, b, t); // (anti)parallel: the line is as good
  const wa = Math.sin((1 - t) * omega) / sinOmega;
  const wb = Math.sin(t * omega) / sinOmega;
  return Float32Array.from(a, (x, i) => wa * x + wb * b[i]);
}

/** numpy.linspace(0, 1, steps). */
export function linspace01(steps) {
  const delta = 1 / (steps - 1);
  return Array.from({ length: steps }, (_, j) => (j === steps - 1 ? 1 : j * delta));
}

/**
 * The walk through the latents of seeds: steps per pair, ends included, and each shared end
 * once (animation) or repeated at the start of the next row (grid rows, as dcgan-gen draws).
 * Returns { latents: Float32Array(count * latentDim), count }.
 */
export function interpolation(seeds, steps, latentDim, { animation = true } = {}) {
  if (seeds.length < 2) throw new RangeError('interpolation needs at least two seeds');
  if (steps < 2) throw new RangeError('interpolation needs at least two steps');
  const ends = seeds.map((s) => latentForSeed(s, latentDim));
  const ts = linspace01(steps);
  const rows = [];
  for (let k = 0; k + 1 < ends.length; k++) {
    const from = animation && k > 0 ? 1 : 0;
    for (let j = from; j < steps; j++) rows.push(slerp(ends[k], ends[k + 1], ts[j]));
  }
  const latents = new Float32Array(rows.length * latentDim);
  rows.forEach((row, i) => latents.set(row, i * latentDim));
  return { latents, count: rows.length };
}
