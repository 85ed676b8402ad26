// The browser side of benchmarks/browser.py: one fresh page per (model, threads), on the
// site dcgan-site wrote, served with COOP/COEP so the page may use threads.
//
//   node benchmarks/browser.mjs URL '[{"model": "model.onnx", "threads": 1}, ...]' REPS
//
// Prints one JSON line per configuration: load_ms (fetch + session), first_ms (the first
// batch of 21), and for each batch size the median seconds of REPS timed batches.

import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const { openBrowser } = await import(path.join(here, '../tests/web/browser_check.mjs'));

const [url, configsJson, repsText] = process.argv.slice(2);
const reps = Number(repsText ?? 10);

async function measure(page, { model, threads, batches }, reps) {
  return page.evaluate(async ({ model, threads, batches, reps }) => {
    const m = await import('./src/browser.js');
    const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const t0 = performance.now();
    const bytes = new Uint8Array(await (await fetch(model)).arrayBuffer());
    const g = await m.loadGenerator(bytes, { name: model, device: 'wasm', threads });
    const load_ms = performance.now() - t0;
    const t1 = performance.now();
    await g.sampleSeeds(m.range(0, 21), { batchSize: 21 });
    const first_ms = performance.now() - t1;
    const seconds = {};
    for (const batch of batches) {
      await g.sampleSeeds(m.range(1000, batch), { batchSize: batch }); // warm this shape
      const times = [];
      for (let r = 0; r < reps; r++) {
        const t = performance.now();
        await g.sampleSeeds(m.range(r * batch, batch), { batchSize: batch });
        times.push((performance.now() - t) / 1000);
      }
      seconds[batch] = median(times);
    }
    await g.release();
    return { model, threads, runtime: g.runtime.note, isolated: crossOriginIsolated, load_ms, first_ms, seconds };
  }, { model, threads, batches, reps });
}

const browser = await openBrowser();
try {
  for (const config of JSON.parse(configsJson)) {
    const page = await browser.context.newPage();
    await page.goto(`${url}?model=none`);
    console.log(JSON.stringify(await measure(page, config, reps)));
    await page.close();
  }
} finally {
  await browser.close();
}
