// The demo page: load a generator (the model beside the page, or a file the user picks),
// sample a grid of seeds, step through seeds, play an interpolation walk, download PNGs.

import { GridCanvas, interpolation, loadGenerator, range } from '../src/browser.js';
import { UserError, clearError, downloadPng, el, paint, setTimings, showError } from './view.js';

const DEFAULT_MODEL = 'model.onnx';
const FRAME_MS = 80; // dcgan-gen's GIF frame time
const params = new URLSearchParams(location.search);
const state = { generator: null, grid: null, frame: null, walkTimer: null, busy: false };

async function useModel(bytes, name) {
  const t0 = performance.now();
  const previous = el('model-name').textContent;
  el('model-name').textContent = `${name}: loading…`;
  let g;
  try {
    g = await loadGenerator(bytes, { name, device: params.get('device') ?? 'auto',
      threads: params.has('threads') ? Number(params.get('threads')) : undefined });
  } catch (e) {
    el('model-name').textContent = previous; // a refused file leaves the loaded model in use
    throw e;
  }
  await state.generator?.release();
  state.generator = g;
  const loadMs = performance.now() - t0;
  el('model-name').textContent = `${name}: ${g.info.width}×${g.info.height}, latent ${g.info.latentDim}`;
  el('backend').textContent = `Ran on ${g.runtime.note} (${g.runtime.library}).`;
  setTimings({ 'model load': `${loadMs.toFixed(0)} ms (${(bytes.length / 2 ** 20).toFixed(1)} MiB)` });
  await sampleGrid();
}

async function loadDefault() {
  const response = await fetch(DEFAULT_MODEL);
  if (!response.ok) throw new Error(`no ${DEFAULT_MODEL} beside the page (HTTP ${response.status}); pick a model file`);
  await useModel(new Uint8Array(await response.arrayBuffer()), DEFAULT_MODEL);
}

function readInt(id, min, max) {
  const input = el(id), v = Number(input.value);
  if (!Number.isSafeInteger(v) || v < min || v > max) throw new UserError(`${input.labels[0].textContent.trim()} must be an integer from ${min} to ${max}`);
  return v;
}

async function sampleGrid() {
  const g = state.generator;
  if (!g) throw new UserError('load a model first');
  const seed = readInt('seed', 0, Number.MAX_SAFE_INTEGER), n = readInt('count', 1, 1024);
  const batchSize = readInt('batch', 1, 256);
  const grid = new GridCanvas(n, g.imageShape);
  const times = [];
  const t0 = performance.now();
  await g.sampleSeeds(range(seed, n), {
    batchSize,
    onBatch: async (b) => {
      grid.paste(b.pixels, b.seeds.length);
      times.push(b);
      el('progress').value = b.done / b.total;
      paint(el('grid'), grid.pixels, grid.height, grid.width, g.info.channels);
      await new Promise(requestAnimationFrame); // let the page show each batch
    },
  });
  const total = (performance.now() - t0) / 1000;
  const steady = times.slice(1);
  const rate = steady.length ? steady.reduce((n, b) => n + b.seeds.length, 0) / steady.reduce((s, b) => s + b.seconds, 0) : null;
  state.grid = { grid, seed, n, channels: g.info.channels };
  el('download').disabled = false;
  setTimings({
    'first batch': `${(times[0].seconds * 1000).toFixed(0)} ms (${times[0].seeds.length} images)`,
    'steady': rate ? `${rate.toFixed(1)} images/s` : '(one batch: sample more images to see it)',
    'grid': `seeds ${seed}-${seed + n - 1}: ${total.toFixed(2)} s, ${(n / total).toFixed(1)} images/s`,
  });
  document.body.dataset.state = 'ready';
}

async function playWalk() {
  const g = state.generator;
  if (!g) throw new UserError('load a model first');
  stopWalk();
  const seeds = el('walk-seeds').value.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (seeds.length < 2 || !seeds.every((s) => Number.isSafeInteger(s) && s >= 0)) {
    throw new UserError('give at least two non-negative seeds, e.g. 3,14,15');
  }
  const steps = readInt('walk-steps', 2, 120);
  const { latents, count } = interpolation(seeds, steps, g.info.latentDim);
  const t0 = performance.now();
  const frames = await g.generate(latents, count, { batchSize: 32, onBatch: (b) => { el('progress').value = b.done / b.total; } });
  setTimings({ 'walk': `seeds ${seeds.join(',')}: ${count} frames in ${((performance.now() - t0) / 1000).toFixed(2)} s` });
  const [h, w, c] = g.imageShape, size = h * w * c;
  let i = 0;
  const show = () => {
    state.frame = { pixels: frames.subarray(i * size, (i + 1) * size), h, w, c, index: i };
    paint(el('walk'), state.frame.pixels, h, w, c);
    i = (i + 1) % count;
  };
  show();
  state.walkTimer = setInterval(show, FRAME_MS);
  el('play').textContent = 'Stop';
  el('download-frame').disabled = false;
}

function stopWalk() {
  clearInterval(state.walkTimer);
  state.walkTimer = null;
  el('play').textContent = 'Play';
}

/** Runs a user action, one at a time, with its failure shown on the page. */
function action(fn) {
  return async (event) => {
    event?.preventDefault();
    if (state.busy) return;
    state.busy = true;
    document.body.dataset.state = 'busy';
    clearError();
    try {
      await fn(event);
      document.body.dataset.state = 'ready';
    } catch (e) {
      showError(e);
      document.body.dataset.state = 'error';
    } finally {
      state.busy = false;
    }
  };
}

function stepSeeds(direction) {
  const n = Number(el('count').value) || 1;
  el('seed').value = Math.max(0, Number(el('seed').value) + direction * n);
  return sampleGrid();
}

el('sample-form').addEventListener('submit', action(sampleGrid));
el('prev').addEventListener('click', action(() => stepSeeds(-1)));
el('next').addEventListener('click', action(() => stepSeeds(1)));
el('walk-form').addEventListener('submit', action(() => (state.walkTimer ? stopWalk() : playWalk())));
el('model-default').addEventListener('click', action(loadDefault));
el('model-file').addEventListener('change', action(async () => {
  const file = el('model-file').files[0];
  if (file) await useModel(new Uint8Array(await file.arrayBuffer()), file.name);
}));
el('download').addEventListener('click', action(() => {
  const { grid, seed, n, channels } = state.grid;
  return downloadPng(grid.pixels, grid.height, grid.width, channels, `seeds${seed}-${seed + n - 1}.png`);
}));
el('download-frame').addEventListener('click', action(() => {
  const { pixels, h, w, c, index } = state.frame;
  return downloadPng(pixels, h, w, c, `walk-frame${String(index).padStart(3, '0')}.png`);
}));
if (params.get('model') !== 'none') action(loadDefault)();
else document.body.dataset.state = 'ready';
