// Run a TF.js graph model once in Node on the cpu and wasm backends (no browser needed).
// Usage: node tfjs_check.js NODE_MODULES_DIR MODEL_JSON REQUEST_JSON
// REQUEST_JSON: {"backends": [...], "inputs": [{"name", "path", "shape", "dtype"}], "outputs": [names]}
// Prints one JSON line: {"results": {backend: {"ok": true, "outputs": [[...flat...]]} | {"ok": false, "error"}}}
'use strict';
const fs = require('fs');
const path = require('path');
const [modulesDir, modelJson, requestJson] = process.argv.slice(2);
const req = (m) => require(path.join(modulesDir, m));

async function main() {
  const tf = req('@tensorflow/tfjs-core');
  req('@tensorflow/tfjs-backend-cpu');
  const wasm = req('@tensorflow/tfjs-backend-wasm');
  const converter = req('@tensorflow/tfjs-converter');
  const spec = JSON.parse(fs.readFileSync(requestJson, 'utf8'));
  const mj = JSON.parse(fs.readFileSync(modelJson, 'utf8'));
  const dir = path.dirname(modelJson);
  const buffers = [];
  const specs = [];
  for (const group of mj.weightsManifest) {
    for (const p of group.paths) buffers.push(fs.readFileSync(path.join(dir, p)));
    specs.push(...group.weights);
  }
  const all = Buffer.concat(buffers);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  const handler = {
    load: async () => ({
      modelTopology: mj.modelTopology, format: mj.format, generatedBy: mj.generatedBy,
      convertedBy: mj.convertedBy, signature: mj.signature, userDefinedMetadata: mj.userDefinedMetadata,
      weightSpecs: specs, weightData,
    }),
  };
  const wasmDir = path.join(modulesDir, '@tensorflow/tfjs-backend-wasm/dist') + path.sep;
  wasm.setWasmPaths(wasmDir);
  const results = {};
  for (const backend of spec.backends) {
    try {
      if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} failed to initialize`);
      await tf.ready();
      if (tf.getBackend() !== backend) throw new Error(`backend fell back to ${tf.getBackend()}`);
      const model = await converter.loadGraphModel(handler);
      const feeds = {};
      for (const inp of spec.inputs) {
        const b = fs.readFileSync(inp.path);
        const ab = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
        const arr = inp.dtype === 'int32' ? new Int32Array(ab) : new Float32Array(ab);
        feeds[inp.name] = tf.tensor(arr, inp.shape, inp.dtype);
      }
      let outs = await model.executeAsync(feeds, spec.outputs);
      if (!Array.isArray(outs)) outs = [outs];
      const flat = [];
      for (const o of outs) flat.push(Array.from(await o.data()));
      tf.dispose(outs);
      tf.dispose(Object.values(feeds));
      model.dispose();
      results[backend] = { ok: true, outputs: flat };
    } catch (e) {
      results[backend] = { ok: false, error: String((e && e.message) || e).split('\n')[0].slice(0, 400) };
    }
  }
  process.stdout.write(JSON.stringify({ results }) + '\n');
}
main().catch((e) => { process.stderr.write(String(e && e.stack || e) + '\n'); process.exit(1); });
