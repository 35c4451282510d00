// ONNX Runtime Web adapter: the wasm execution provider, or webgpu.  The session is created
// with the requested provider ONLY, so ORT cannot silently pick another one.

const VENDOR = '/vendor/ort/';

export const PACKAGES = ['onnxruntime-web'];

export async function load(cfg, env) {
  await env.loadScript(cfg.backend === 'webgpu' ? `${VENDOR}ort.webgpu.min.js` : `${VENDOR}ort.wasm.min.js`);
}

export async function setup(cfg, env, inputs) {
  const { CellError } = env;
  const ort = window.ort;
  ort.env.wasm.wasmPaths = VENDOR;
  ort.env.wasm.numThreads = cfg.threads;
  ort.env.wasm.proxy = false;
  ort.env.logLevel = 'error';
  if (cfg.backend === 'webgpu' && !navigator.gpu) {
    throw new CellError('backend_fallback', 'webgpu requested but navigator.gpu is missing (no WebGPU in this browser)');
  }
  let session;
  try {
    session = await ort.InferenceSession.create(cfg.model.url, {
      executionProviders: [cfg.backend], graphOptimizationLevel: 'all',
    });
  } catch (e) {
    const msg = String((e && e.message) || e);
    let kind = 'model_load';
    if (/backend|execution provider|webgpu|adapter/i.test(msg)) kind = 'backend_fallback';
    else if (/not implemented|could not find an implementation|unsupported/i.test(msg)) kind = 'unsupported_op';
    throw new CellError(kind, `onnxruntime-web (${cfg.backend}) could not create a session: ${msg}`);
  }
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
  return {
    async infer() {
      const res = await session.run(feeds, outNames);
      const values = [];
      for (const n of outNames) {
        const t = res[n];
        values.push(t.location === 'cpu' || t.location === undefined ? t.data.slice() : await t.getData(true));
      }
      return values;
    },
    check() { if (lost) throw new CellError('context_lost', lost); },
    async info() {
      let gpu = null;
      if (cfg.backend === 'webgpu') {
        let adapter = null;
        try { adapter = await ort.env.webgpu.adapter; } catch (e) { adapter = null; }
        gpu = await env.gpuAdapterInfo(adapter || null);
      }
      const wasm = env.wasmFilesLoaded().filter((f) => f.startsWith('ort-wasm'));
      return {
        backend: cfg.backend,   // the only provider the session was allowed to use
        threads: cfg.backend === 'wasm' ? ort.env.wasm.numThreads : null,
        gpu,
        versions: { 'onnxruntime-web': String((ort.env.versions && (ort.env.versions.web || ort.env.versions.common)) || '') },
        extra: { wasm_binary: wasm[0] || null, execution_providers: [cfg.backend] },
      };
    },
    dispose() {
      session.release().catch(() => {});
    },
  };
}
