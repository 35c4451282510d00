// The bare page (benchmarks/bench_fidelity.py only): the same runtime adapter as harness.js
// (pages/adapters/<runtime>.js: load, setup, infer), the same config, model file and inputs,
// and nothing else: no sampler, no requestAnimationFrame probe, no progress events, no heap
// sampling, no yields between inferences.  The loop is what a user's app that runs inference
// back to back would write:
//     for (...) { t = performance.now(); await runner.infer(); lat.push(performance.now() - t); }
// One POST at the very end: an event {stage: "bare_result", latencies_ms, ...} on the cell's
// event endpoint (the harness' result schema wants outputs, which this page does not summarise).

const params = new URLSearchParams(location.search);
const CELL = params.get('cell') || '';
const TOKEN = params.get('token') || '';
const API = `/api/cell/${encodeURIComponent(CELL)}`;
// Diagnosis only (bench_fidelity --bare-extra): add one of the harness' own pieces back.
//   yield=1: a MessageChannel macrotask between inferences (harness.js yieldTask)
//   raf=1:   a requestAnimationFrame loop running during the timed inferences (FrameMonitor)
const WITH_YIELD = params.get('yield') === '1';
const WITH_RAF = params.get('raf') === '1';
const channel = new MessageChannel();
const waiting = [];
channel.port1.onmessage = () => { const r = waiting.shift(); if (r) r(); };
function yieldTask() { return new Promise((r) => { waiting.push(r); channel.port2.postMessage(0); }); }

class CellError extends Error {
  constructor(kind, message) { super(message); this.kind = kind; }
}

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = src;
    s.async = false;
    s.onload = () => resolve();
    s.onerror = () => reject(new CellError('exception', `could not load ${src}`));
    document.head.appendChild(s);
  });
}

async function fetchBytes(url, kind) {
  const resp = await fetch(url, { cache: 'no-store' });
  if (!resp.ok) throw new CellError(kind, `fetch ${url}: HTTP ${resp.status}`);
  return await resp.arrayBuffer();
}

function wasmFilesLoaded() {
  return performance.getEntriesByType('resource')
    .map((e) => new URL(e.name).pathname).filter((p) => p.endsWith('.wasm')).map((p) => p.split('/').pop());
}

const TYPED = { float32: Float32Array, int32: Int32Array, int64: BigInt64Array, uint8: Uint8Array, int8: Int8Array, bool: Uint8Array };
const prod = (shape) => shape.reduce((a, b) => a * b, 1);

const env = {
  CellError, loadScript, fetchBytes, wasmFilesLoaded, prod,
  log: () => {},
  glInfo: () => null,
  gpuAdapterInfo: async () => null,
  webnnCheck: async () => ({ ok: false, reason: 'the bare page runs wasm only' }),
  captureConsole: async (lines, fn) => await fn(),   // no console wrapping
};

async function post(body) {
  await fetch(`${API}/event`, {
    method: 'POST', cache: 'no-store',
    headers: { 'Content-Type': 'application/json', 'X-MWI-Token': TOKEN },
    body: JSON.stringify({ token: TOKEN, ...body }),
  });
}

async function run() {
  const resp = await fetch(`${API}/config`, { cache: 'no-store', headers: { 'X-MWI-Token': TOKEN } });
  if (!resp.ok) throw new Error(`config: HTTP ${resp.status}`);
  const cfg = await resp.json();
  const adapter = await import(`/adapters/${cfg.runtime}.js`);
  await adapter.load(cfg, env);
  const inputs = [];
  for (const spec of cfg.model.inputs) {
    const Ctor = TYPED[spec.dtype];
    inputs.push({ name: spec.name, shape: spec.shape, dtype: spec.dtype, data: new Ctor(await fetchBytes(spec.url, 'input')) });
  }
  const runner = await adapter.setup(cfg, env, inputs);
  const t1 = performance.now();
  await runner.infer();
  const first = performance.now() - t1;
  const warmup = [];
  for (let i = 0; i < cfg.warmups; i++) {
    const t = performance.now();
    await runner.infer();
    warmup.push(performance.now() - t);
    if (WITH_YIELD) await yieldTask();
  }
  let rafOn = WITH_RAF;
  const tick = () => { if (rafOn) requestAnimationFrame(tick); };
  if (rafOn) requestAnimationFrame(tick);
  const lat = [];
  for (let i = 0; i < cfg.iterations; i++) {
    const t = performance.now();
    await runner.infer();
    lat.push(performance.now() - t);
    if (WITH_YIELD) await yieldTask();
  }
  rafOn = false;
  const info = await runner.info();
  runner.dispose();
  document.getElementById('status').textContent = 'done';
  await post({ stage: 'bare_result', ok: true, first_inference_ms: first, warmup_ms: warmup, latencies_ms: lat,
               backend: info.backend, threads: info.threads, wasm_build: info.wasm_build || null,
               wasm_files: wasmFilesLoaded(), cross_origin_isolated: self.crossOriginIsolated === true });
}

run().catch(async (e) => {
  document.getElementById('status').textContent = `error: ${e && e.message}`;
  try { await post({ stage: 'bare_result', ok: false, error: String((e && e.message) || e) }); } catch (e2) { /* nothing */ }
});
