// log1p in float32 arithmetic, rounded step by step as the GNU C library's log1pf (the
// fdlibm algorithm) rounds: numpy's float32 normals call the C library's log1pf in their
// tail, and Math.log1p rounded to float32 differs from it by one ulp for some inputs.
// Every operation is rounded to float32 with Math.fround, so every JS engine gives the
// same result.

const fr = Math.fround;
const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

function bitsOf(x) {
  F32[0] = x;
  return U32[0];
}

function fromBits(bits) {
  U32[0] = bits;
  return F32[0];
}

const LN2_HI = fr(6.9313812256e-01); // 0x3f317180: ln 2 with its low bits cleared
const LN2_LO = fr(9.0580006145e-06); // 0x3717f7d1: the rest of ln 2
const LP = [6.6666668653e-01, 4.0000000596e-01, 2.8571429849e-01, 2.2222198546e-01,
  1.8183572590e-01, 1.5313838422e-01, 1.4798198640e-01].map(fr);

/** ln(1 + x) in float32 for finite x > -1 (-Infinity at -1, NaN below). */
export function log1pf(x) {
  x = fr(x);
  if (!(x > -1)) return x === -1 ? -Infinity : NaN;
  if (x === Infinity) return x;
  const hx = bitsOf(x) | 0; // signed, as the C code compares it
  const ax = hx & 0x7fffffff;
  if (ax < 0x31000000) { // |x| < 2^-29
    return ax < 0x24800000 ? x : fr(x - fr(fr(x * x) * 0.5));
  }
  let k = 1, f = 0, c = 0, hu = 1;
  if (hx < 0x3ed413d7 && (hx > 0 || hx <= (0xbe95f61f | 0))) {
    k = 0; // -0.2929 < x < 0.41422: no argument reduction
    f = x;
  } else {
    ({ k, f, c, hu } = reduce(x, hx));
  }
  const hfsq = fr(fr(0.5 * f) * f);
  if (hu === 0) return nearOne(k, f, c, hfsq); // |f| < 2^-20
  const s = fr(f / fr(2 + f));
  const z = fr(s * s);
  let poly = LP[6];
  for (let i = 5; i >= 0; i--) poly = fr(LP[i] + fr(z * poly));
  const R = fr(z * poly);
  const sum = fr(s * fr(hfsq + R));
  if (k === 0) return fr(f - fr(hfsq - sum));
  const kf = fr(k);
  return fr(fr(kf * LN2_HI) - fr(fr(hfsq - fr(sum + fr(fr(kf * LN2_LO) + c))) - f));
}

/** 1 + x = 2^k (1 + f) with sqrt(2)/2 <= 1 + f < sqrt(2), and c the rounding error of 1 + x. */
function reduce(x, hx) {
  let u, k, c, hu;
  if (hx < 0x5a000000) {
    u = fr(1 + x);
    hu = bitsOf(u);
    k = (hu >>> 23) - 127;
    c = k > 0 ? fr(1 - fr(u - x)) : fr(x - fr(u - 1));
    c = fr(c / u);
  } else {
    u = x;
    hu = bitsOf(u);
    k = (hu >>> 23) - 127;
    c = 0;
  }
  hu &= 0x007fffff;
  if (hu < 0x3504f7) {
    u = fromBits(hu | 0x3f800000);
  } else {
    k += 1;
    u = fromBits(hu | 0x3f000000);
    hu = (0x00800000 - hu) >> 2;
  }
  return { k, f: fr(u - 1), c, hu };
}

function nearOne(k, f, c, hfsq) {
  const kf = fr(k);
  if (f === 0) return k === 0 ? 0 : fr(fr(kf * LN2_HI) + fr(c + fr(kf * LN2_LO)));
  const R = fr(hfsq * fr(1 - fr(fr(2 / 3) * f)));
  if (k === 0) return fr(f - R);
  return fr(fr(kf * LN2_HI) - fr(fr(R - fr(fr(kf * LN2_LO) + c)) - f));
}
