// The model side of a QoE cell, the same on the main thread (qoe.js) and in the Web Worker
// (qoe_worker.js): load the runtime through its adapter (pages/adapters/<runtime>.js), set the
// model up, infer once, then infer back to back, yielding a task between inferences as an app
// would, until told to stop.  `block_ms > 0` (a test knob) replaces the model with a busy loop
// of that length: a "runtime" whose cost is known.

import {
  CellError, loadScript, fetchBytes, glInfo, gpuAdapterInfo, wasmFilesLoaded, prod, webnnCheck, captureConsole,
  loadInputs, vendorVersions, round, yieldTask,
} from './protocol.js';

function busy(ms) {
  const end = performance.now() + ms;
  let x = 0;
  while (performance.now() < end) x += 1;
  return x;
}

export class Inferer {
  constructor(cfg, log) {
    this.cfg = cfg;
    this.q = cfg.qoe;
    this.log = log || (() => {});
    this.runner = null;
    this.adapter = null;
    this.stopAsked = false;
    this.latencies = [];
    this.starts = [];
  }

  async prepare() {
    // {setup_ms, first_inference_ms}: runtime + model load, then one inference
    const cfg = this.cfg;
    const t0 = performance.now();
    if (this.q.block_ms > 0) {
      this.runner = {
        infer: async () => [busy(this.q.block_ms)],
        info: async () => ({ backend: cfg.backend, threads: 1, gpu: null, versions: {} }),
        dispose: () => {},
      };
    } else {
      this.adapter = await import(`/adapters/${cfg.runtime}.js`);
      const env = { CellError, loadScript, fetchBytes, glInfo, gpuAdapterInfo, wasmFilesLoaded, log: this.log, prod,
                    webnnCheck, captureConsole };
      await this.adapter.load(cfg, env);
      const inputs = await loadInputs(cfg);
      this.runner = await this.adapter.setup(cfg, env, inputs);
    }
    const setup = performance.now() - t0;
    const t1 = performance.now();
    await this.runner.infer();
    return { setup_ms: round(setup), first_inference_ms: round(performance.now() - t1) };
  }

  async loop() {
    // back to back until stop(); every latency with its start (ms, performance.now() of this realm)
    this.stopAsked = false;
    while (!this.stopAsked) {
      const a = performance.now();
      await this.runner.infer();
      const b = performance.now();
      this.latencies.push(round(b - a));
      this.starts.push(a);
      await yieldTask();
    }
  }

  async info() {
    const info = await this.runner.info();
    const versions = this.adapter ? { ...(await vendorVersions(this.adapter.PACKAGES || [])), ...(info.versions || {}) } : {};
    return { backend: info.backend, threads: info.threads, gpu: info.gpu || null, versions,
             wasm_build: info.wasm_build, wasm_files: wasmFilesLoaded() };
  }

  dispose() {
    if (this.runner) {
      try { this.runner.dispose(); } catch (e) { /* ignore */ }
    }
  }
}

export function errorInfo(e) {
  if (e instanceof CellError || (e && typeof e.kind === 'string')) return { kind: e.kind, message: String(e.message) };
  return { kind: 'exception', message: String((e && (e.message || e)) || 'unknown error') };
}
