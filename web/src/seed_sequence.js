// numpy's SeedSequence for one non-negative integer seed (no spawn key, pool of four words):
// the words that numpy.random.default_rng(seed) seeds its PCG64 with.

const POOL_SIZE = 4;
const INIT_A = 0x43b0d7e5;
const MULT_A = 0x931e8875;
const INIT_B = 0x8b51f9dd;
const MULT_B = 0x58f38ded;
const MIX_MULT_L = 0xca01f9dd;
const MIX_MULT_R = 0x4973f715;

/** The seed as 32-bit words, lowest first; zero is one word. */
export function seedWords(seed) {
  let n = BigInt(seed);
  if (n < 0n) throw new RangeError(`seeds are non-negative, got ${seed}`);
  const words = [];
  do {
    words.push(Number(n & 0xffffffffn));
    n >>= 32n;
  } while (n > 0n);
  return words;
}

/** A hash whose multiplier advances on every call, as numpy's hashmix does. */
function hasher() {
  let constant = INIT_A;
  return (value) => {
    value = (value ^ constant) >>> 0;
    constant = Math.imul(constant, MULT_A) >>> 0;
    value = Math.imul(value, constant) >>> 0;
    return (value ^ (value >>> 16)) >>> 0;
  };
}

function mix(x, y) {
  const result = (Math.imul(MIX_MULT_L, x) - Math.imul(MIX_MULT_R, y)) >>> 0;
  return (result ^ (result >>> 16)) >>> 0;
}

/** The entropy pool after mixing in the seed's words. */
export function entropyPool(seed) {
  const words = seedWords(seed);
  const hash = hasher();
  const pool = [];
  for (let i = 0; i < POOL_SIZE; i++) pool.push(hash(i < words.length ? words[i] : 0));
  for (let src = 0; src < POOL_SIZE; src++) {
    for (let dst = 0; dst < POOL_SIZE; dst++) {
      if (src !== dst) pool[dst] = mix(pool[dst], hash(pool[src]));
    }
  }
  for (let src = POOL_SIZE; src < words.length; src++) {
    for (let dst = 0; dst < POOL_SIZE; dst++) pool[dst] = mix(pool[dst], hash(words[src]));
  }
  return pool;
}

/** SeedSequence(seed).generate_state(count, uint64), as BigInts. */
export function generateState64(seed, count) {
  const pool = entropyPool(seed);
  let constant = INIT_B;
  const words = [];
  for (let i = 0; i < 2 * count; i++) {
    let value = (pool[i % POOL_SIZE] ^ constant) >>> 0;
    constant = Math.imul(constant, MULT_B) >>> 0;
    value = Math.imul(value, constant) >>> 0;
    words.push((value ^ (value >>> 16)) >>> 0);
  }
  const out = [];
  for (let i = 0; i < count; i++) {
    out.push((BigInt(words[2 * i + 1]) << 32n) | BigInt(words[2 * i]));
  }
  return out;
}
