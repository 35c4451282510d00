// mwi capability probe: what this browser offers the runtimes, posted once as JSON.
// The schema is checked on the host by mobile_webinfer/web/capabilities.py (parse_capabilities).

const params = new URLSearchParams(location.search);
const PROBE = params.get('probe') || '';
const TOKEN = params.get('token') || '';
const SOFTWARE_RE = /swiftshader|llvmpipe|softpipe|software|basic render|lavapipe/i;
window.__mwi_caps = { done: false, posted: null };

function setStatus(t) {
  const el = document.getElementById('status');
  if (el) el.textContent = t;
  document.title = `mwi caps: ${t}`;
}

function validate(bytes) {
  try { return WebAssembly.validate(new Uint8Array(bytes)); } catch (e) { return false; }
}

const HEADER = [0, 97, 115, 109, 1, 0, 0, 0];
// () -> v128 { v128.const 0; i8x16.popcnt }: validates only with wasm SIMD.
const SIMD = [...HEADER, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11];
// () -> v128 { v128.const 0 (16 bytes); i32x4.relaxed_trunc_f32x4_s }: relaxed SIMD.
const RELAXED_SIMD = [...HEADER, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 25, 1, 23, 0, 253, 12,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 253, 129, 2, 11];
// A shared memory (min 1, max 1): validates only with wasm threads.
const THREADS = [...HEADER, 5, 4, 1, 3, 1, 1];
// A 64-bit memory (min 1): memory64.
const MEMORY64 = [...HEADER, 5, 3, 1, 4, 1];

function errText(e) {
  if (!e) return 'unknown error';
  return `${e.name ? `${e.name}: ` : ''}${e.message || e}`;
}

function webgl2() {
  try {
    const canvas = document.createElement('canvas');
    const gl = canvas.getContext('webgl2');
    if (!gl) return { available: false, vendor: null, renderer: null, software: null, reason: 'getContext("webgl2") returned null' };
    const ext = gl.getExtension('WEBGL_debug_renderer_info');
    const vendor = String(ext ? gl.getParameter(ext.UNMASKED_VENDOR_WEBGL) : gl.getParameter(gl.VENDOR));
    const renderer = String(ext ? gl.getParameter(ext.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER));
    const out = { available: true, vendor, renderer, software: SOFTWARE_RE.test(`${vendor} ${renderer}`),
                  max_texture_size: gl.getParameter(gl.MAX_TEXTURE_SIZE), reason: null };
    const lose = gl.getExtension('WEBGL_lose_context');
    if (lose) lose.loseContext();
    return out;
  } catch (e) {
    return { available: false, vendor: null, renderer: null, software: null, reason: errText(e) };
  }
}

async function webgpu() {
  const none = (reason) => ({ available: false, adapter: null, features: [], limits: {}, shader_f16: false,
                              timestamp_query: false, reason });
  if (!navigator.gpu) return none('navigator.gpu is missing');
  let adapter;
  try {
    adapter = await navigator.gpu.requestAdapter();
  } catch (e) {
    return none(`requestAdapter failed: ${errText(e)}`);
  }
  if (!adapter) return none('requestAdapter() returned null (no usable GPU adapter)');
  const info = adapter.info || {};
  const features = [...adapter.features].map(String).sort();
  const limits = {};
  for (const k in adapter.limits) {
    const v = adapter.limits[k];
    if (typeof v === 'number') limits[k] = v;
  }
  const fallback = Boolean(info.isFallbackAdapter || adapter.isFallbackAdapter);
  const a = { vendor: info.vendor || '', architecture: info.architecture || '', device: info.device || '',
              description: info.description || '', is_fallback_adapter: fallback };
  a.software = fallback || SOFTWARE_RE.test(`${a.vendor} ${a.architecture} ${a.device} ${a.description}`);
  return { available: true, adapter: a, features, limits, shader_f16: features.includes('shader-f16'),
           timestamp_query: features.includes('timestamp-query'), reason: null };
}

async function webnn() {
  const devices = {};
  if (!('ml' in navigator) || !navigator.ml) {
    return { available: false, devices, reason: 'navigator.ml is missing (Chromium: --enable-features=WebMachineLearningNeuralNetwork)' };
  }
  for (const deviceType of ['cpu', 'gpu', 'npu']) {
    try {
      const ctx = await navigator.ml.createContext({ deviceType });
      devices[deviceType] = { ok: true, reason: null };
      if (ctx && typeof ctx.destroy === 'function') ctx.destroy();
    } catch (e) {
      devices[deviceType] = { ok: false, reason: errText(e) };
    }
  }
  return { available: true, devices, reason: null };
}

async function probe() {
  const wasmThreads = validate(THREADS);
  return {
    schema_version: 1,
    user_agent: navigator.userAgent,
    platform: (navigator.userAgentData && navigator.userAgentData.platform) || navigator.platform || null,
    hardware_concurrency: navigator.hardwareConcurrency || null,
    device_memory_gb: typeof navigator.deviceMemory === 'number' ? navigator.deviceMemory : null,
    secure_context: self.isSecureContext === true,
    cross_origin_isolated: self.crossOriginIsolated === true,
    shared_array_buffer: typeof SharedArrayBuffer === 'function',
    wasm: {
      simd: validate(SIMD), relaxed_simd: validate(RELAXED_SIMD), threads: wasmThreads,
      jspi: typeof WebAssembly === 'object' && 'Suspending' in WebAssembly, memory64: validate(MEMORY64),
    },
    webgl2: webgl2(),
    webgpu: await webgpu(),
    webnn: await webnn(),
  };
}

async function main() {
  if (!PROBE || !TOKEN) { setStatus('error: the URL needs ?probe=&token='); return; }
  setStatus('probing');
  let caps;
  try {
    caps = await probe();
  } catch (e) {
    caps = { schema_version: 1, error: errText(e) };
  }
  document.getElementById('out').textContent = JSON.stringify(caps, null, 1);
  const resp = await fetch(`/api/probe/${encodeURIComponent(PROBE)}/result`, {
    method: 'POST', cache: 'no-store', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ token: TOKEN, ...caps }),
  });
  window.__mwi_caps = { done: true, posted: resp.ok };
  setStatus(resp.ok ? 'done' : `rejected: HTTP ${resp.status}`);
}

main().catch((e) => setStatus(`probe bug: ${e.message}`));
