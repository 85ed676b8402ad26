// Drives Debian's chromium (headless, through playwright-core) against a served site:
//
//   node tests/web/browser_check.mjs URL OUT_DIR [REFUSED_MODEL.onnx ...]
//
// Samples the page's default grid (the seed and count of the URL's query), writes the grid's
// RGBA bytes and screenshots into OUT_DIR, then picks each refused model in the page and
// records the message shown. Prints one JSON object.

import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const WEB = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../web');
const { chromium } = createRequire(path.join(WEB, 'package.json'))('playwright-core');
export const CHROMIUM = process.env.DCGAN_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const TIMEOUT_MS = 180_000;

/** A browser context on a fresh profile; close() removes the profile too. */
export async function openBrowser() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'dcgan-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1100, height: 1100 },
  });
  return {
    context,
    close: async () => {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

export const settled = (page) => page.waitForFunction(() => ['ready', 'error'].includes(document.body.dataset.state), null, { timeout: TIMEOUT_MS });

async function gridBytes(page) {
  return page.evaluate(() => {
    const canvas = document.getElementById('grid');
    const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
    let text = '';
    for (let i = 0; i < data.length; i += 0x8000) text += String.fromCharCode(...data.subarray(i, i + 0x8000));
    return { width: canvas.width, height: canvas.height, rgba: btoa(text) };
  });
}

async function main([url, outDir, ...refused]) {
  fs.mkdirSync(outDir, { recursive: true });
  const browser = await openBrowser();
  const page = await browser.context.newPage();
  const console_ = [];
  page.on('console', (m) => console_.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => console_.push(`pageerror: ${e.message}`));
  try {
    await page.goto(url);
    await settled(page);
    const result = { state: await page.evaluate(() => document.body.dataset.state) };
    result.error = await page.textContent('#error');
    result.backend = await page.textContent('#backend');
    result.timings = await page.textContent('#timings');
    result.isolated = await page.evaluate(() => globalThis.crossOriginIsolated);
    const grid = await gridBytes(page);
    fs.writeFileSync(path.join(outDir, 'grid.rgba'), Buffer.from(grid.rgba, 'base64'));
    Object.assign(result, { width: grid.width, height: grid.height });
    await page.screenshot({ path: path.join(outDir, 'page.png'), fullPage: true });
    result.refused = [];
    for (const [i, model] of refused.entries()) {
      await page.setInputFiles('#model-file', model);
      await page.waitForFunction(() => document.body.dataset.state !== 'busy', null, { timeout: TIMEOUT_MS });
      await settled(page);
      const shot = path.join(outDir, `refused${i}.png`);
      await page.screenshot({ path: shot, fullPage: true });
      result.refused.push({ model: path.basename(model), state: await page.evaluate(() => document.body.dataset.state),
        message: await page.textContent('#error'), visible: await page.isVisible('#error'), screenshot: shot });
    }
    result.console = console_;
    console.log(JSON.stringify(result));
  } finally {
    await browser.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(e.stack);
    process.exit(1);
  });
}
