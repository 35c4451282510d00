"""Results over time at lab scale: `mwi history` over 15,000 synthetic runs x 60 cells.

    .venv/bin/python -m benchmarks.bench_history [--runs 15000] [--keep DIR] [--scale 2]

Two years of nightly runs of a 20-phone lab: 15,000 run directories, each one phone's run of 30
configurations x 2 repeats = 60 cells (900,000 cells in all), each with a `manifest.json` and a
`cells.parquet` in the real schema, written by the real writer (tests/history/synthetic.py).  Every
series is noise with a step somewhere and a browser update somewhere else.  Building the lab is not
timed (`--keep DIR` keeps it, and a later run with the same DIR reuses it).

Bars (after the lab's index exists; the pass that builds the index is printed as information),
judged on the CPU time of the process (best of 2-3), as bench_report is: DuckDB reads the Parquet
files on both cores, so on a quiet 2-core machine wall time is below CPU time, while on a shared one
other jobs stretch wall time, not the CPU the history needs.  Wall time is printed beside it:
- the history summary (`open_lab` + `analyse` with the default window: every series' status from
  each phone's last 90 runs), as `mwi history out/` computes it: <= 5 s;
- one series over its whole history (`--series ID`, 750 runs): <= 1 s.
The summary over every run of every series (`--window 0`) is printed as information.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from ._common import Bar, Report, main_guard, parser, scaled

SUMMARY_BAR_S = 5.0
SERIES_BAR_S = 1.0
PHONES = 20
CONFIGS = 30
REPEATS = 2


def build_lab(root: Path, runs: int) -> None:
    from tests.history.synthetic import T0, Config, RunSpec, run_id, write_run

    rng = random.Random(5)
    per_phone = runs // PHONES
    combos = [(f"model_{m}", rt, be, th) for m in range(5) for rt, be in (("tfjs", "wasm"), ("ort", "wasm"),
                                                                           ("litert", "webgpu"))
              for th in (1, 4)]
    base = {c: 5.0 * (1 + i % 9) for i, c in enumerate(combos)}
    # half the phones step within their last 90 runs (open regressions in the summary), half long ago;
    # on every other phone the step comes with the browser update (its cause)
    step_at = {p: per_phone - rng.randrange(15, 75) if p % 2 else rng.randrange(per_phone // 4, per_phone // 2)
               for p in range(PHONES)}
    bump_at = {p: step_at[p] if p % 4 < 2 else rng.randrange(per_phone // 4, 3 * per_phone // 4)
               for p in range(PHONES)}
    n = 0
    for i in range(per_phone):
        for p in range(PHONES):
            when = T0 + dt.timedelta(days=i, minutes=7 * p)
            serial = f"PHONE{p:02d}"
            cfgs = []
            for c in combos[:CONFIGS]:
                slow = 1.12 if (i >= step_at[p] and c[0] == "model_0") else 1.0
                med = base[c] * slow * rng.lognormvariate(0, 0.04)
                cfgs.append(Config(*c, median_ms=med, ci=(med * 0.98, med * 1.02), gap=med / 1.5,
                                   gap_ci=(med / 1.5 * 0.98, med / 1.5 * 1.02)))
            write_run(root / "runs", RunSpec(run_id(n, when, serial), when, target=serial,
                                             device_model=f"Phone {p % 5}",
                                             browser_version="131.0" if i < bump_at[p] else "132.0",
                                             configs=cfgs, repeats=REPEATS))
            n += 1


def main(argv: Sequence[str] | None = None) -> int:
    from mobile_webinfer.history import analyse, open_lab

    p = parser(__doc__ or "")
    p.add_argument("--runs", type=int, default=15_000, help="run directories in the lab (default 15000)")
    p.add_argument("--keep", type=Path, default=None, help="build the lab here and keep it (reused when present)")
    args = p.parse_args(argv)
    rep = Report("bench_history")
    root = args.keep or Path(tempfile.mkdtemp(prefix="mwi-bench-history-"))
    try:
        have = len(list((root / "runs").iterdir())) if (root / "runs").is_dir() else 0
        if have != args.runs:
            shutil.rmtree(root / "runs", ignore_errors=True)
            shutil.rmtree(root / "history", ignore_errors=True)
            t0 = time.perf_counter()
            build_lab(root, args.runs)
            rep.info(f"lab built in {time.perf_counter() - t0:.1f} s: {args.runs} runs x {CONFIGS * REPEATS} cells "
                     f"in {root}")
        import duckdb  # noqa: F401 - imported once, as `mwi history` has them before it starts
        import ruptures  # noqa: F401

        t0 = time.perf_counter()
        fresh = not (root / "history" / "index.json").exists()
        lab = open_lab([root])
        rep.info(f"index ({'built now: every manifest and Parquet footer read' if fresh else 'already built'}): "
                 f"{time.perf_counter() - t0:.2f} s, {len(lab.runs)} runs")

        def timed(fn, runs: int):  # type: ignore[no-untyped-def]
            best = None
            for _ in range(runs):
                t, c = time.perf_counter(), time.process_time()
                out = fn()
                took = (time.process_time() - c, time.perf_counter() - t)
                best = took if best is None or took[0] < best[0] else best
            return out, best

        h, (cpu, wall) = timed(lambda: analyse(open_lab([root], window=90)), 2)
        c = h.counts()
        rep.info(f"summary: {len(h.series)} series, {c}; {sum(1 for s in h.series if s.open_regression)} open "
                 f"regressions")
        print(f"history summary (90 runs per phone): {cpu:.2f} s CPU, {wall:.2f} s wall", flush=True)
        rep.add(Bar("history_summary_cpu_s", cpu, scaled(SUMMARY_BAR_S, args.scale),
                    note=f"wall {wall:.2f} s; {len(h.series)} series, last 90 runs of each of {PHONES} phones"))
        sid = next(s.key.id for s in h.series if s.key.model == "model_0")
        one, (cpu1, wall1) = timed(lambda: analyse(open_lab([root], targets={sid.split("|")[0]}), series=sid), 3)
        s = one.series[0]
        print(f"history single series ({len(s.points)} runs): {cpu1:.2f} s CPU, {wall1:.2f} s wall", flush=True)
        rep.info(f"{sid}: {s.status}; steps " + "; ".join(f"{x.size:+.1%} {x.metric} at run {x.index}: "
                                                          f"{x.cause_text}" for x in s.steps))
        rep.add(Bar("history_series_cpu_s", cpu1, scaled(SERIES_BAR_S, args.scale),
                    note=f"wall {wall1:.2f} s; {len(s.points)} runs"))
        full, (cpuf, wallf) = timed(lambda: analyse(open_lab([root])), 1)
        rep.info(f"summary over every run (--window 0): {cpuf:.2f} s CPU, {wallf:.2f} s wall, "
                 f"{sum(len(x.points) for x in full.series)} points (information)")
        load = os.getloadavg()
        rep.info(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    return rep.finish()


if __name__ == "__main__":
    main_guard(main)
