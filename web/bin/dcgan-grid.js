#!/usr/bin/env node
// Sample a grid PNG in Node, as `dcgan-gen --seed S --n N --out FILE` does:
//
//   node bin/dcgan-grid.js --model model.onnx --seed 0 --n 21 --out grid.png

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { ModelError, loadGenerator, range, writeGridPng } from '../src/node.js';

const BUNDLED = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../runtime/models/dcgan-pokemon.onnx');
const PROG = 'dcgan-grid';

function intOption(values, name, min) {
  const v = Number(values[name]);
  if (!Number.isSafeInteger(v) || v < min) throw new UsageError(`--${name} must be an integer >= ${min}, got ${values[name]}`);
  return v;
}

class UsageError extends Error {}

async function main() {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', default: BUNDLED },
      seed: { type: 'string', default: '0' },
      n: { type: 'string', default: '21' },
      out: { type: 'string', default: 'grid.png' },
      nrow: { type: 'string', default: '7' },
      'batch-size': { type: 'string', default: '64' },
      threads: { type: 'string' },
    },
  });
  const seed = intOption(values, 'seed', 0), n = intOption(values, 'n', 1);
  const options = values.threads === undefined ? {} : { threads: intOption(values, 'threads', 1) };
  const g = await loadGenerator(values.model, options);
  const t0 = performance.now();
  await writeGridPng(g, range(seed, n), values.out, { nrow: intOption(values, 'nrow', 1), batchSize: intOption(values, 'batch-size', 1) });
  const s = (performance.now() - t0) / 1000;
  console.error(`${PROG}: wrote ${values.out}: ${n} images (seeds ${seed}-${seed + n - 1}) in ${s.toFixed(2)} s on ${g.runtime.library}, ${g.runtime.threads} threads`);
}

main().catch((e) => {
  const known = e instanceof ModelError || e instanceof UsageError || e.code === 'ENOENT' || e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION';
  console.error(`${PROG}: error: ${known ? e.message : e.stack}`);
  process.exit(known ? 1 : 2);
});
