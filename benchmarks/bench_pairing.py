"""Round length of paired cells (issue 21): how the paired gap's spread depends on it.

    .venv/bin/python -m benchmarks.bench_pairing [--model mobilenet_v2] [--runtime litert]
                                                 [--rounds-s 0.1,0.25,0.5,1,2] [--loads 3] [--seconds 8]

One browser configuration (wasm, 1 thread by default) measured as `mwi sweep` measures a paired cell
(`LocalTarget.measure`: the harness page and a warm native LiteRT child taking turns), for each round
length, `--loads` page loads each of `--seconds` of rounds (no early stop: `precision` 0), the
round lengths interleaved load by load (a seeded order) so the machine's drift spreads over all of
them.  Per round length: the paired gap (median of every round's ratio), its CI95 half-width (loads,
then rounds resampled), the spread of the per-load gaps (max / min), the rounds taken, and the
variance shares of the browser's log-latency (within rounds / between rounds / between loads).

No bar: the numbers choose the default (`paired_stats.DEFAULT_ROUND_S`).  Short rounds follow a
machine whose speed flips within seconds and give more ratios per second, but each block's median
rests on fewer inferences and every block pays a pause and a re-warm; long rounds let drift inside
a round into the ratio.  Run it on a quiet machine: on a shared one the spread is the neighbours'.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence

from ._common import Report, main_guard, parser
from ._local import STOP, browser_cell, manifest_of, page_server


def main(argv: Sequence[str] | None = None) -> int:
    from mobile_webinfer.paired_stats import load_blocks, paired_gap, variance_shares
    from mobile_webinfer.targets.local import LocalTarget
    from mobile_webinfer.vocab import Budget, PageOptions

    p = parser(__doc__.splitlines()[0])
    p.add_argument("--model", default="mobilenet_v2")
    p.add_argument("--runtime", default="litert")
    p.add_argument("--backend", default="wasm")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds-s", default="0.1,0.25,0.5,1,2", help="round lengths to try, seconds")
    p.add_argument("--loads", type=int, default=3, help="page loads per round length (default 3)")
    p.add_argument("--seconds", type=float, default=8.0, help="seconds of rounds per load, both sides (default 8)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    lengths = [float(x) for x in args.rounds_s.split(",") if x.strip()]
    report = Report("bench_pairing")
    manifest = manifest_of(args.model)
    cell = browser_cell(args.model, args.runtime, args.backend, args.threads)
    base = Budget(warmups=5, iterations=100_000, min_iterations=3, time_budget_s=args.seconds, precision=0.0,
                  cell_timeout_s=900.0, stall_timeout_s=300.0)
    plan = [length for length in lengths for _ in range(args.loads)]
    random.Random(args.seed).shuffle(plan)
    recs: dict[float, list] = {length: [] for length in lengths}
    with page_server() as server:
        for i, length in enumerate(plan):
            budget = dataclasses.replace(base, pair_round_s=length)
            rec = LocalTarget(page=PageOptions()).measure(dataclasses.replace(cell, repeat=i), manifest, server,
                                                          budget, STOP).record
            if not rec.ok or rec.pairing is None or not rec.pairing.paired:
                raise RuntimeError(f"round {length:g} s: the cell did not pair: {rec.error or rec.pairing}")
            recs[length].append(rec)
    for length in lengths:
        rs = recs[length]
        g = paired_gap([r.pairing.ratios() for r in rs])
        per_load = [r.pairing.gap for r in rs if r.pairing.gap]
        shares = variance_shares([load_blocks(r, length) for r in rs])
        if g is None:
            report.info(f"round {length:g} s: no gap")
            continue
        half = (g.ci95[1] - g.ci95[0]) / 2 / g.gap if g.ci95 else float("nan")
        spread = max(per_load) / min(per_load) if per_load else float("nan")
        sh = "/".join(f"{100 * x:.0f}" for x in (shares.within_rounds, shares.between_rounds, shares.between_loads)) \
            if shares else "-"
        report.info(f"round {length:g} s: paired gap {g.gap:.3f}x, CI95 half-width {100 * half:.1f}%, per-load gaps "
                    f"max/min {spread:.3f} over {len(rs)} loads, {g.rounds} rounds, variance within rounds / "
                    f"between rounds / between loads {sh} %")
    return report.finish()


if __name__ == "__main__":
    main_guard(main)
