"""The gap table's cost: `report.build_rows` over a big synthetic sweep.

    .venv/bin/python -m benchmarks.bench_stats [--scale 2]

200 configurations (10 models x 2 thread counts x [native XNNPACK + 9 browser runtime/backend
pairs]), 3 repeats each, 30 latencies a repeat (seeded log-normal), shaped like the records a
sweep stores.  Every browser row is paired with its native row, so each gets a hierarchical
bootstrap CI of its median and of its gap (stats.N_BOOT resamples each).

Bars: `build_rows` under 5 s of CPU for the 600 records (what `mwi report` spends on such a run;
CPU rather than wall time because the box is shared: it runs in a child process, stopped after
`--limit` seconds, and then the CPU it used is reported as a lower bound), and one
`stats.summarize` of 3 x 30 latencies under 50 ms (best of several calls).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import time
from collections.abc import Sequence

from mobile_webinfer import stats
from mobile_webinfer.report import build_rows
from mobile_webinfer.vocab import NATIVE_BROWSER, NATIVE_RUNTIME

from ._common import Bar, Report, best_of, main_guard, parser, scaled

MODELS = [f"model_{i}" for i in range(10)]
THREADS = (1, 4)
BROWSER_CONFIGS = [("chromium", "tfjs", "wasm"), ("chromium", "tfjs", "webgl"), ("chromium", "tfjs", "webgpu"),
                   ("chromium", "tfjs", "cpu"), ("chromium", "tflite", "wasm"), ("chromium", "ort", "wasm"),
                   ("chromium", "ort", "webgpu"), ("chrome", "tfjs", "wasm"), ("chrome", "ort", "wasm")]
REPEATS = 3
LATENCIES = 30
BUILD_BAR_S = 5.0
SUMMARIZE_BAR_MS = 10.0  # 5 s / 200 configurations / ~2.5 bootstraps a row
LIMIT_S = 40.0  # keeps the whole benchmark near a minute when build_rows is far over its bar


def synthetic_records(seed: int = 20261126) -> list[dict]:
    """600 cell records: 200 configurations x 3 repeats x 30 latencies, seeded."""
    rng = random.Random(seed)
    configs = []
    for model in MODELS:
        for threads in THREADS:
            configs.append((NATIVE_BROWSER, model, NATIVE_RUNTIME, "xnnpack", threads))
            configs += [(b, model, rt, be, threads) for b, rt, be in BROWSER_CONFIGS]
    records = []
    for browser, model, runtime, backend, threads in configs:
        base = rng.uniform(2, 80) * (1.0 if runtime == NATIVE_RUNTIME else rng.uniform(1.2, 6.0))
        for repeat in range(REPEATS):
            shift = rng.lognormvariate(0, 0.05)  # page loads differ more than inferences within one
            cell = {"target": "local", "browser": browser, "model": model, "runtime": runtime, "backend": backend,
                    "threads": threads, "repeat": repeat}
            records.append({
                "schema_version": 1, "kind": "cell",
                "key": "|".join(["local", browser, model, runtime, backend, f"t{threads}", f"r{repeat}"]),
                "cell": cell, "status": "ok", "error": None,
                "latencies_ms": [round(base * shift * rng.lognormvariate(0, 0.08), 4) for _ in range(LATENCIES)],
                "first_inference_ms": round(base * 4, 3), "setup_ms": round(rng.uniform(50, 900), 3),
                "in_effect": {"threads": threads, "runtime": runtime, "backend": backend},
                "memory": {"peak_total_mb": round(rng.uniform(50, 500), 2)}, "model_bytes": 14_000_000,
                "agreement": {"ok": True, "max_abs_diff": rng.uniform(0, 1e-4), "top1_match": True},
                "context": {"thermal_status_max": 0, "battery_temp_start_c": 30.0, "battery_temp_max_c": 31.0},
                "flags": [],
            })
    return records


def _build_in_child(records: list[dict], conn) -> None:
    """Child process: time build_rows and send (cpu_s, wall_s, n_rows, n_gaps) back."""
    wall, cpu = time.perf_counter(), time.process_time()
    rows = build_rows(records)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    conn.send((cpu, wall, len(rows), sum(1 for r in rows if r["gap"] is not None)))
    conn.close()


def time_build_rows(records: list[dict], limit_s: float) -> tuple[float, float, int, int, bool]:
    """(cpu_s, wall_s, rows, gaps, finished) of build_rows(records), in a child process stopped
    after `limit_s` of wall time.  When stopped, cpu_s is the CPU it had used: a lower bound."""
    ctx = mp.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    before = os.times()
    t0 = time.perf_counter()
    child = ctx.Process(target=_build_in_child, args=(records, send), daemon=True)
    child.start()
    send.close()
    try:
        if recv.poll(limit_s):
            cpu, wall, n_rows, n_gaps = recv.recv()
            child.join(10)
            return cpu, wall, n_rows, n_gaps, True
    finally:
        if child.is_alive():
            child.terminate()
        child.join(10)
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return cpu, time.perf_counter() - t0, 0, 0, False


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--limit", type=float, default=LIMIT_S,
                   help=f"stop build_rows after this many seconds of wall time (default {LIMIT_S:g})")
    args = p.parse_args(argv)
    report = Report("bench_stats")
    records = synthetic_records()
    n_configs = len({tuple(r["cell"][k] for k in ("browser", "model", "runtime", "backend", "threads"))
                     for r in records})
    expected_paired = len(MODELS) * len(THREADS) * len(BROWSER_CONFIGS)
    cpu_s, wall_s, n_rows, n_paired, finished = time_build_rows(records, args.limit)
    shape = (f"{len(records)} records, {n_configs} configurations x {REPEATS} repeats x {LATENCIES} latencies, "
             f"N_BOOT={stats.N_BOOT}")
    if finished:
        if n_rows != n_configs or n_paired != expected_paired:
            raise AssertionError(f"build_rows gave {n_rows} rows ({n_paired} with a gap); expected {n_configs} "
                                 f"({expected_paired})")
        note = f"CPU seconds; wall {wall_s:.1f} s; {shape}; {n_paired} gaps with CIs"
    else:
        note = f"STOPPED after {wall_s:.1f} s wall: CPU so far is a lower bound; {shape}"
    report.add(Bar("build_rows_200_configs_cpu_s", cpu_s, scaled(BUILD_BAR_S, args.scale), note=note))
    groups = [r["latencies_ms"] for r in records[3:6]]
    best, median = best_of(lambda: stats.summarize(groups), min_runs=5, min_time_s=0.5)
    report.add(Bar("summarize_3x30_ms", best * 1e3, scaled(SUMMARIZE_BAR_MS, args.scale),
                   note=f"CPU ms, median {median * 1e3:.1f} ms; {stats.N_BOOT} hierarchical bootstrap resamples"))
    best, median = best_of(lambda: stats.ratio_ci(groups, [r["latencies_ms"] for r in records[:3]]),
                           min_runs=3, min_time_s=0.3)
    report.info(f"ratio_ci of 3x30 vs 3x30: best {best * 1e3:.1f} ms CPU, median {median * 1e3:.1f} ms")
    return report.finish()


if __name__ == "__main__":
    main_guard(main)
