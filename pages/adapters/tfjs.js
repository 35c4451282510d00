// TF.js adapter: graph models on the wasm, webgl, webgpu or cpu backend.
// The page asks for exactly one backend; if tfjs cannot run on it, that is an error
// (kind backend_fallback), never a measurement on whatever tfjs picked instead.

const VENDOR = '/vendor/tfjs/';

export const PACKAGES = ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-backend-webgpu'];

// TF.js wasm caps XNNPACK's threads at half of navigator.hardwareConcurrency (1 on a 2-core
// host even when 2 are asked).  Under thread_policy "exact" the harness shows it this many
// cores before the backend loads, so the threads asked are the threads in effect.
export function concurrencyNeeded(cfg) {
  return cfg.backend === 'wasm' ? 2 * cfg.threads : null;
}

export async function load(cfg, env) {
  await env.loadScript(`${VENDOR}tf.min.js`);
  if (cfg.backend === 'wasm') await env.loadScript(`${VENDOR}tf-backend-wasm.min.js`);
  if (cfg.backend === 'webgpu') await env.loadScript(`${VENDOR}tf-backend-webgpu.min.js`);
}

export async function setup(cfg, env, inputs) {
  const tf = globalThis.tf;   // globalThis: the page or a Web Worker (mwi qoe)
  const { CellError } = env;
  if (cfg.backend === 'wasm') {
    tf.wasm.setWasmPaths(VENDOR);
    tf.wasm.setThreadsCount(cfg.threads);   // before the backend initialises
  }
  let ok = false;
  try {
    ok = await tf.setBackend(cfg.backend);
  } catch (e) {
    throw new CellError('backend_fallback', `tfjs could not initialise ${cfg.backend}: ${e.message}`);
  }
  if (!ok) throw new CellError('backend_fallback', `tfjs could not initialise ${cfg.backend} (it would fall back to another backend)`);
  await tf.ready();
  if (tf.getBackend() !== cfg.backend) {
    throw new CellError('backend_fallback', `asked for ${cfg.backend}, tfjs is on ${tf.getBackend()}`);
  }
  let lost = null;
  const backend = tf.backend();
  if (cfg.backend === 'webgl' && backend.gpgpu && backend.gpgpu.gl) {
    const canvas = backend.gpgpu.gl.canvas;
    if (canvas && canvas.addEventListener) {
      canvas.addEventListener('webglcontextlost', () => { lost = 'WebGL context lost'; });
    }
  }
  if (cfg.backend === 'webgpu' && backend.device && backend.device.lost) {
    backend.device.lost.then((info) => { lost = `WebGPU device lost: ${info && info.message}`; });
  }

  let model;
  try {
    model = await tf.loadGraphModel(cfg.model.url);
  } catch (e) {
    throw new CellError('model_load', `tfjs could not load ${cfg.model.url}: ${e.message}`);
  }
  const io = cfg.model.io_names || {};
  const inNames = io.inputs && io.inputs.length ? io.inputs : model.inputs.map((t) => t.name);
  const outNames = io.outputs && io.outputs.length ? io.outputs : model.outputs.map((t) => t.name);
  if (inNames.length !== inputs.length) {
    throw new CellError('input', `the model takes ${inNames.length} inputs, the manifest gives ${inputs.length}`);
  }
  const feed = {};
  inputs.forEach((t, i) => {
    const dtype = t.dtype === 'float32' || t.dtype === 'int32' || t.dtype === 'bool' ? t.dtype : 'int32';
    const data = t.data instanceof BigInt64Array ? Int32Array.from(t.data, Number) : t.data;
    feed[inNames[i]] = tf.tensor(data, t.shape, dtype);
  });
  let useAsync = false;

  const run = () => (useAsync ? model.executeAsync(feed, outNames) : model.execute(feed, outNames));
  return {
    async infer() {
      let outs;
      try {
        outs = await run();
      } catch (e) {
        if (!useAsync && /executeAsync/.test(String(e.message))) {
          useAsync = true;   // dynamic ops (control flow): only the async executor can run them
          outs = await run();
        } else {
          throw e;
        }
      }
      const list = Array.isArray(outs) ? outs : [outs];
      const values = [];
      for (const t of list) values.push(await t.data());   // read back inside the timed region
      tf.dispose(list);
      return values;
    },
    // tf.profile over `n` inferences (outputs read back inside, as in infer): per kernel its name and
    // kernelTimeMs (wasm / cpu: wall time around the kernel; webgl / webgpu: GPU timer queries), and
    // per run the wall time of the whole profiled inference (tf.profile times kernels only), so the
    // runtime's overhead comes from the same runs as its kernels
    async profile(n) {
      const runs = [];
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        const p = await tf.profile(async () => {
          const outs = await run();
          const list = Array.isArray(outs) ? outs : [outs];
          for (const t of list) await t.data();
          tf.dispose(list);
        });
        const wallMs = performance.now() - t0;
        runs.push({
          wallMs, newBytes: p.newBytes, peakBytes: p.peakBytes,
          kernels: p.kernels.map((k) => ({ name: k.name, kernelTimeMs: k.kernelTimeMs, extraInfo: k.extraInfo,
                                           inputShapes: k.inputShapes, outputShapes: k.outputShapes })),
        });
      }
      return { source: 'tfjs', runs };
    },
    check() {
      if (lost) throw new CellError('gpu-context-lost', lost);
      if (tf.getBackend() !== cfg.backend) {
        throw new CellError('backend_fallback', `tfjs switched from ${cfg.backend} to ${tf.getBackend()}`);
      }
    },
    async info() {
      const name = tf.getBackend();
      let threads = null;
      if (name === 'wasm') threads = tf.wasm.getThreadsCount();
      else if (name === 'cpu') threads = 1;   // plain JS on the main thread
      let gpu = null;
      if (name === 'webgl') gpu = env.glInfo(tf.backend().gpgpu.gl);
      if (name === 'webgpu') gpu = await env.gpuAdapterInfo(null);
      const versions = {};
      for (const [k, v] of Object.entries(tf.version || {})) versions[k] = String(v);
      if (tf.wasm && tf.wasm.version_wasm) versions['tfjs-backend-wasm'] = String(tf.wasm.version_wasm);
      const wasm = env.wasmFilesLoaded().filter((f) => f.startsWith('tfjs-backend-wasm'));
      return {
        backend: name, threads, gpu, versions,
        extra: { wasm_binary: wasm[0] || null, executor: useAsync ? 'executeAsync' : 'execute',
                 simd_in_effect: wasm.length ? /simd/.test(wasm[0]) : null },
      };
    },
    dispose() {
      tf.dispose(Object.values(feed));
      model.dispose();
    },
  };
}
