// Drawing on the page: pixels onto canvases, timings, errors, PNG downloads.

import { encodePng, picturePixels, toRgba } from '../src/browser.js';
import { deflateInBrowser } from '../src/png.js';

export const el = (id) => document.getElementById(id);

/** A mistake in what the user typed: shown as its message alone. */
export class UserError extends Error {
  name = 'UserError';
}

/** (h, w, c) uint8 pixels onto a canvas of their size. */
export function paint(canvas, pixels, height, width, channels) {
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
    canvas.style.setProperty('--w', width);
  }
  canvas.getContext('2d').putImageData(new ImageData(toRgba(pixels, channels), width, height), 0, 0);
}

export function setTimings(entries) {
  const list = el('timings');
  for (const [name, value] of Object.entries(entries)) {
    let dt = [...list.querySelectorAll('dt')].find((d) => d.textContent === name);
    if (!dt) {
      dt = list.appendChild(document.createElement('dt'));
      dt.textContent = name;
      list.appendChild(document.createElement('dd'));
    }
    dt.nextElementSibling.textContent = value;
  }
}

export function showError(e) {
  const box = el('error');
  const known = e.name === 'ModelError' || e.name === 'UserError';
  box.textContent = known ? e.message : `Something went wrong: ${e.message}`;
  box.hidden = false;
  if (!known) console.error(e);
}

export function clearError() {
  el('error').hidden = true;
  el('error').textContent = '';
}

/** The pixels as a PNG file the browser downloads. */
export async function downloadPng(pixels, height, width, channels, filename) {
  const bytes = await encodePng(picturePixels(pixels, channels), height, width, channels, deflateInBrowser);
  const url = URL.createObjectURL(new Blob([bytes], { type: 'image/png' }));
  const link = Object.assign(document.createElement('a'), { href: url, download: filename });
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
