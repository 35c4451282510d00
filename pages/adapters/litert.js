// LiteRT.js adapter (@litertjs/core): the same .tflite file native LiteRT runs, on wasm
// (XNNPACK), webgpu (ML Drift) or webnn.  ESM only: harness.html maps the bare import
// "@litertjs/wasm-utils" to /vendor/litert-wasm-utils/index.js with an import map.
//
// Which of its four wasm builds loads (LiteRT.js picks from the browser's features):
//   wasm, threads == 1            -> default build (relaxed SIMD), or compat without relaxed SIMD
//   wasm, threads > 1, isolated   -> threaded build; XNNPACK gets numThreads = threads (capped at
//                                    the pthread pool, which is navigator.hardwareConcurrency)
//   webgpu / webnn                -> JSPI build where JSPI exists (ops WebGPU cannot run stay on
//                                    wasm: reported as backend "webgpu-partial"); without JSPI
//                                    LiteRT.js silently recompiles the whole model for wasm,
//                                    which this page reports as a backend_fallback error.
// WebNN cells first ask navigator.ml.createContext({deviceType}) themselves, so that a
// browser without WebNN gives its own reason (error kind "unsupported").
// Every LiteRT tensor is deleted by hand (inputs at dispose, outputs after each read-back).

const VENDOR = '/vendor/litert/';

export const PROFILER_MISSING = '@litertjs/core 2.5.3 exposes no per-operator profiler (no profiling option or binding in its JS API)';
export const PACKAGES = ['@litertjs/core', '@litertjs/wasm-utils'];

let litert = null;

export async function load(cfg, env) {
  litert = await import(`${VENDOR}index.js`);
}

// "Replacing 60 out of 66 node(s) with delegate (...) node, yielding 3 partitions" (TFLite's
// delegate log line, printed by the wasm runtime when a delegate takes part of a graph).
const REPLACING_RE = /Replacing (\d+) out of (\d+) node\(s\) with delegate \(([^)]*)\) node, yielding (\d+) partitions/;

export function delegationFromLog(lines) {
  for (const line of lines) {
    const m = REPLACING_RE.exec(line);
    if (m) {
      return { delegated_nodes: Number(m[1]), total_nodes: Number(m[2]), partitions: Number(m[4]),
               delegate: m[3], source: 'litert log' };
    }
  }
  return null;
}

function wasmBuild(files) {
  const f = files.find((x) => x.startsWith('litert_wasm')) || '';
  if (!f) return null;
  if (f.includes('_threaded')) return 'threaded';
  if (f.includes('_jspi')) return 'jspi';
  if (f.includes('_compat')) return 'compat';
  return 'simd';   // the default build: relaxed SIMD, single thread
}

export async function setup(cfg, env, inputs) {
  const { CellError } = env;
  const accel = cfg.backend;
  const features = {};
  for (const f of ['relaxedSimd', 'threads', 'jspi', 'webnn']) {
    try { features[f] = await litert.supportsFeature(f); } catch (e) { features[f] = false; }
  }
  const isolated = self.crossOriginIsolated === true;
  const hc = navigator.hardwareConcurrency || 1;
  let threaded = false;
  const loadOpts = {};
  if (accel === 'wasm') {
    threaded = cfg.threads > 1 && isolated && features.threads && features.relaxedSimd;
    if (threaded) loadOpts.threads = true;
  } else if (features.jspi) {
    loadOpts.jspi = true;   // partitioning (webgpu) and WebNN need the JSPI build
  }
  if (accel === 'webnn') {
    if (!features.jspi) {
      throw new CellError('unsupported', 'LiteRT.js runs WebNN only on its JSPI build; this browser has no JSPI (WebAssembly.Suspending)');
    }
    const check = await env.webnnCheck(cfg.webnn_device);
    if (!check.ok) throw new CellError('unsupported', check.reason);
  }
  if (accel === 'webgpu' && !navigator.gpu) {
    throw new CellError('backend_fallback', 'webgpu requested but navigator.gpu is missing (no WebGPU in this browser)');
  }
  try {
    await litert.loadLiteRt(VENDOR, loadOpts);
  } catch (e) {
    throw new CellError('backend_unavailable', `LiteRT.js could not load its wasm (${JSON.stringify(loadOpts)}): ${e.message || e}`);
  }
  const core = litert.getGlobalLiteRt();
  let environment;
  try {
    environment = accel === 'webgpu'
      ? await litert.Environment.create()                       // LiteRT's own WebGPU device
      : await litert.Environment.create({ webGpuDevice: null });   // never start a GPU for wasm / webnn
  } catch (e) {
    throw new CellError('backend_fallback', `LiteRT.js could not create its environment: ${e.message || e}`);
  }
  if (accel === 'webgpu' && !environment.webGpuDevice) {
    throw new CellError('backend_fallback', 'LiteRT.js found no WebGPU device (requestAdapter/requestDevice failed)');
  }
  let lost = null;
  if (environment.webGpuDevice && environment.webGpuDevice.lost) {
    environment.webGpuDevice.lost.then((i) => { lost = `WebGPU device lost: ${i && i.message}`; });
  }
  // Threads: the threaded build's pthread pool holds navigator.hardwareConcurrency workers.
  const threads = threaded ? Math.min(cfg.threads, hc) : 1;
  const options = { accelerator: accel, environment, cpuOptions: { numThreads: threads } };
  if (accel === 'webnn') options.webNNOptions = { devicePreference: cfg.webnn_device };
  let model;
  const logLines = [];
  try {
    model = await env.captureConsole(logLines, () => litert.loadAndCompile(cfg.model.url, options));
  } catch (e) {
    const msg = String((e && e.message) || e);
    const kind = /op|opcode|not supported|unsupported/i.test(msg) ? 'unsupported_op' : 'model_load';
    throw new CellError(accel === 'webnn' && /webnn|MLContext|navigator\.ml/i.test(msg) ? 'unsupported' : kind,
                        `LiteRT.js (${accel}) could not load ${cfg.model.url}: ${msg}`);
  }
  const compiledFor = model.options && model.options.accelerator;
  const fully = accel === 'wasm' ? true : Boolean(model.isFullyAccelerated);
  let delegation = delegationFromLog(logLines);
  let backend = accel;
  if (compiledFor && compiledFor !== accel) {
    // LiteRT.js recompiled the whole model for wasm (non-JSPI browser): a silent fallback.
    model.delete();
    throw new CellError('backend_fallback', `LiteRT.js could not run the model fully on ${accel} and silently recompiled it for ${compiledFor}`
                        + (logLines.length ? ` (${logLines.filter((l) => /LiteRT|delegat/i.test(l)).slice(-1)[0] || ''})` : ''));
  }
  if (accel !== 'wasm' && !fully) backend = `${accel}-partial`;   // some ops run on wasm: never shown as the accelerator
  if (!delegation && accel !== 'wasm') {
    // LiteRT.js gives no node counts, only isFullyAccelerated: one partition when fully on it.
    delegation = { delegated_nodes: null, total_nodes: null, partitions: fully ? 1 : null, source: 'isFullyAccelerated' };
  }

  const inDetails = model.getInputDetails();
  const outDetails = model.getOutputDetails();
  if (inDetails.length !== inputs.length) {
    throw new CellError('input', `the model takes ${inDetails.length} inputs, the manifest gives ${inputs.length}`);
  }
  if (outDetails.length !== cfg.model.outputs.length) {
    throw new CellError('exception', `the model gives ${outDetails.length} outputs, the manifest declares ${cfg.model.outputs.length}`);
  }
  const io = cfg.model.io_names || {};
  const byName = (details, names) => {
    // Signature names when the manifest's io names match them all, else the model's order.
    if (!names || !names.length) return details.map((_, i) => i);
    const idx = names.map((n) => details.findIndex((d) => d.name === n || `serving_default_${d.name}:0` === n));
    return idx.every((i) => i >= 0) && new Set(idx).size === idx.length ? idx : details.map((_, i) => i);
  };
  const inOrder = byName(inDetails, io.inputs);
  const outOrder = byName(outDetails, io.outputs);
  const tensors = new Array(inDetails.length);
  inputs.forEach((t, i) => {
    const d = inDetails[inOrder[i]];
    if (!['float32', 'int32', 'uint8'].includes(t.dtype)) {
      throw new CellError('input', `input ${t.name}: LiteRT.js takes float32, int32 or uint8 tensors, not ${t.dtype}`);
    }
    if (d.dtype !== t.dtype) throw new CellError('input', `input ${t.name}: the model wants ${d.dtype}, the manifest gives ${t.dtype}`);
    tensors[inOrder[i]] = new litert.Tensor(t.data, t.shape, environment);
  });

  return {
    async infer() {
      const outs = await model.run(tensors);
      const values = [];
      try {
        for (const j of outOrder) {
          const t = outs[j];
          if (t.accelerator === 'wasm') {
            values.push(t.toTypedArray().slice());
          } else {
            const host = await t.copyTo('wasm');   // the read-back, inside the timed region
            values.push(host.toTypedArray().slice());
            host.delete();
          }
        }
      } finally {
        for (const t of outs) t.delete();
      }
      return values;
    },
    // No per-operator profiler: @litertjs/core 2.5.3's API (index.d.ts: loadAndCompile with
    // accelerator / gpuOptions / webNNOptions, CompiledModel.run) has no profiling option; its
    // wasm builds contain TFLite's profiler classes but bind none of them to JS.
    async profile() {
      throw new CellError('unsupported', PROFILER_MISSING);
    },
    check() { if (lost) throw new CellError('gpu-context-lost', lost); },
    async info() {
      const files = env.wasmFilesLoaded().filter((f) => f.startsWith('litert_wasm'));
      const gpu = accel === 'webgpu' ? await env.gpuAdapterInfo(null) : null;
      let defaultThreads = null;
      try { defaultThreads = core.liteRtWasm.getThreadCount(); } catch (e) { /* older builds */ }
      return {
        backend, threads: accel === 'wasm' ? threads : null, gpu,
        versions: {},
        wasm_build: wasmBuild(files),
        fully_accelerated: accel === 'wasm' ? null : fully,
        delegation: accel === 'wasm' ? null : delegation,
        extra: {
          wasm_binary: files[0] || null, compiled_for: compiledFor || accel,
          features, load_options: loadOpts, pthread_pool: threaded ? hc : null,
          litert_default_threads: defaultThreads,
          webnn_device: accel === 'webnn' ? cfg.webnn_device : null,
          log_tail: logLines.slice(-5),
        },
      };
    },
    dispose() {
      for (const t of tensors) { try { if (t) t.delete(); } catch (e) { /* ignore */ } }
      try { model.delete(); } catch (e) { /* ignore */ }
      try { environment.delete(); } catch (e) { /* ignore */ }
    },
  };
}
