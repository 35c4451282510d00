"""Harness fidelity: the harness page's median against a bare page of our own, per runtime.

    .venv/bin/python -m benchmarks.bench_fidelity [--runtimes tfjs,tflite,ort,litert] [--model mobilenet_v2]
                                                  [--pairs 6] [--iterations 30] [--warmups 5]

"Ours" is a browser cell exactly as `mwi sweep` runs it on this computer (`LocalTarget.measure`:
fresh headless Chromium, pages/harness.html, its /proc memory sampler, progress events, the rAF
frame monitor, heap samples, a macrotask yield between inferences, outputs read back).  "Bare" is
pages/bare.html on the same page server (same origin, same COOP/COEP headers), the same config,
model file, input, runtime adapter (pages/adapters/<runtime>.js: load / setup / infer, so the
read-back is the same) and the same Chromium flags, and nothing else: a tight
`await runner.infer()` loop, one POST at the end.  Page loads are interleaved A B, B A, ... in one
run.  The measured ratio is the median over pairs of (median of our load) / (median of the bare
load next to it), its CI95 a bootstrap over pairs and latencies: on a shared machine a burst of
other jobs hits one pair, and the median of pair ratios shrugs it off.  The ratio of the two sides'
pooled medians (with a hierarchical bootstrap CI95) is printed beside it.

Bar, per runtime (wasm, 1 thread by default): 0.97 <= ours / bare <= 1.03.  A harness that
measures faster than the bare loop is as suspect as a slower one.

Pairing (issue 21) is on, as in `mwi sweep`: our page measures its timed inferences in blocks
(`--pair-round` seconds, at least 10 and at most iterations/10 inferences each, after an untimed re-warm of
1 inference and 5 ms) on the host's word, pausing while a warm native
child runs its block; the bar then says the pauses cost the browser nothing.  `--pair-round 0`
measures the unpaired harness (one timed loop).
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Sequence

from mobile_webinfer.paired_stats import DEFAULT_ROUND_S

from ._common import Report, main_guard, parser
from ._local import bare_load, browser_cell, fixed_budget, harness_load, manifest_of, page_server
from ._overhead import RangeBar, abba, paired_ratio_ci, pooled_median, ratio_ci

LO, HI = 0.97, 1.03


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--runtimes", default="tfjs,tflite,ort,litert")
    p.add_argument("--backend", default="wasm")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--model", default="mobilenet_v2")
    p.add_argument("--pairs", type=int, default=6, help="page-load pairs per runtime (default 6: 12 loads)")
    p.add_argument("--iterations", type=int, default=30, help="timed inferences per page load (default 30)")
    p.add_argument("--warmups", type=int, default=5)
    p.add_argument("--pair-round", type=float, default=DEFAULT_ROUND_S,
                   help=f"paired harness: seconds of each block (default {DEFAULT_ROUND_S}; 0 = unpaired)")
    p.add_argument("--bare-extra", default="", help="diagnosis: add harness pieces back to the bare page: "
                                                     "yield, raf (comma-separated; default none)")
    args = p.parse_args(argv)
    extra = tuple(x.strip() for x in args.bare_extra.split(",") if x.strip())
    if set(extra) - {"yield", "raf"}:
        raise SystemExit("--bare-extra takes yield and/or raf")
    report = Report("bench_fidelity")
    manifest = manifest_of(args.model)
    budget = dataclasses.replace(fixed_budget(args.warmups, args.iterations), pair_round_s=max(0.0, args.pair_round))
    with page_server() as server:
        for runtime in [r.strip() for r in args.runtimes.split(",") if r.strip()]:
            cell = browser_cell(args.model, runtime, args.backend, args.threads)
            sides: dict[str, list] = {"a": [], "b": []}
            for order in abba(args.pairs):
                for side in order:
                    if side == "a":
                        sides[side].append(harness_load(cell, manifest, server, budget))
                    else:
                        sides[side].append(bare_load(cell, manifest, server, budget, extra=extra))
            ours, bare = sides["a"], sides["b"]
            same = {(r.backend, r.threads, r.wasm_build) for r in ours + bare}
            if len(same) != 1:
                raise RuntimeError(f"{runtime}: the two pages ran different things: {sorted(map(str, same))}")
            ratio, ci = paired_ratio_ci([r.latencies_ms for r in ours], [r.latencies_ms for r in bare])
            pooled, pooled_ci = ratio_ci([r.latencies_ms for r in ours], [r.latencies_ms for r in bare])
            p10, p10_ci = paired_ratio_ci([r.latencies_ms for r in ours], [r.latencies_ms for r in bare], q=0.1)
            backend, threads, build = same.pop()
            per_load = lambda rs: ", ".join(f"{statistics.median(r.latencies_ms):.2f}" for r in rs)  # noqa: E731
            report.info(f"{runtime}: ours per load [{per_load(ours)}] ms; bare per load [{per_load(bare)}] ms; "
                        f"ratio of pooled medians {pooled:.3f} [CI95 {pooled_ci[0]:.3f}-{pooled_ci[1]:.3f}]; "
                        f"paired p10 ratio {p10:.3f} [CI95 {p10_ci[0]:.3f}-{p10_ci[1]:.3f}] (least interference)")
            report.add(RangeBar(
                f"fidelity_{runtime}_{args.backend}_t{args.threads}_ratio" + "".join(f"_vs_bare_{x}" for x in extra)
                + ("_paired" if budget.pair_round_s > 0 else ""),
                ratio, LO, HI, ci,
                note=f"ours {pooled_median([r.latencies_ms for r in ours]):.2f} ms / bare "
                     f"{pooled_median([r.latencies_ms for r in bare]):.2f} ms, {args.model}, {len(ours)}+{len(bare)} "
                     f"interleaved loads x {args.iterations}; ran {backend} t{threads}"
                     + (f" ({build})" if build else "")))
    return report.finish()


if __name__ == "__main__":
    main_guard(main)
