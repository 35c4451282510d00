// mwi QoE cell: what the user feels while a model runs.  Reads ?cell=&token= like the harness,
// GETs its config (cfg.qoe: mode, rounds, gap_ms, seed, block_ms, tap_wait_ms), then
//   baseline  the GUI workload alone
//   main      the model infers back to back on this thread (yielding a task between inferences)
//   worker    the model infers back to back in a Web Worker (qoe_worker.js)
// and runs the seeded workload `rounds` times (each task timed to the frame showing its result),
// with rAF frames, synthetic taps (the host taps #tap: CDP locally, `input tap` on phones; the
// page posts a `window` event saying where) and the inferences done during the window.

import {
  CELL, TOKEN, postJson, event, getConfig, round, CellError, pagePrelude,
} from './protocol.js';
import { GuiWorkload, TASKS, FrameWindow, nextFrame } from './gui_workload.js';
import { Inferer, errorInfo } from './qoe_infer.js';

const LONG_FRAME_MS = 50;
// window.__mwi, the page's hidden-during-run record, #status / #log (protocol.js)
const { state, visibility, setStatus, log } = pagePrelude('mwi qoe');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- synthetic input: event timestamp to handler start, and to the next frame ------------

class InputProbe {
  constructor() {
    this.taps = [];
    this.armed = false;
    this.timing = [];
    this.onFirst = null;
    this.eventTiming = typeof PerformanceObserver !== 'undefined' &&
      (PerformanceObserver.supportedEntryTypes || []).includes('event');
    document.addEventListener('pointerdown', (ev) => {
      if (!this.armed) return;
      const start = performance.now();
      const pad = document.getElementById('tap');
      const rec = { delay_ms: round(start - ev.timeStamp, 3), paint_ms: null, pointer: ev.pointerType,
                    on_pad: !!(pad && ev.target instanceof Node && pad.contains(ev.target)) };
      this.taps.push(rec);
      if (this.onFirst) { this.onFirst(); this.onFirst = null; }
      nextFrame().then((t) => { rec.paint_ms = round(t - ev.timeStamp, 3); });
    });
    if (this.eventTiming) {   // taps whose interaction (input -> next paint) took >= 16 ms, the API's floor
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) {
          if (this.armed && e.name === 'pointerdown') {
            this.timing.push({ input_delay_ms: round(e.processingStart - e.startTime, 3), duration_ms: e.duration });
          }
        }
      }).observe({ type: 'event', durationThreshold: 16, buffered: false });
    }
  }
  // The host's taps take a while to start (`adb shell input tap` spawns a process on the phone):
  // resolves with the ms waited once the first tap arrives, or null after `ms` without one.
  firstTap(ms) {
    if (this.taps.length) return Promise.resolve(0);
    const t0 = performance.now();
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.onFirst = null; resolve(null); }, ms);
      this.onFirst = () => { clearTimeout(timer); resolve(round(performance.now() - t0, 3)); };
    });
  }
  where() {
    const r = document.getElementById('tap').getBoundingClientRect();
    return { x: round(r.left + r.width / 2, 1), y: round(r.top + r.height / 2, 1), dpr: window.devicePixelRatio || 1,
             chrome_top: Math.max(0, (window.outerHeight || window.innerHeight) - window.innerHeight) };
  }
}

// ---- the model beside the workload --------------------------------------------------------

class MainEngine {
  constructor(cfg) { this.inf = new Inferer(cfg, log); this.looping = null; }
  async prepare() { return await this.inf.prepare(); }
  start() { this.looping = this.inf.loop(); }
  async stop() {
    this.inf.stopAsked = true;
    await this.looping;
    const info = await this.inf.info();
    this.inf.dispose();
    return { latencies: this.inf.latencies, starts: this.inf.starts, info };
  }
}

class WorkerEngine {
  constructor(cfg) {
    this.cfg = cfg;
    this.worker = new Worker('/qoe_worker.js');
    this.pending = null;
    this.failure = null;
    this.worker.onmessage = (ev) => this.onMessage(ev.data);
    this.worker.onerror = (ev) => this.onMessage({ type: 'error', during: 'worker',
      error: { kind: 'exception', message: `worker error: ${ev.message || 'unknown'}` } });
  }
  onMessage(m) {
    if (m.type === 'log') { log(`[worker] ${m.line}`); return; }
    if (m.type === 'error') {
      this.failure = { ...m.error, during: m.during };
      if (this.pending) { this.pending.reject(this.asError()); this.pending = null; }
      return;
    }
    if (this.pending) { this.pending.resolve(m); this.pending = null; }
  }
  asError() {
    // A runtime that cannot load or set up in a worker is `unsupported` there, with its own words.
    const f = this.failure;
    const inSetup = ['worker import', 'setup', 'worker'].includes(f.during);
    return new CellError(inSetup ? 'unsupported' : f.kind,
      `${inSetup ? `${this.cfg.runtime} cannot run in a Web Worker here: ` : ''}${f.kind}: ${f.message} (worker ${f.during})`);
  }
  ask(msg) {
    if (this.failure) return Promise.reject(this.asError());
    return new Promise((resolve, reject) => { this.pending = { resolve, reject }; this.worker.postMessage(msg); });
  }
  async prepare() {
    const m = await this.ask({ type: 'prepare', cfg: this.cfg });
    return { setup_ms: m.setup_ms, first_inference_ms: m.first_inference_ms };
  }
  start() { this.worker.postMessage({ type: 'start' }); }
  async stop() {
    const m = await this.ask({ type: 'stop' });
    this.worker.terminate();
    if (this.failure) throw this.asError();
    return { latencies: m.latencies, starts: m.starts_abs.map((t) => t - performance.timeOrigin), info: m.info };
  }
}

// ---- the cell ------------------------------------------------------------------------------

function baseResult(cfg) {
  return {
    cell: cfg ? cfg.cell : CELL, status: 'error', error: null,
    runtime: cfg ? cfg.runtime : '', backend_requested: cfg ? cfg.backend : '', backend: null,
    threads_requested: cfg ? cfg.threads : null, threads: null,
    cross_origin_isolated: self.crossOriginIsolated === true, user_agent: navigator.userAgent,
    hardware_concurrency: navigator.hardwareConcurrency || null, versions: {}, gpu: null, visibility,
    qoe: null,
  };
}

async function postResult(result) {
  state.result = result;
  let reply = await postJson('result', result);
  if (!reply.ok && reply.status !== 409 && result.status === 'ok') {
    // the server refused our numbers: say so as an error, never leave the cell silent
    log(`result rejected: ${reply.status} ${reply.reason}`);
    reply = await postJson('result', { ...result, status: 'error', qoe: null,
                                       error: { kind: 'result_rejected', message: `${reply.status} ${reply.reason}` } });
  }
  state.reply = reply;
  state.posted = true;
  return reply;
}

async function run() {
  if (!CELL || !TOKEN) { setStatus('error: the URL needs ?cell=&token='); return; }
  setStatus('loading config');
  let cfg;
  try {
    cfg = await getConfig();
  } catch (e) {
    await postResult({ ...baseResult(null), error: { kind: 'config', message: e.message } });
    return;
  }
  const q = cfg.qoe;
  const result = baseResult(cfg);
  let engine = null;
  let doing = 'setup';
  try {
    if (!q) throw new CellError('config', 'the config has no qoe section (this is the QoE page)');
    event('config', { mode: q.mode, runtime: cfg.runtime, backend: cfg.backend });
    const workload = new GuiWorkload(document.getElementById('workload'), q.seed);
    const probe = new InputProbe();
    const qoe = { mode: q.mode, seed: q.seed, rounds: q.rounds, gap_ms: q.gap_ms, block_ms: q.block_ms,
                  setup_ms: null, first_inference_ms: null, tasks: [], frames: null, taps: [], event_timing: [],
                  window_ms: null, first_tap_wait_ms: null, inferences: 0, inference_ms: [], inferences_per_s: null };
    if (q.mode !== 'baseline') {
      setStatus(`loading ${cfg.runtime} (${q.mode})`);
      engine = q.mode === 'worker' ? new WorkerEngine(cfg) : new MainEngine(cfg);
      Object.assign(qoe, await engine.prepare());
      event('loaded', { setup_ms: qoe.setup_ms });
    }
    // one untimed round: fonts, layout caches and the JIT warm up as in an app that has been open a while
    doing = 'workload warm-up';
    for (const name of TASKS) await workload.run(name);
    setStatus('measuring');
    doing = 'window';
    if (engine) engine.start();
    await nextFrame();
    probe.armed = true;
    event('window', { tap: probe.where() });   // the host taps here until the result arrives
    // the window's rounds start once the host's taps reach the page (a short window could
    // otherwise end before the first one lands); the wait is recorded, and a page that waited
    // in vain still measures, with no taps to show
    if (q.tap_wait_ms > 0) {
      doing = 'waiting for the first tap';
      qoe.first_tap_wait_ms = await probe.firstTap(q.tap_wait_ms);
      event('taps', { first_tap_wait_ms: qoe.first_tap_wait_ms });
      doing = 'window';
    }
    const frames = new FrameWindow(LONG_FRAME_MS);
    frames.start();
    const w0 = performance.now();
    for (let r = 0; r < q.rounds; r++) {
      for (const name of TASKS) {
        const t = await workload.run(name);
        qoe.tasks.push({ name, round: r, ms: round(t.ms, 3) });
        await sleep(q.gap_ms);
      }
      event('progress', { round: r + 1 });
    }
    const w1 = performance.now();
    probe.armed = false;
    qoe.frames = frames.stop();
    qoe.window_ms = round(w1 - w0, 3);
    if (engine) {
      doing = 'stopping the model';
      const done = await engine.stop();
      const inWindow = done.latencies.filter((_, i) => done.starts[i] >= w0 && done.starts[i] + done.latencies[i] <= w1);
      qoe.inference_ms = inWindow;
      qoe.inferences = inWindow.length;
      qoe.inferences_per_s = round((inWindow.length * 1000) / (w1 - w0), 4);
      Object.assign(result, { backend: done.info.backend, threads: done.info.threads, gpu: done.info.gpu,
                              versions: done.info.versions });
      if (done.info.backend !== cfg.backend && done.info.backend !== `${cfg.backend}-partial`) {
        throw new CellError('backend_fallback', `asked for ${cfg.backend}, ${cfg.runtime} ran on ${done.info.backend}`);
      }
    } else {
      Object.assign(result, { backend: cfg.backend, threads: cfg.threads });   // nothing loaded: the cell's own
    }
    await nextFrame();   // the last tap's paint
    qoe.taps = probe.taps;
    qoe.event_timing = probe.timing;
    qoe.event_timing_supported = probe.eventTiming;
    result.qoe = qoe;
    result.status = 'ok';
    setStatus('posting');
    const reply = await postResult(result);
    setStatus(reply.ok ? 'done' : `rejected: ${reply.reason}`);
  } catch (e) {
    const error = errorInfo(e);
    log(`${error.kind}: ${error.message}`);
    Object.assign(result, { status: 'error', qoe: null, error: { kind: error.kind, message: `${error.message} (during ${doing})` } });
    setStatus(`error: ${error.kind}`);
    await postResult(result);
  }
}

run().catch((e) => { setStatus(`page bug: ${e.message}`); log(String(e.stack || e)); });
