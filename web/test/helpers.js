// What the tests share: the project's Python (for numpy's reference values) and paths.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const WEB = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = path.resolve(WEB, '..');
export const BUNDLED_MODEL = path.join(ROOT, 'runtime/models/dcgan-pokemon.onnx');
export const FIXTURES = path.join(ROOT, 'tests/fixtures');

/** The Python with numpy and dcgan-edge: $DCGAN_PYTHON, the checkout's .venv, or python3. */
export function python() {
  const candidates = [process.env.DCGAN_PYTHON, path.join(ROOT, '.venv/bin/python'), 'python3'].filter(Boolean);
  for (const exe of candidates) {
    const r = spawnSync(exe, ['-c', 'import numpy, dcgan.core'], { encoding: 'utf8' });
    if (r.status === 0) return exe;
  }
  return null;
}

/** The JSON a script of test/ writes to the file named by its first argument; null without Python. */
export function pythonJson(script, ...args) {
  const exe = python();
  if (!exe) return null;
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dcgan-web-')), 'out.json');
  const r = spawnSync(exe, [path.join(WEB, 'test', script), out, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${script} failed: ${r.stderr}`);
  const data = JSON.parse(fs.readFileSync(out, 'utf8'));
  fs.rmSync(path.dirname(out), { recursive: true });
  return data;
}

/** Bytes from base64 text. */
export const fromBase64 = (text) => new Uint8Array(Buffer.from(text, 'base64'));

/** numpy's latents (and slerp walks) for a seed spec, computed now by the Python side. */
export function numpyLatents(spec) {
  const data = pythonJson('numpy_latents.py', spec);
  if (!data) return null;
  const bytes = Buffer.from(data.rows, 'base64');
  data.rows = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  return data;
}

/** The uint8 images dcgan.runtime samples (one thread) from a model file, or the bundled model. */
export function pythonImages(seed, n, model = null) {
  const where = model === null ? '' : `${JSON.stringify(model)}, `;
  const code = 'import sys; from dcgan.runtime import Generator; ' +
    `sys.stdout.buffer.write(Generator.load(${where}threads=1).sample(${n}, seed=${seed}).tobytes())`;
  const r = spawnSync(python(), ['-c', code], { maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(r.stderr.toString());
  return new Uint8Array(r.stdout);
}

export const NO_PYTHON = 'no Python with numpy and dcgan-edge (set DCGAN_PYTHON or make the .venv)';
