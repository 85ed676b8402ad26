// The package in a browser, on onnxruntime-web: WebGPU when the browser has an adapter, wasm
// otherwise; several threads when the page is cross-origin isolated (COOP/COEP headers), one
// otherwise. The runtime's modules are imported by the names 'onnxruntime-web/webgpu' and
// 'onnxruntime-web/wasm' (an import map in the page, or a bundler, resolves them).

import { Generator } from './generator.js';
import { ModelError } from './model_info.js';

export * from './index.js';

const MAX_THREADS = 8;

/** What can run here: { device: 'webgpu' | 'wasm', threads, isolated }. */
export async function detectBackend({ device = 'auto', threads } = {}) {
  const isolated = globalThis.crossOriginIsolated === true;
  const cores = globalThis.navigator?.hardwareConcurrency ?? 1;
  const possible = isolated ? Math.min(cores, MAX_THREADS) : 1;
  let chosen = device === 'wasm' ? 'wasm' : 'webgpu';
  if (chosen === 'webgpu') {
    const adapter = await globalThis.navigator?.gpu?.requestAdapter().catch(() => null);
    if (!adapter) chosen = 'wasm';
  }
  return { device: chosen, threads: Math.max(1, Math.min(threads ?? possible, possible)), isolated };
}

const ortModules = new Map();

/** The onnxruntime-web module for a device, its wasm threads set before its first session. */
async function ortFor(device, threads) {
  if (!ortModules.has(device)) {
    const ort = device === 'webgpu' ? await import('onnxruntime-web/webgpu') : await import('onnxruntime-web/wasm');
    ort.env.wasm.numThreads = threads;
    ort.env.logLevel = 'error';
    ortModules.set(device, ort);
  }
  return ortModules.get(device);
}

/**
 * A Generator for the bytes of an ONNX file. options: name (for messages), device ('auto' or
 * 'wasm'), threads. generator.runtime says what ran: { device, threads, isolated, note }.
 * Throws ModelError for a file that is not a generator.
 */
export async function loadGenerator(bytes, { name, device = 'auto', threads } = {}) {
  const backend = await detectBackend({ device, threads });
  const ort = await ortFor(backend.device, backend.threads);
  const version = ort.env.versions?.web ?? '';
  if (backend.device === 'webgpu') {
    try {
      return await Generator.load(ort, bytes, {
        name, sessionOptions: { executionProviders: ['webgpu'] },
        runtime: { ...backend, library: `onnxruntime-web ${version}`, note: 'WebGPU' },
      });
    } catch (e) {
      if (e instanceof ModelError) throw e;
      backend.fallback = `WebGPU failed (${e.message}); `;
      backend.device = 'wasm';
    }
  }
  const why = backend.isolated ? '' : ' (the page is not cross-origin isolated)';
  return Generator.load(ort, bytes, {
    name, sessionOptions: { executionProviders: ['wasm'] },
    runtime: {
      ...backend, library: `onnxruntime-web ${version}`,
      note: `${backend.fallback ?? ''}wasm, ${backend.threads} thread${backend.threads > 1 ? 's' : ''}${why}`,
    },
  });
}
