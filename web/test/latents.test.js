import assert from 'node:assert/strict';
import { test } from 'node:test';

import { interpolation, latentForSeed, slerp } from '../src/latents.js';
import { TAIL_START } from '../src/ziggurat.js';
import { NO_PYTHON, numpyLatents, python } from './helpers.js';

const skip = python() ? false : NO_PYTHON;

/** Indices where a and b differ bit for bit (so -0 and 0 differ, NaN equals NaN). */
function bitDifferences(a, b) {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length), ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  const out = [];
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) out.push(i);
  return out;
}

function compareSeeds(data) {
  const dim = data.latent_dim;
  const mine = new Float32Array(data.rows.length);
  data.seeds.forEach((s, row) => mine.set(latentForSeed(BigInt(s), dim), row * dim));
  const diff = bitDifferences(mine, data.rows);
  const where = diff.slice(0, 5).map((i) => `seed ${data.seeds[Math.floor(i / dim)]}[${i % dim}]: ${mine[i]} vs numpy ${data.rows[i]}`);
  assert.equal(diff.length, 0, `${diff.length} values differ from numpy ${data.numpy}: ${where.join('; ')}`);
  return data.rows.filter((x) => Math.abs(x) > TAIL_START).length;
}

test('latents of seeds 0..9999 equal numpy default_rng(seed).standard_normal(100, float32) bit for bit', { skip }, () => {
  const tails = compareSeeds(numpyLatents('0-9999'));
  // ~2.6e-4 of normals lie beyond the ziggurat's base: the tail path (log1pf) was exercised.
  assert.ok(tails > 150, `only ${tails} values came from the tail`);
});

test('latents of large seeds (several 32-bit words of entropy, up to 2^200 and beyond) equal numpy', { skip }, () => {
  const large = [2n ** 32n - 1n, 2n ** 32n, 2n ** 53n + 1n, 2n ** 64n - 1n, 2n ** 64n, 2n ** 96n + 7n,
    2n ** 128n, 2n ** 128n + 12345n, 3n ** 100n, 2n ** 200n, 2n ** 200n + 1n, 2n ** 255n - 19n, 10n ** 80n];
  compareSeeds(numpyLatents(large.join(',')));
});

test('slerp equals dcgan.core.latents.slerp within float32 rounding, ends exactly', { skip }, () => {
  const data = numpyLatents('0-9');
  let worst = 0;
  for (const w of data.slerp) {
    const z = slerp(latentForSeed(BigInt(w.a), 100), latentForSeed(BigInt(w.b), 100), w.t);
    z.forEach((v, i) => { worst = Math.max(worst, Math.abs(v - w.z[i]) / Math.max(Math.abs(w.z[i]), 1e-30)); });
    if (w.t === 0) assert.deepEqual(Array.from(z), w.z);
  }
  assert.ok(worst <= 2 ** -23, `slerp differs by ${worst} (relative) from numpy's`);
});

test('an interpolation walk shares its ends; grid rows repeat them', () => {
  const dim = 4;
  const walk = interpolation([3, 14, 15], 5, dim);
  const rows = interpolation([3, 14, 15], 5, dim, { animation: false });
  assert.equal(walk.count, 9);
  assert.equal(rows.count, 10);
  assert.deepEqual(walk.latents.subarray(0, dim), latentForSeed(3, dim));
  assert.deepEqual(walk.latents.subarray(8 * dim), latentForSeed(15, dim));
  assert.deepEqual(rows.latents.subarray(4 * dim, 5 * dim), rows.latents.subarray(5 * dim, 6 * dim));
  assert.throws(() => interpolation([3], 5, dim), /two seeds/);
});

test('seeds are non-negative integers', () => {
  assert.throws(() => latentForSeed(-1, 3), /non-negative/);
  assert.throws(() => latentForSeed(1.5, 3), RangeError);
  assert.deepEqual(latentForSeed(7, 5), latentForSeed(7n, 5));
});
