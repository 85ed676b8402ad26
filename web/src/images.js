// Network outputs to uint8 pixels, and grids, as dcgan.core.images makes them: (x - lo) times
// 255 / (hi - lo) in float32, rounded to nearest with ties to even, clipped to 0..255; grids
// with nrow tiles per row and padding pixels around every tile (torchvision's layout).
// Four channels are RGBA with premultiplied alpha, each colour clamped to its alpha, as
// dcgan.runtime makes them; pictures (canvases, PNG files) get straight alpha (unpremultiply).

const fr = Math.fround;

function roundHalfEven(v) {
  const r = Math.round(v); // halves go up
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * (n, C, H, W) floats -> Uint8Array of (n, H, W, C) pixels. Non-finite values throw: cast to
 * bytes they would become black or arbitrary pixels, silently.
 */
export function toUint8(data, [n, c, h, w], [lo, hi] = [-1, 1]) {
  const out = new Uint8Array(n * h * w * c);
  const shift = fr(lo), scale = fr(255 / (hi - lo));
  const plane = h * w;
  for (let i = 0; i < n; i++) {
    for (let ch = 0; ch < c; ch++) {
      const src = (i * c + ch) * plane;
      for (let p = 0; p < plane; p++) {
        const x = data[src + p];
        if (!Number.isFinite(x)) throw new RangeError(`the network computed NaN or infinite values (image ${i}); its weights are damaged`);
        const v = roundHalfEven(fr(fr(fr(x) - shift) * scale));
        out[(i * plane + p) * c + ch] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
  }
  return out;
}

/** [height, width] in pixels of a grid of n tiles of [h, w]. */
export function gridSize(n, [h, w], nrow = 7, padding = 2) {
  const cols = Math.min(nrow, n), rows = Math.ceil(n / nrow);
  return [rows * (h + padding) + padding, cols * (w + padding) + padding];
}

/** A grid filled tile by tile, so images can arrive batch by batch. */
export class GridCanvas {
  constructor(n, [h, w, c], { nrow = 7, padding = 2, padValue = 0 } = {}) {
    if (!(n >= 1 && nrow >= 1 && padding >= 0)) throw new RangeError('a grid needs n >= 1, nrow >= 1 and padding >= 0');
    Object.assign(this, { n, h, w, c, nrow, padding, filled: 0 });
    [this.height, this.width] = gridSize(n, [h, w], nrow, padding);
    this.pixels = new Uint8Array(this.height * this.width * c).fill(padValue);
  }

  /** Paste count images of (h, w, c) pixels, in order. */
  paste(images, count) {
    const { h, w, c, padding: p, nrow } = this;
    const rowBytes = w * c;
    for (let k = 0; k < count; k++) {
      if (this.filled >= this.n) throw new RangeError('more images than the grid has tiles');
      const r = Math.floor(this.filled / nrow), col = this.filled % nrow;
      const y = p + r * (h + p), x = p + col * (w + p);
      for (let row = 0; row < h; row++) {
        const src = (k * h + row) * rowBytes;
        this.pixels.set(images.subarray(src, src + rowBytes), ((y + row) * this.width + x) * c);
      }
      this.filled++;
    }
  }
}

/** Premultiplied RGBA bytes with each colour limited to its alpha, in place (clamp_to_alpha). */
export function clampToAlpha(pixels) {
  for (let i = 0; i < pixels.length; i += 4) {
    for (let k = 0; k < 3; k++) if (pixels[i + k] > pixels[i + 3]) pixels[i + k] = pixels[i + 3];
  }
  return pixels;
}

/**
 * Premultiplied RGBA bytes -> straight alpha, as dcgan.core.images.unpremultiply computes it:
 * colour x 255 / alpha rounded to nearest (floor((510 c + a) / 2a)), at most 255; a pixel of
 * alpha 0 becomes (0, 0, 0, 0).
 */
export function unpremultiply(pixels, out = new Uint8Array(pixels.length)) {
  for (let i = 0; i < pixels.length; i += 4) {
    const a = pixels[i + 3];
    for (let k = 0; k < 3; k++) {
      const v = a === 0 ? 0 : Math.floor((510 * pixels[i + k] + a) / (2 * a));
      out[i + k] = v > 255 ? 255 : v;
    }
    out[i + 3] = a;
  }
  return out;
}

/** The bytes a picture file holds of (h, w, c) pixels: RGBA in straight alpha, else as they are. */
export const picturePixels = (pixels, c) => (c === 4 ? unpremultiply(pixels) : pixels);

/** RGBA bytes of (h, w, c) pixels for an ImageData: grey as grey, RGBA in straight alpha. */
export function toRgba(pixels, c) {
  const n = pixels.length / c;
  const out = new Uint8ClampedArray(n * 4);
  if (c === 4) return unpremultiply(pixels, out);
  for (let i = 0; i < n; i++) {
    out[4 * i] = pixels[c * i];
    out[4 * i + 1] = pixels[c * i + (c === 3 ? 1 : 0)];
    out[4 * i + 2] = pixels[c * i + (c === 3 ? 2 : 0)];
    out[4 * i + 3] = 255;
  }
  return out;
}
