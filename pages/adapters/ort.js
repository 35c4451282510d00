// ONNX Runtime Web adapter: the wasm execution provider, webgpu, or webnn (deviceType from the
// config).  The session is created with the requested provider ONLY, so ORT cannot silently
// pick another one.  For webnn the page first asks navigator.ml.createContext itself, so a
// browser without WebNN gives its own reason (error kind "unsupported"); ORT's log line on how
// many nodes the WebNN EP took becomes the delegation coverage.

const VENDOR = '/vendor/ort/';

export const PACKAGES = ['onnxruntime-web'];

export async function load(cfg, env) {
  await env.loadScript(cfg.backend === 'wasm' ? `${VENDOR}ort.wasm.min.js` : `${VENDOR}ort.webgpu.min.js`);
}

export async function setup(cfg, env, inputs) {
  const { CellError } = env;
  const ort = globalThis.ort;   // globalThis: the page or a Web Worker (mwi qoe)
  ort.env.wasm.wasmPaths = VENDOR;
  ort.env.wasm.numThreads = cfg.threads;
  ort.env.wasm.proxy = false;
  ort.env.logLevel = 'error';
  if (cfg.backend === 'webgpu' && !navigator.gpu) {
    throw new CellError('backend_fallback', 'webgpu requested but navigator.gpu is missing (no WebGPU in this browser)');
  }
  if (cfg.backend === 'webnn') {
    const check = await env.webnnCheck(cfg.webnn_device);
    if (!check.ok) throw new CellError('unsupported', check.reason);
  }
  const ep = cfg.backend === 'webnn' ? { name: 'webnn', deviceType: cfg.webnn_device } : cfg.backend;
  let session;
  const logLines = [];
  // a profiled page load (mwi sweep --profile-ops): the sink must be in place before the first
  // session initialises the wasm module, whose stdout is bound to console.log at that moment
  const sink = cfg.profile_ops ? profileSink() : null;
  try {
    session = await env.captureConsole(logLines, () => ort.InferenceSession.create(cfg.model.url, {
      executionProviders: [ep], graphOptimizationLevel: 'all',
      ...(sink ? { enableProfiling: true } : {}),
      // INFO makes the WebNN EP print its partition / node counts (parsed below).
      ...(cfg.backend === 'webnn' ? { logSeverityLevel: 1 } : {}),
    }));
  } catch (e) {
    const msg = String((e && e.message) || e);
    let kind = 'model_load';
    if (cfg.backend === 'webnn' && /webnn|MLContext|not supported/i.test(msg)) kind = 'unsupported';
    else if (/backend|execution provider|webgpu|adapter/i.test(msg)) kind = 'backend_fallback';
    else if (/not implemented|could not find an implementation|unsupported/i.test(msg)) kind = 'unsupported_op';
    throw new CellError(kind, `onnxruntime-web (${cfg.backend}) could not create a session: ${msg}`);
  }
  const delegation = cfg.backend === 'webnn' ? delegationFromLog(logLines) : null;
  const io = cfg.model.io_names || {};
  const inNames = io.inputs && io.inputs.length ? io.inputs : session.inputNames;
  const outNames = io.outputs && io.outputs.length ? io.outputs : session.outputNames;
  const feeds = {};
  inputs.forEach((t, i) => {
    const type = t.dtype === 'bool' ? 'bool' : t.dtype;
    feeds[inNames[i]] = new ort.Tensor(type, t.data, t.shape);
  });
  let lost = null;
  if (cfg.backend === 'webgpu' && ort.env.webgpu && ort.env.webgpu.device) {
    Promise.resolve(ort.env.webgpu.device).then((d) => d && d.lost && d.lost.then((i) => { lost = `WebGPU device lost: ${i && i.message}`; }));
  }
  let calls = 0;   // session runs so far: the profile's warm-up runs, skipped by the parser
  const infer = async () => {
    calls += 1;
    const res = await session.run(feeds, outNames);
    const values = [];
    for (const n of outNames) {
      const t = res[n];
      values.push(t.location === 'cpu' || t.location === undefined ? t.data.slice() : await t.getData(true));
    }
    return values;
  };
  return {
    infer,
    // ORT Web's own session profiler over `n` inferences (outputs read back, as in infer): the
    // session was created with enableProfiling, so every run is in the trace; endProfiling()
    // prints the chrome-trace events (node name, op_name, dur in us) through the wasm stdout,
    // caught by the sink.  `skip_runs`: the runs before these n (first inference, warm-ups).
    async profile(n) {
      if (!sink) throw new CellError('unsupported', 'the session was not created with profiling on');
      const before = calls;
      for (let i = 0; i < n; i++) await infer();
      session.endProfiling();
      await new Promise((r) => setTimeout(r, 0));
      sink.stop();
      let events;
      try {
        events = JSON.parse(sink.text());
      } catch (e) {
        throw new CellError('exception', `onnxruntime-web printed no readable profile (${sink.lines.length} lines): ${e}`);
      }
      return { source: 'onnxruntime', runs: events, skip_runs: before, profiled_runs: n };
    },
    check() { if (lost) throw new CellError('gpu-context-lost', lost); },
    async info() {
      let gpu = null;
      if (cfg.backend === 'webgpu') {
        let adapter = null;
        try { adapter = await ort.env.webgpu.adapter; } catch (e) { adapter = null; }
        gpu = await env.gpuAdapterInfo(adapter || null);
      }
      const wasm = env.wasmFilesLoaded().filter((f) => f.startsWith('ort-wasm'));
      // WebNN: nodes the EP did not take run on ORT's wasm CPU kernels (a partial delegation).
      const partial = delegation && delegation.total_nodes !== null && delegation.delegated_nodes < delegation.total_nodes;
      return {
        backend: partial ? `${cfg.backend}-partial` : cfg.backend,   // the only provider the session was allowed to use
        delegation,
        fully_accelerated: cfg.backend === 'webnn' ? (delegation && delegation.total_nodes !== null ? !partial : null) : undefined,
        threads: cfg.backend === 'wasm' ? ort.env.wasm.numThreads : null,
        gpu,
        versions: { 'onnxruntime-web': String((ort.env.versions && (ort.env.versions.web || ort.env.versions.common)) || '') },
        extra: { wasm_binary: wasm[0] || null, execution_providers: [cfg.backend],
                 webnn_device: cfg.backend === 'webnn' ? cfg.webnn_device : null },
      };
    },
    dispose() {
      session.release().catch(() => {});
    },
  };
}

// ORT Web's profiler writes its trace with the wasm module's stdout: '[', one event per line
// ('{"cat" : "Node", ... "dur" :123, ... "name" :"<node>_kernel_time", "args" : {"op_name" : ...}},')
// and ']'.  The sink keeps those lines (and keeps them out of the console) until stop().
function profileSink() {
  const lines = [];
  const orig = console.log;
  let on = true;
  console.log = (...args) => {
    const s = args.length === 1 && typeof args[0] === 'string' ? args[0].trim() : null;
    if (on && s !== null && (s === '[' || s === ']' || s.startsWith('{"cat"'))) { lines.push(s); return; }
    orig.apply(console, args);
  };
  return {
    lines,
    stop() { on = false; },
    text() {   // the trace of this session only (a sink sees one profile per page load)
      const start = lines.lastIndexOf('[');
      const body = lines.slice(start + 1).filter((l) => l !== '[' && l !== ']');
      if (start < 0 || !body.length) throw new Error('no trace lines');
      return `[${body.join('\n').replace(/,\s*$/, '')}]`;
    },
  };
}

// ORT's WebNN EP (INFO level): "WebNNExecutionProvider::GetCapability, number of partitions
// supported by WebNN: 2 number of nodes in the graph: 66 number of nodes supported by WebNN: 60"
const WEBNN_RE = /number of partitions supported by WebNN:\s*(\d+)\s*number of nodes in the graph:\s*(\d+)\s*number of nodes supported by WebNN:\s*(\d+)/;

export function delegationFromLog(lines) {
  for (const line of lines) {
    const m = WEBNN_RE.exec(line);
    if (m) {
      return { delegated_nodes: Number(m[3]), total_nodes: Number(m[2]), partitions: Number(m[1]),
               source: 'onnxruntime-web log' };
    }
  }
  return { delegated_nodes: null, total_nodes: null, partitions: null, source: 'not reported' };
}
