// TFLite-web adapter: @tensorflow/tfjs-tflite (TFLite's C++ runtime compiled to wasm, XNNPACK).
// Inference goes through the model runner directly: copy the inputs into TFLite's input
// buffers, infer(), copy the outputs out (the read-back) -- all inside the timed region.

const VENDOR = '/vendor/tflite/';

export const PACKAGES = ['@tensorflow/tfjs-tflite', '@tensorflow/tfjs'];

export async function load(cfg, env) {
  await env.loadScript('/vendor/tfjs/tf.min.js');   // tfjs-tflite's UMD bundle needs tfjs-core as `tf`
  await env.loadScript(`${VENDOR}tf-tflite.min.js`);
}

export async function setup(cfg, env, inputs) {
  const { CellError } = env;
  const tflite = globalThis.tflite;   // globalThis: the page or a Web Worker (mwi qoe)
  tflite.setWasmPath(VENDOR);
  const features = await tflite.getWasmFeatures();
  let model;
  try {
    model = await tflite.loadTFLiteModel(cfg.model.url, { numThreads: cfg.threads, enableProfiling: false });
  } catch (e) {
    const msg = String((e && e.message) || e);
    const kind = /op|opcode|not supported|unsupported/i.test(msg) ? 'unsupported_op' : 'model_load';
    throw new CellError(kind, `tfjs-tflite could not load ${cfg.model.url}: ${msg}`);
  }
  const runner = model.modelRunner;
  const modelInputs = runner.getInputs();
  const io = cfg.model.io_names || {};
  if (modelInputs.length !== inputs.length) {
    throw new CellError('input', `the model takes ${modelInputs.length} inputs, the manifest gives ${inputs.length}`);
  }
  // Map canonical inputs to TFLite tensors by name when the manifest names them, else by order.
  const order = inputs.map((t, i) => {
    const want = io.inputs && io.inputs[i];
    const j = want ? modelInputs.findIndex((m) => m.name === want) : i;
    if (j < 0) throw new CellError('input', `no TFLite input named ${want}`);
    const buf = modelInputs[j].data();
    if (buf.length !== t.data.length) {
      throw new CellError('input', `input ${t.name}: TFLite expects ${buf.length} values, got ${t.data.length}`);
    }
    return j;
  });
  const outInfos = runner.getOutputs();
  const outOrder = (io.outputs && io.outputs.length)
    ? io.outputs.map((n) => {
      const j = outInfos.findIndex((m) => m.name === n);
      if (j < 0) throw new CellError('exception', `no TFLite output named ${n}`);
      return j;
    })
    : outInfos.map((_, j) => j);

  return {
    async infer() {
      // data() gives a fresh view of the wasm heap each time (safe if the heap grew).
      for (let i = 0; i < inputs.length; i++) modelInputs[order[i]].data().set(inputs[i].data);
      if (!runner.infer()) throw new CellError('exception', 'TFLite infer() failed');
      return outOrder.map((j) => outInfos[j].data().slice());   // copy out of the wasm heap
    },
    check() {},
    async info() {
      const wasm = env.wasmFilesLoaded().filter((f) => f.startsWith('tflite_web_api'));
      const threaded = wasm.some((f) => /threaded/.test(f));
      return {
        backend: 'wasm',
        // Without wasm threads the runtime runs on one thread whatever numThreads says.
        threads: threaded && features.multiThreading ? cfg.threads : 1,
        gpu: null,
        versions: { 'tfjs-core': String((globalThis.tf && globalThis.tf.version_core) || '') },
        extra: { wasm_binary: wasm[0] || null, wasm_features: { simd: features.simd, multi_threading: features.multiThreading },
                 simd_in_effect: wasm.length ? /simd/.test(wasm[0]) : null },
      };
    },
    dispose() {
      try { runner.cleanUp(); } catch (e) { /* ignore */ }
    },
  };
}
