import assert from 'node:assert/strict';
import { test } from 'node:test';

import { log1pf } from '../src/log1pf.js';
import { KI, zigguratTables } from '../src/ziggurat.js';

test('every ziggurat table value lies far from a rounding boundary, so any engine builds the same tables', () => {
  const { ki, wi, fi } = zigguratTables();
  let worst = Infinity;
  for (const v of ki) if (v > 0) worst = Math.min(worst, Math.abs(v - Math.floor(v) - 0.5) / v);
  for (const v of [...wi, ...fi]) {
    const f = Math.fround(v);
    const ulp = Math.fround(f * (1 + 2 ** -23)) - f;
    worst = Math.min(worst, Math.abs(Math.abs(v - f) - ulp / 2) / v);
  }
  // Math.exp and Math.log are within an ulp (~1e-16) in every engine; the recursion over 255
  // layers can add up ~1e-13. The nearest boundary is ~4e-11 away.
  assert.ok(worst > 1e-12, `a table value is within ${worst} (relative) of a rounding boundary`);
  assert.equal(KI[1], 0);
  assert.equal(KI[0], 0x007799ec); // numpy's ki_float[0]
});

test('log1pf rounds as the C library does where Math.log1p rounded to float32 does not', () => {
  // glibc 2.36's log1pf at inputs the ziggurat's tail draws (-k / 2^24); at the last two,
  // Math.fround(Math.log1p(x)) is one ulp away (-0.011174897663295269, -0.016295945271849632).
  const cases = [[-0.5, -0.6931471824645996], [-(2 ** -24), -5.960464477539063e-8],
    [-186440 / 2 ** 24, -0.011174896731972694], [-271185 / 2 ** 24, -0.01629594713449478]];
  for (const [x, want] of cases) assert.equal(log1pf(x), want);
  assert.ok(Object.is(log1pf(-0), -0));
  assert.equal(log1pf(-1), -Infinity);
  let differs = 0;
  for (let k = 1; k < 1 << 16; k++) {
    const x = -k * 2 ** -16;
    if (log1pf(x) !== Math.fround(Math.log1p(x))) differs++;
  }
  assert.ok(differs > 0, 'a port that agrees with Math.log1p everywhere is not the C library\'s');
});
