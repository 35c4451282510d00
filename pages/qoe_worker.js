// The QoE cell's Web Worker (a classic worker, so that the runtimes' UMD scripts load with
// importScripts): the model infers here, off the main thread.  Messages:
//   page -> worker {type: 'prepare', cfg} | {type: 'start'} | {type: 'stop', window_start, window_end}
//   worker -> page {type: 'ready', setup_ms, first_inference_ms} | {type: 'stopped', ...} | {type: 'error', error}
// Times cross realms on performance.timeOrigin (the worker's clock starts later than the page's).

let inferer = null;
let looping = null;

function fail(e, during, errorInfo) {
  const err = errorInfo ? errorInfo(e) : { kind: 'exception', message: String((e && e.message) || e) };
  self.postMessage({ type: 'error', during, error: err });
}

self.onmessage = async (ev) => {
  const msg = ev.data || {};
  let mod = null;
  try {
    mod = await import('/qoe_infer.js');
  } catch (e) {
    fail(e, 'worker import');
    return;
  }
  try {
    if (msg.type === 'prepare') {
      inferer = new mod.Inferer(msg.cfg, (line) => self.postMessage({ type: 'log', line }));
      const times = await inferer.prepare();
      self.postMessage({ type: 'ready', ...times, time_origin: performance.timeOrigin });
    } else if (msg.type === 'start') {
      looping = inferer.loop().catch((e) => fail(e, 'inference', mod.errorInfo));
    } else if (msg.type === 'stop') {
      inferer.stopAsked = true;
      await looping;
      const info = await inferer.info();
      self.postMessage({ type: 'stopped', latencies: inferer.latencies,
                         starts_abs: inferer.starts.map((t) => t + performance.timeOrigin), info });
      inferer.dispose();
    }
  } catch (e) {
    fail(e, msg.type === 'prepare' ? 'setup' : msg.type, mod.errorInfo);
  }
};
