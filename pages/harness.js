// mwi test harness: one measurement cell per page load.
//
// Reads ?cell=&token= from the URL, GETs /api/cell/<cell>/config, loads ONLY the runtime it
// needs from /vendor/ (through pages/adapters/<runtime>.js), then:
//   setup (runtime init + model load)      -> setup_ms
//   first inference, timed on its own      -> first_inference_ms
//   warmups until converged (pages/stopping.js) -> warmup_ms[], warmup_converged
//   timed inferences until the median's CI95 is within `precision`, or `iterations` or
//   `time_budget_ms` (at least `min_iterations`) -> latencies_ms[], stop_reason, precision_reached
// Every timed inference reads its outputs back into JS inside the timed region.
// Progress events go to /api/cell/<cell>/event; the result (or an error, never numbers
// for a failed cell) to /api/cell/<cell>/result.

import {
  CELL, TOKEN, CellError, postJson, event, getConfig, loadScript, fetchBytes, prod, loadInputs, wasmFilesLoaded,
  glInfo, gpuAdapterInfo, vendorVersions, webnnCheck, captureConsole, round, yieldTask, pagePrelude, takeTurn,
} from './protocol.js';   // shared with qoe.js and the QoE worker
import { Stopper, medianHalfwidthRel, warmupDone, warmupConvergedOrNull } from './stopping.js';  // mirrors stats.py
const LONG_FRAME_MS = 50;
const PROGRESS_EVERY_MS = 2000;

// The browser's own core count, read before the thread policy may override what pages see.
const REAL_CONCURRENCY = navigator.hardwareConcurrency || null;
// window.__mwi, the page's hidden-during-run record, #status / #log (protocol.js)
const { state, visibility, setStatus, log } = pagePrelude('mwi');

// ---- GPU context loss -----------------------------------------------------------------------
// A lost WebGL context or WebGPU device can leave an inference awaiting forever (TF.js WebGL's read-back
// never resolves): every WebGL context and WebGPU device the page creates is watched, and each
// inference races the loss, so the cell fails `gpu-context-lost` at once, never `stalled` after the
// watchdog nor with fast numbers from a dead context.
const GPU_LOST = Symbol('gpu-lost');
const gpuLoss = { why: null };
gpuLoss.signal = new Promise((resolve) => { gpuLoss.resolve = resolve; });
function gpuLost(why) {
  if (gpuLoss.why || state.posted) return;   // after the result, dispose() destroys devices on purpose
  gpuLoss.why = why;
  gpuLoss.resolve(GPU_LOST);
}
for (const C of [self.HTMLCanvasElement, self.OffscreenCanvas]) {
  if (!C || !C.prototype.getContext) continue;
  const original = C.prototype.getContext;
  C.prototype.getContext = function getContext(kind, ...rest) {
    const ctx = original.call(this, kind, ...rest);
    if (ctx && /^(experimental-)?webgl2?$/.test(String(kind)) && !this.__mwiWatched) {
      this.__mwiWatched = true;
      this.addEventListener('webglcontextlost', () => gpuLost('WebGL context lost'));
    }
    return ctx;
  };
}
if (self.GPUAdapter && GPUAdapter.prototype.requestDevice) {
  const original = GPUAdapter.prototype.requestDevice;
  GPUAdapter.prototype.requestDevice = async function requestDevice(...args) {
    const device = await original.apply(this, args);
    if (device && device.lost) {
      device.lost.then((info) => gpuLost(`WebGPU device lost (${info && info.reason}): ${info && info.message}`));
    }
    return device;
  };
}
const GPU_BACKENDS = new Set(['webgl', 'webgpu', 'webnn']);
async function inferWatched(runner, cfg) {
  if (!GPU_BACKENDS.has(cfg.backend)) return runner.infer();   // nothing to lose: no race in the timed region
  const out = await Promise.race([runner.infer(), gpuLoss.signal]);
  if (out === GPU_LOST || gpuLoss.why) throw new CellError('gpu-context-lost', gpuLoss.why);
  return out;
}

function applyThreadPolicy(cfg, adapter) {
  // thread_policy "exact": a runtime that derives its thread cap from
  // navigator.hardwareConcurrency (TF.js wasm uses at most half of it) is shown a core count
  // large enough for the threads asked, before it loads.  Recorded in the result; never silent.
  if (cfg.thread_policy !== 'exact' || !adapter.concurrencyNeeded) return null;
  const need = adapter.concurrencyNeeded(cfg);
  const real = REAL_CONCURRENCY || 1;
  if (!need || need <= real) return null;
  Object.defineProperty(Navigator.prototype, 'hardwareConcurrency', { configurable: true, get: () => need });
  return { policy: 'exact', real, reported: need };
}

function wasmSimdSupported() {
  // The smallest module using a v128 instruction: validates only where wasm SIMD exists.
  const bytes = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0,
    10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);
  try { return WebAssembly.validate(bytes); } catch (e) { return false; }
}

// ---- measurement helpers -----------------------------------------------------------------

class Heap {
  constructor() { this.points = {}; this.peak = null; }
  sample(label) {
    const m = performance.memory;
    if (!m) return;
    const mb = m.usedJSHeapSize / (1 << 20);
    if (label) this.points[label] = round(mb, 3);
    this.peak = this.peak === null ? mb : Math.max(this.peak, mb);
  }
  toJSON() {
    if (!performance.memory) return null;
    return { ...this.points, peak_mb: round(this.peak, 3),
             limit_mb: round(performance.memory.jsHeapSizeLimit / (1 << 20), 1),
             source: 'performance.memory.usedJSHeapSize' };
  }
}

class FrameMonitor {
  // In-page requestAnimationFrame timing while inference runs: a responsiveness metric.  A paired
  // cell pauses it between its blocks (no callback runs while the page waits for its turn); the
  // intervals are taken within each running segment only.
  start() {
    this.segments = [];
    this.resume();
  }
  resume() {
    const stamps = [];
    this.segments.push(stamps);
    this.running = true;
    const gen = (this.gen = (this.gen || 0) + 1);
    const tick = (t) => {
      if (!this.running || gen !== this.gen) return;
      stamps.push(t);
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  }
  pause() { this.running = false; }
  stop() {
    this.running = false;
    const d = [];
    for (const stamps of this.segments) {
      for (let i = 1; i < stamps.length; i++) d.push(stamps[i] - stamps[i - 1]);
    }
    const sorted = [...d].sort((a, b) => a - b);
    return {
      source: 'in-page rAF',
      count: d.length,
      long_frames: d.filter((x) => x > LONG_FRAME_MS).length,
      long_frame_threshold_ms: LONG_FRAME_MS,
      max_frame_ms: d.length ? round(sorted[sorted.length - 1], 3) : null,
      median_frame_ms: d.length ? round(sorted[Math.floor(sorted.length / 2)], 3) : null,
      visibility: document.visibilityState,
    };
  }
}

function toFloat32(data) {
  if (data instanceof Float32Array) return data;
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return Float32Array.from(data, Number);
  return Float32Array.from(data);
}

function hex(buf) {
  return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');
}

async function summarize(spec, data, cfg) {
  const f32 = toFloat32(data);
  const size = f32.length;
  if (size !== prod(spec.shape)) {
    throw new CellError('exception', `output ${spec.name}: ${size} values, the model declares ${spec.shape}`);
  }
  let sum = 0, min = Infinity, max = -Infinity;
  for (let i = 0; i < size; i++) {
    const v = f32[i];
    if (!Number.isFinite(v)) throw new CellError('nonfinite_output', `output ${spec.name}[${i}] is ${v}`);
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const digest = hex(await crypto.subtle.digest('SHA-256', f32.slice().buffer));
  const k = Math.min(cfg.topk, size);
  const order = Array.from({ length: size }, (_, i) => i);
  order.sort((a, b) => (f32[b] - f32[a]) || (a - b));
  const topk = order.slice(0, k).map((i) => [i, f32[i]]);
  const out = { name: spec.name, shape: spec.shape, dtype: spec.dtype, size, digest, topk,
                stats: { sum, mean: size ? sum / size : 0, min: size ? min : 0, max: size ? max : 0 } };
  if (size <= cfg.raw_output_max) {
    out.values = Array.from(f32);
    out.stride = 1;
  } else {
    const stride = Math.ceil(size / cfg.sample_count);
    const sample = [];
    for (let i = 0; i < size && sample.length < cfg.sample_count; i += stride) sample.push(f32[i]);
    out.sample = sample;
    out.stride = stride;
  }
  return out;
}

function classify(err, cfg) {
  if (err instanceof CellError) return { kind: err.kind, message: err.message };
  const msg = String((err && (err.message || err)) || 'unknown error');
  if (/not registered for backend|unsupported op|didn't find op|not supported|could not find an implementation|no kernel|unknown op/i.test(msg)) {
    return { kind: 'unsupported_op', message: msg };
  }
  if (/context lost|device (was )?lost/i.test(msg)) return { kind: 'gpu-context-lost', message: msg };
  return { kind: 'exception', message: msg };
}

// ---- the run -----------------------------------------------------------------------------

function copyRuntimeFacts(result, info) {
  // What the runtime says about itself, where it knows: which wasm build loaded, whether the
  // model is fully on the accelerator, and delegation coverage
  // {delegated_nodes, total_nodes, partitions} (null values where the runtime does not say).
  for (const k of ['wasm_build', 'fully_accelerated', 'delegation']) {
    if (info[k] !== undefined) result[k] = info[k];
  }
}

function baseResult(cfg) {
  return {
    cell: cfg ? cfg.cell : CELL,
    status: 'error', error: null,
    runtime: cfg ? cfg.runtime : '', backend_requested: cfg ? cfg.backend : '',
    backend: null, threads_requested: cfg ? cfg.threads : null, threads: null,
    simd: wasmSimdSupported(), cross_origin_isolated: self.crossOriginIsolated === true,
    user_agent: navigator.userAgent, hardware_concurrency: REAL_CONCURRENCY,
    concurrency_override: null,
    versions: {}, gpu: null, setup_ms: null, first_inference_ms: null, warmup_ms: [],
    latencies_ms: [], js_heap_mb: null, outputs: [], frames: null, visibility,
  };
}

async function postResult(result) {
  state.result = result;
  let reply = await postJson('result', result);
  if (!reply.ok && reply.status !== 409 && result.status === 'ok') {
    // The server refused our numbers: say so as an error, never leave the cell silent.
    log(`result rejected: ${reply.status} ${reply.reason}`);
    const failed = { ...baseResult(null), cell: result.cell, runtime: result.runtime,
                     backend_requested: result.backend_requested, threads_requested: result.threads_requested,
                     error: { kind: 'result_rejected', message: `${reply.status} ${reply.reason}` } };
    reply = await postJson('result', failed);
  }
  state.reply = reply;
  state.posted = true;
  return reply;
}

async function run() {
  if (!CELL || !TOKEN) {
    setStatus('error: the URL needs ?cell=&token=');
    return;
  }
  setStatus('loading config');
  let cfg;
  try {
    cfg = await getConfig();
  } catch (e) {
    setStatus(`error: ${e.message}`);
    await postResult({ ...baseResult(null), error: { kind: 'config', message: e.message } });
    return;
  }
  const result = baseResult(cfg);
  const heap = new Heap();
  let runner = null;
  let adapter = null;
  let doing = 'config';   // the phase in progress, named in error messages
  const stage = (name, extra) => { setStatus(name); event(name, extra); };
  const failOnError = (e) => { if (!state.posted && !state.uncaught) state.uncaught = e; };
  window.addEventListener('error', (ev) => failOnError(ev.error || new Error(ev.message)));
  window.addEventListener('unhandledrejection', (ev) => failOnError(ev.reason));
  try {
    stage('config', { runtime: cfg.runtime, backend: cfg.backend, threads: cfg.threads });
    heap.sample('before_load_mb');
    doing = 'runtime load';
    adapter = await import(`/adapters/${cfg.runtime}.js`);
    const env = { CellError, loadScript, fetchBytes, glInfo, gpuAdapterInfo, wasmFilesLoaded, log, prod,
                  webnnCheck, captureConsole };
    result.concurrency_override = applyThreadPolicy(cfg, adapter);
    const tScripts = performance.now();
    await adapter.load(cfg, env);
    result.runtime_load_ms = round(performance.now() - tScripts);
    doing = 'input load';
    const inputs = await loadInputs(cfg);
    stage('scripts', { ms: result.runtime_load_ms });

    doing = 'setup';
    const t0 = performance.now();
    runner = await adapter.setup(cfg, env, inputs);
    result.setup_ms = round(performance.now() - t0);
    heap.sample('after_load_mb');
    stage('loaded', { setup_ms: result.setup_ms });

    const specs = cfg.model.outputs;
    doing = 'first inference';
    const t1 = performance.now();
    const firstOut = await inferWatched(runner, cfg);
    result.first_inference_ms = round(performance.now() - t1);
    runner.check();
    if (firstOut.length !== specs.length) {
      throw new CellError('exception', `the model gave ${firstOut.length} outputs, the manifest declares ${specs.length}`);
    }
    const firstDigests = await Promise.all(firstOut.map((d) => crypto.subtle.digest('SHA-256', toFloat32(d).slice().buffer).then(hex)));
    heap.sample();
    stage('first', { ms: result.first_inference_ms });

    doing = 'warmup';
    // Warm-up by convergence (stopping.js): at least cfg.warmups, then until the moving median of
    // the last warmup_window runs stops drifting, at most max_warmups or the time budget.
    const warmRule = { min_runs: cfg.warmups, max_runs: Math.max(cfg.warmups, cfg.max_warmups || 0),
                       window: cfg.warmup_window || 5, drift: cfg.warmup_drift ?? 0.05,
                       max_time_s: cfg.time_budget_ms / 1000 };
    const tWarm = performance.now();
    while (!warmupDone(result.warmup_ms, (performance.now() - tWarm) / 1000, warmRule)) {
      const t = performance.now();
      await inferWatched(runner, cfg);
      result.warmup_ms.push(round(performance.now() - t));
      if (performance.now() - t >= PROGRESS_EVERY_MS) event('progress', { warmup: result.warmup_ms.length });  // slow models: alive
      await yieldTask();
    }
    result.warmup_converged = warmupConvergedOrNull(result.warmup_ms, warmRule);
    runner.check();
    heap.sample();
    stage('warmup', { n: result.warmup_ms.length, converged: result.warmup_converged });

    if (cfg.profile_ops) {   // a separate profiled page load (mwi sweep --profile-ops): the store keeps no latency of it
      doing = 'op profile';
      if (!runner.profile) throw new CellError('unsupported', `${cfg.runtime} has no per-operator profiler in this harness`);
      result.op_profile = await runner.profile(Math.max(1, Math.min(cfg.iterations, 20)));
      stage('op_profile', { runs: result.op_profile.runs.length });
    }

    doing = 'timed inferences';
    const frames = new FrameMonitor();
    frames.start();
    let outs = firstOut;
    const tStart = performance.now();
    if (cfg.record_timestamps) result.latency_t_ms = [];  // studies: when each timed inference began
    let lastProgress = tStart;
    // Until the CI95 half-width of the median is <= precision x median (stopping.js; precision 0:
    // no early stop), after min_iterations, at most `iterations` or the time budget.
    if (cfg.pair_round_ms > 0) {
      // Paired (issue 21): blocks of ~pair_round_ms on the host's word; between them the page waits
      // for its turn (the rAF monitor paused) while the native reference runs its block.
      doing = 'paired rounds';
      frames.pause();
      let k = -1;
      let block = [];
      let info = null;
      try { info = await runner.info(); } catch (e) { info = null; }
      for (;;) {
        const word = await takeTurn(k, block, k < 0 ? { threads: info ? info.threads : null } : {});
        if (!word.go) { result.stop_reason = word.stop_reason || null; break; }
        k += 1;
        block = [];
        frames.resume();
        // untimed re-warm after the pause (caches, branch predictors, a CPU that clocked down): at
        // least pair_block_warmups inferences, more until the host's warm_ms passed (a tiny model)
        const tw = performance.now();
        const warmMax = word.warm_max || 100;
        for (let w = 0; w < (cfg.pair_block_warmups || 0)
             || (w < warmMax && performance.now() - tw < (word.warm_ms || 0)); w++) {
          outs = await inferWatched(runner, cfg);
          await yieldTask();
        }
        const tb = performance.now();
        const ms = word.ms || cfg.pair_round_ms;
        const cap = Math.max(1, Math.min(word.max || cfg.pair_block_max || cfg.iterations,
                                         cfg.iterations - result.latencies_ms.length));
        while (block.length < cap && (block.length < (word.min || 3) || performance.now() - tb < ms)) {
          const a = performance.now();
          outs = await inferWatched(runner, cfg);
          const b = performance.now();
          block.push(round(b - a));
          if (result.latency_t_ms) result.latency_t_ms.push(round(a - tStart));
          if (state.uncaught) throw state.uncaught;
          runner.check();   // a GPU context lost mid-loop ends the cell now: no fast numbers from a dead context
          await yieldTask();
        }
        frames.pause();
        result.latencies_ms.push(...block);
        // the turn itself tells the host the page is alive: a progress event (one more HTTP request
        // at the turn) only every PROGRESS_EVERY_MS, as the unpaired loop
        if (performance.now() - lastProgress >= PROGRESS_EVERY_MS) {
          lastProgress = performance.now();
          event('progress', { n: result.latencies_ms.length, round: k });
        }
      }
    } else {
      const stopper = new Stopper({ precision: cfg.precision || 0, min_iterations: cfg.min_iterations,
                                    max_iterations: cfg.iterations, min_time_s: 0,
                                    max_time_s: cfg.time_budget_ms / 1000 });
      for (;;) {
        const why = stopper.reason(result.latencies_ms, (performance.now() - tStart) / 1000);
        if (why !== null) { result.stop_reason = why; break; }
        const a = performance.now();
        outs = await inferWatched(runner, cfg);
        const b = performance.now();
        result.latencies_ms.push(round(b - a));
        if (result.latency_t_ms) result.latency_t_ms.push(round(a - tStart));
        if (state.uncaught) throw state.uncaught;
        runner.check();   // a GPU context lost mid-loop ends the cell now: no fast numbers from a dead context
        if (b - lastProgress >= PROGRESS_EVERY_MS) {
          lastProgress = b;
          heap.sample();
          event('progress', { n: result.latencies_ms.length });
        }
        await yieldTask();
      }
    }
    result.precision_reached = medianHalfwidthRel(result.latencies_ms);
    result.frames = frames.stop();
    runner.check();
    heap.sample('end_mb');
    stage('timed', { n: result.latencies_ms.length });

    doing = 'report';
    const info = await runner.info();
    result.backend = info.backend;
    result.threads = info.threads;
    result.gpu = info.gpu || null;
    result.versions = { ...(await vendorVersions(adapter.PACKAGES || [])), ...(info.versions || {}) };
    result.wasm_files = wasmFilesLoaded();
    if (info.extra) result.runtime_info = info.extra;
    copyRuntimeFacts(result, info);
    // "<backend>-partial": the runtime ran part of the graph elsewhere (e.g. LiteRT.js WebGPU
    // with some ops on wasm): measured, but labelled, never shown as the backend asked for.
    if (result.backend !== cfg.backend && result.backend !== `${cfg.backend}-partial`) {
      throw new CellError('backend_fallback', `asked for ${cfg.backend}, ${cfg.runtime} ran on ${result.backend}`);
    }
    result.outputs = [];
    for (let i = 0; i < specs.length; i++) {
      const o = await summarize(specs[i], outs[i], cfg);
      o.stable = o.digest === firstDigests[i];
      result.outputs.push(o);
    }
    result.js_heap_mb = heap.toJSON();
    result.status = 'ok';
    setStatus('posting');
    const reply = await postResult(result);
    setStatus(reply.ok ? 'done' : `rejected: ${reply.reason}`);
  } catch (e) {
    const error = classify(e, cfg);
    log(`${error.kind}: ${error.message}`);
    if (runner) {
      try {
        const info = await runner.info();
        result.backend = info.backend;
        result.threads = info.threads;
        result.gpu = info.gpu || null;
        result.versions = { ...(await vendorVersions(adapter.PACKAGES || [])), ...(info.versions || {}) };
        if (info.extra) result.runtime_info = info.extra;
        copyRuntimeFacts(result, info);
      } catch (e2) { /* the runtime is broken: report what we have */ }
    }
    // An error carries no measurement: what got done is kept apart, for diagnosis only.
    result.partial = { setup_ms: result.setup_ms, first_inference_ms: result.first_inference_ms,
                       warmups_done: result.warmup_ms.length, timed_done: result.latencies_ms.length };
    Object.assign(result, { status: 'error', error: { kind: error.kind, message: `${error.message} (during ${doing})` },
                            setup_ms: null, first_inference_ms: null, warmup_ms: [], latencies_ms: [],
                            outputs: [], frames: null, js_heap_mb: heap.toJSON() });
    setStatus(`error: ${error.kind}`);
    await postResult(result);
  } finally {
    if (runner) {
      try { runner.dispose(); } catch (e) { /* ignore */ }
    }
  }
}

run().catch((e) => { setStatus(`harness bug: ${e.message}`); log(String(e.stack || e)); });
