// The stopping rules of the timed loop and of warm-up, mirrored from mobile_webinfer/stats.py
// (StopRule, WarmupRule; tests/core/test_stopping.py runs this file in node against Python).
//
// CI95 of the median: the distribution-free order-statistic interval X(j)..X(k) (1-based),
// j = floor(n/2 - z*sqrt(n)/2), k = ceil(1 + n/2 + z*sqrt(n)/2), clamped to 1..n.  The timed loop
// stops once its half-width is <= precision x median (after the floor), or at a ceiling; the
// precision is looked at when the count has grown by 5%.  Warm-up ends once the median of the
// last `window` warm-ups moved by <= `drift` from the `window` before (after the floor).

export const Z95 = 1.959963984540054;
const CHECK_GROWTH = 1.05;
export const SLOW_FLOOR = 3;  // stats.SLOW_FLOOR

function median(sorted) {
  const n = sorted.length;
  return n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

export function medianCiRanks(n) {
  const half = Z95 * Math.sqrt(n) / 2;
  const j = Math.max(1, Math.floor(n / 2 - half));
  const k = Math.min(n, Math.ceil(1 + n / 2 + half));
  return [j - 1, k - 1];
}

export function medianHalfwidthRel(xs) {
  if (xs.length < 2) return null;
  const ys = Float64Array.from(xs).sort();
  const med = median(ys);
  if (!(med > 0)) return null;
  const [lo, hi] = medianCiRanks(ys.length);
  return (ys[hi] - ys[lo]) / 2 / med;
}

export function nextCheck(n) {
  return Math.max(n + 1, Math.ceil(n * CHECK_GROWTH));
}

// rule: {precision, min_iterations, max_iterations, min_time_s, max_time_s}; null: go on
export function stopReason(xs, elapsedS, rule, check = true) {
  const n = xs.length;
  if (n >= rule.max_iterations) return 'count-ceiling';
  if (n < rule.min_iterations) {
    // slower than the time ceiling allows: stop at SLOW_FLOOR (stats.StopRule says why)
    if (!(rule.precision > 0 && n >= Math.min(SLOW_FLOOR, rule.min_iterations) && elapsedS >= rule.max_time_s)) return null;
  }
  if (elapsedS >= rule.max_time_s) return 'time-ceiling';
  if (check && rule.precision > 0 && elapsedS >= rule.min_time_s) {
    const h = medianHalfwidthRel(xs);
    if (h !== null && h <= rule.precision) return 'precision';
  }
  return null;
}

// The timed loop's bookkeeping: `due` is the count at which the precision is looked at next.
export class Stopper {
  constructor(rule) { this.rule = rule; this.due = rule.min_iterations; }
  reason(xs, elapsedS) {
    const check = xs.length >= this.due;
    const why = stopReason(xs, elapsedS, this.rule, check);
    if (why === null && check) this.due = nextCheck(xs.length);
    return why;
  }
}

export function warmupConverged(ws, window, drift) {
  if (window < 1 || ws.length < 2 * window) return false;
  const a = median(Float64Array.from(ws.slice(-window)).sort());
  const b = median(Float64Array.from(ws.slice(-2 * window, -window)).sort());
  return b > 0 && Math.abs(a - b) <= drift * b;
}

// rule: {min_runs, max_runs, window, drift, max_time_s}
export function warmupDone(ws, elapsedS, rule) {
  const n = ws.length;
  const adaptive = rule.max_runs > rule.min_runs;   // else a fixed count, no time ceiling
  if (n >= rule.max_runs || (adaptive && n >= 1 && elapsedS >= rule.max_time_s)) return true;
  if (n < rule.min_runs) return false;
  return !adaptive || warmupConverged(ws, rule.window, rule.drift);
}

export function warmupConvergedOrNull(ws, rule) {
  return rule.max_runs > rule.min_runs ? warmupConverged(ws, rule.window, rule.drift) : null;
}

// Run `xs` (latencies, ms) through the rule as the page would, with a clock derived from the
// latencies themselves: the test harness compares this with stats.run_until.
export function simulate(stream, rule) {
  const xs = [];
  const s = new Stopper(rule);
  let t = 0;
  for (;;) {
    const why = s.reason(xs, t / 1000);
    if (why !== null) return { n: xs.length, stop_reason: why, precision_reached: medianHalfwidthRel(xs) };
    if (xs.length >= stream.length) return { n: xs.length, stop_reason: 'stream-ended', precision_reached: null };
    xs.push(stream[xs.length]);
    t += stream[xs.length - 1];
  }
}
