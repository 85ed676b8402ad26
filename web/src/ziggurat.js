// numpy's float32 standard normal (random_standard_normal_f): a 256-layer ziggurat on 32-bit
// draws, with the tail beyond R sampled by Marsaglia's method through log1pf.
//
// The tables are computed here with the construction of Marsaglia & Tsang (2000), the
// thresholds rounded to nearest: that reproduces numpy's ki_float, wi_float and fi_float
// exactly (test/ziggurat.test.js checks that every value lies far from a rounding boundary,
// so engines whose Math.exp and Math.log differ by an ulp build the same tables).

import { log1pf } from './log1pf.js';

const fr = Math.fround;
const LAYERS = 256;
export const R = 3.6541528853610088; // where the tail starts
const AREA = 0.00492867323399; // of each layer
const SCALE = 2 ** 23; // the 23 random bits of a draw
const R_F = fr(R);
const INV_R_F = fr(0.27366123732975827); // 1 / R, as numpy spells it
// Values beyond R come only from the tail: |x| > R_F tells a tail draw from a layer's.
export const TAIL_START = R_F;

/** Double-precision tables before rounding: ki (scaled ratios), wi (widths), fi (heights). */
export function zigguratTables() {
  const ki = new Float64Array(LAYERS), wi = new Float64Array(LAYERS), fi = new Float64Array(LAYERS);
  const density = (x) => Math.exp(-0.5 * x * x);
  let x = R;
  let outer = R;
  const base = AREA / density(R); // width of the base layer, tail included
  ki[0] = (R / base) * SCALE;
  ki[1] = 0;
  wi[0] = base / SCALE;
  wi[LAYERS - 1] = R / SCALE;
  fi[0] = 1;
  fi[LAYERS - 1] = density(R);
  for (let i = LAYERS - 2; i >= 1; i--) {
    x = Math.sqrt(-2 * Math.log(AREA / x + density(x)));
    ki[i + 1] = (x / outer) * SCALE;
    outer = x;
    fi[i] = density(x);
    wi[i] = x / SCALE;
  }
  return { ki, wi, fi };
}

const TABLES = zigguratTables();
export const KI = Uint32Array.from(TABLES.ki, Math.round);
export const WI = Float32Array.from(TABLES.wi);
export const FI = Float32Array.from(TABLES.fi);

/** One float32 normal from a PCG64 (or anything with next32 and nextFloat). */
export function standardNormalF32(rng) {
  for (;;) {
    const r = rng.next32();
    const idx = r & 0xff;
    const rabs = (r >>> 9) & 0x7fffff;
    let x = fr(rabs * WI[idx]);
    if ((r >>> 8) & 1) x = -x;
    if (rabs < KI[idx]) return x; // inside the layer's rectangle: most draws
    if (idx === 0) return tail(rng, (rabs >>> 8) & 1);
    const y = fr(fr(fr(FI[idx - 1] - FI[idx]) * rng.nextFloat()) + FI[idx]);
    if (y < Math.exp(-0.5 * x * x)) return x; // numpy compares in double precision here
  }
}

/** |x| > R: 1 - U in log1pf(-U) avoids log(0). */
function tail(rng, negative) {
  for (;;) {
    const xx = fr(fr(-INV_R_F) * log1pf(-rng.nextFloat()));
    const yy = fr(-log1pf(-rng.nextFloat()));
    if (fr(yy + yy) > fr(xx * xx)) {
      const x = fr(R_F + xx);
      return negative ? -x : x;
    }
  }
}
