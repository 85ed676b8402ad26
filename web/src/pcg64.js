// numpy's PCG64 bit generator: a 128-bit LCG whose output is XSL-RR (the two halves xored,
// rotated by the top six bits), seeded through SeedSequence as default_rng(seed) does.

import { generateState64 } from './seed_sequence.js';

const MASK64 = (1n << 64n) - 1n;
const MULTIPLIER = (2549297995355413924n << 64n) | 4865540595714422341n;

export class PCG64 {
  constructor(seed) {
    const [s0, s1, i0, i1] = generateState64(seed, 4);
    const initState = (s0 << 64n) | s1;
    const initSeq = (i0 << 64n) | i1;
    this.inc = BigInt.asUintN(128, (initSeq << 1n) | 1n);
    this.state = 0n;
    this.step();
    this.state = BigInt.asUintN(128, this.state + initState);
    this.step();
    this.pendingHigh = null; // the upper half of the last 64-bit output, not yet drawn
  }

  step() {
    this.state = BigInt.asUintN(128, this.state * MULTIPLIER + this.inc);
  }

  /** The next 64-bit output, as a BigInt. */
  next64() {
    this.step();
    const high = this.state >> 64n;
    const xored = (high ^ this.state) & MASK64;
    const rot = high >> 58n;
    return ((xored >> rot) | (xored << ((64n - rot) & 63n))) & MASK64;
  }

  /** 32 bits: the lower half of a 64-bit output, then its upper half (numpy's buffering). */
  next32() {
    if (this.pendingHigh !== null) {
      const high = this.pendingHigh;
      this.pendingHigh = null;
      return high;
    }
    const value = this.next64();
    this.pendingHigh = Number(value >> 32n);
    return Number(value & 0xffffffffn);
  }

  /** A float32 in [0, 1): the top 24 bits of next32. */
  nextFloat() {
    return (this.next32() >>> 8) * 2 ** -24;
  }
}
