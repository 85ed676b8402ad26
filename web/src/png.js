// PNG files of uint8 (H, W, C) pixels, C in 1-4, every row "Up"-filtered as dcgan.core.images
// writes them. The zlib stream comes from the caller: node:zlib in Node, CompressionStream in
// a browser.

const COLOUR_TYPE = { 1: 0, 2: 4, 3: 2, 4: 6 };
const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(kind, data) {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(new TextEncoder().encode(kind), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** The filtered scanlines: a filter byte (2, Up) and each row's difference to the row above. */
export function scanlines(pixels, height, width, channels) {
  const stride = width * channels;
  const raw = new Uint8Array(height * (stride + 1));
  for (let y = 0; y < height; y++) {
    raw[y * (stride + 1)] = 2;
    for (let x = 0; x < stride; x++) {
      const above = y > 0 ? pixels[(y - 1) * stride + x] : 0;
      raw[y * (stride + 1) + 1 + x] = (pixels[y * stride + x] - above) & 0xff;
    }
  }
  return raw;
}

/** PNG bytes; deflate(bytes) returns (or resolves to) a zlib stream of them. */
export async function encodePng(pixels, height, width, channels, deflate) {
  if (!(channels in COLOUR_TYPE)) throw new RangeError(`a PNG holds 1 to 4 channels, not ${channels}`);
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header.set([8, COLOUR_TYPE[channels], 0, 0, 0], 8);
  const idat = new Uint8Array(await deflate(scanlines(pixels, height, width, channels)));
  const parts = [Uint8Array.from(SIGNATURE), chunk('IHDR', header), chunk('IDAT', idat), chunk('IEND', new Uint8Array())];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

/** A zlib stream through the browser's CompressionStream. */
export async function deflateInBrowser(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream('deflate'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
