// Shared by the pages (harness.js, qoe.js) and the QoE Web Worker (qoe_worker.js): talking to the
// page server (config with the token, events, the result), the pages' prelude (pagePrelude) and
// the helpers the runtime adapters get as `env`.  Works in a window and in a worker (no DOM needed except loadScript's <script>,
// which a worker replaces with importScripts).

const params = new URLSearchParams(self.location.search);
export const CELL = params.get('cell') || '';
export const TOKEN = params.get('token') || '';
const API = `/api/cell/${encodeURIComponent(CELL)}`;

export class CellError extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = kind;
  }
}

// ---- talking to the page server ----------------------------------------------------------

export async function postJson(path, body) {
  const resp = await fetch(`${API}/${path}`, {
    method: 'POST', cache: 'no-store',
    headers: { 'Content-Type': 'application/json', 'X-MWI-Token': TOKEN },
    body: JSON.stringify({ token: TOKEN, ...body }),
  });
  let reason = '';
  if (!resp.ok) {
    try { reason = (await resp.json()).error || ''; } catch (e) { reason = resp.statusText; }
  }
  return { ok: resp.ok, status: resp.status, reason };
}

// Paired cells (issue 21): hand the block just measured to the host and wait for its word.  The
// page does nothing meanwhile (no inference, no timer): the fetch is held open by the server
// until the native reference has run its block.  {go, ms, max} or {go: false}.
export async function takeTurn(round, latencies, extra = {}) {
  let resp;
  try {
    resp = await fetch(`${API}/turn`, {
      method: 'POST', cache: 'no-store',
      headers: { 'Content-Type': 'application/json', 'X-MWI-Token': TOKEN },
      body: JSON.stringify({ token: TOKEN, round, latencies_ms: latencies, ...extra }),
    });
  } catch (e) {
    throw new CellError('pairing', `turn ${round}: ${e.message}`);
  }
  if (!resp.ok) throw new CellError('pairing', `turn ${round}: HTTP ${resp.status}`);
  return await resp.json();
}

let eventSeq = 0;
export function event(stage, extra = {}) {
  // Fire and forget: a lost progress event must never fail the cell.  Events may arrive out
  // of order (several connections): `seq` gives the page's order.
  eventSeq += 1;
  postJson('event', { stage, seq: eventSeq, t_ms: round(performance.now()), ...extra }).catch(() => {});
}

export async function getConfig() {
  const resp = await fetch(`${API}/config`, { cache: 'no-store', headers: { 'X-MWI-Token': TOKEN } });
  if (!resp.ok) throw new CellError('config', `config request failed: HTTP ${resp.status}`);
  return await resp.json();
}

// ---- the page's own state (pages only: harness.js, qoe.js; never called in the worker) ------

// The page's state as the host reads it (window.__mwi), whether the page was hidden during the
// run (a hidden page, background tab or screen off, has its timers throttled: recorded), and
// setStatus / log, which write #status and #log and the title (`${titlePrefix}: <phase>`).
export function pagePrelude(titlePrefix) {
  const state = { phase: 'starting', posted: false, result: null, reply: null };
  window.__mwi = state;
  const visibility = { at_start: document.visibilityState, hidden_during_run: document.visibilityState !== 'visible' };
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState !== 'visible') visibility.hidden_during_run = true;
  });
  function setStatus(text) {
    state.phase = text;
    const el = document.getElementById('status');
    if (el) el.textContent = text;
    document.title = `${titlePrefix}: ${text}`;
  }
  function log(line) {
    const el = document.getElementById('log');
    if (el) el.textContent += line + '\n';
  }
  return { state, visibility, setStatus, log };
}

// ---- helpers shared with the adapters ----------------------------------------------------

const loadedScripts = new Map();
export function loadScript(src) {
  if (loadedScripts.has(src)) return loadedScripts.get(src);
  const missing = () => new CellError('exception', `could not load ${src} (run python -m mobile_webinfer.web.vendor)`);
  let p;
  if (typeof document === 'undefined') {
    // a (classic) Web Worker: synchronous importScripts
    p = new Promise((resolve, reject) => {
      try { self.importScripts(src); resolve(); } catch (e) { reject(missing()); }
    });
  } else {
    p = new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = src;
      s.async = false;
      s.onload = () => resolve();
      s.onerror = () => reject(missing());
      document.head.appendChild(s);
    });
  }
  loadedScripts.set(src, p);
  return p;
}

export async function fetchBytes(url, kind) {
  let resp;
  try {
    resp = await fetch(url, { cache: 'no-store' });
  } catch (e) {
    throw new CellError(kind, `fetch ${url} failed: ${e.message}`);
  }
  if (!resp.ok) throw new CellError(kind, `fetch ${url}: HTTP ${resp.status}`);
  return await resp.arrayBuffer();
}

export const TYPED = {
  float32: Float32Array, int32: Int32Array, int64: BigInt64Array, uint8: Uint8Array,
  int8: Int8Array, bool: Uint8Array,
};

export function prod(shape) { return shape.reduce((a, b) => a * b, 1); }

export async function loadInputs(cfg) {
  const out = [];
  for (const spec of cfg.model.inputs) {
    const Ctor = TYPED[spec.dtype];
    if (!Ctor) throw new CellError('input', `input ${spec.name}: dtype ${spec.dtype} is not supported by the page`);
    const buf = await fetchBytes(spec.url, 'input');
    const n = prod(spec.shape);
    if (buf.byteLength !== n * Ctor.BYTES_PER_ELEMENT) {
      throw new CellError('input', `input ${spec.name}: ${buf.byteLength} bytes, expected ${n * Ctor.BYTES_PER_ELEMENT} for ${spec.shape} ${spec.dtype}`);
    }
    out.push({ name: spec.name, shape: spec.shape, dtype: spec.dtype, data: new Ctor(buf) });
  }
  return out;
}

export function wasmFilesLoaded() {
  // Which .wasm binaries the runtime actually fetched (tells SIMD / threaded builds apart).
  return performance.getEntriesByType('resource')
    .map((e) => new URL(e.name).pathname)
    .filter((p) => p.endsWith('.wasm'))
    .map((p) => p.split('/').pop());
}

const SOFTWARE_RE = /swiftshader|llvmpipe|softpipe|software|basic render|lavapipe/i;

export function glInfo(gl) {
  if (!gl) return null;
  const ext = gl.getExtension('WEBGL_debug_renderer_info');
  const vendor = ext ? gl.getParameter(ext.UNMASKED_VENDOR_WEBGL) : gl.getParameter(gl.VENDOR);
  const renderer = ext ? gl.getParameter(ext.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER);
  return { api: 'webgl', vendor: String(vendor), renderer: String(renderer),
           software: SOFTWARE_RE.test(`${vendor} ${renderer}`) };
}

export async function gpuAdapterInfo(adapter) {
  if (!adapter && navigator.gpu) adapter = await navigator.gpu.requestAdapter();
  if (!adapter) return null;
  const info = adapter.info || {};
  const vendor = info.vendor || '';
  const renderer = [info.architecture, info.device, info.description].filter(Boolean).join(' ');
  const fallback = Boolean(info.isFallbackAdapter || adapter.isFallbackAdapter);
  return { api: 'webgpu', vendor, renderer, software: fallback || SOFTWARE_RE.test(`${vendor} ${renderer}`) };
}

export async function vendorVersions(packages) {
  // Installed npm package versions (pages/vendor/vendor.json) of the packages a runtime uses.
  try {
    const resp = await fetch('/vendor/vendor.json', { cache: 'no-store' });
    const all = resp.ok ? (await resp.json()).versions || {} : {};
    return Object.fromEntries(Object.entries(all).filter(([k]) => packages.includes(k)));
  } catch (e) {
    return {};
  }
}

export async function webnnCheck(deviceType) {
  // Can this browser create a WebNN context of this device type?  {ok, reason}: the reason is
  // the browser's own words (e.g. "WebNN is not supported on this platform").
  if (!('ml' in navigator) || !navigator.ml) {
    return { ok: false, reason: 'navigator.ml is missing: this browser exposes no WebNN (Chromium needs --enable-features=WebMachineLearningNeuralNetwork)' };
  }
  try {
    const ctx = await navigator.ml.createContext({ deviceType });
    if (ctx && typeof ctx.destroy === 'function') ctx.destroy();
    return { ok: true, reason: '' };
  } catch (e) {
    return { ok: false, reason: `navigator.ml.createContext({deviceType: '${deviceType}'}) failed: ${(e && (e.name ? `${e.name}: ` : '') + (e.message || e)) || e}` };
  }
}

export async function captureConsole(lines, fn) {
  // Run fn() while copying console output (runtime logs: delegation, partitions) into lines.
  const names = ['log', 'info', 'warn', 'error', 'debug'];
  const saved = names.map((n) => console[n]);
  names.forEach((n, i) => {
    console[n] = (...args) => {
      if (lines.length < 2000) lines.push(args.map((a) => (typeof a === 'string' ? a : String(a))).join(' '));
      saved[i].apply(console, args);
    };
  });
  try {
    return await fn();
  } finally {
    names.forEach((n, i) => { console[n] = saved[i]; });
  }
}

// ---- measurement helpers -----------------------------------------------------------------

export function round(x, digits = 4) {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

// A macrotask yield (not clamped like setTimeout) so rAF, events and the watchdog get a turn
// between timed inferences; it is outside the timed region.
const channel = new MessageChannel();
const waiting = [];
channel.port1.onmessage = () => { const r = waiting.shift(); if (r) r(); };
export function yieldTask() { return new Promise((r) => { waiting.push(r); channel.port2.postMessage(0); }); }
