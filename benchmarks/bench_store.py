"""The run store on this disk: fsynced appends per second, and reading 10k records back.

    .venv/bin/python -m benchmarks.bench_store [--dir /some/disk] [--scale 2]

Records are shaped like the cells a sweep writes (cell key, 30 latencies, warmups, in_effect,
memory, agreement, context: about 1.4 KB of JSON) and like the sampler's meminfo rows.

Bars:
- `RunStore.append_result` into a fresh results.jsonl: >= 200 records/s (each is flushed and
  fsynced, so this is mostly the disk's fsync rate);
- the same once results.jsonl holds 10k records: >= 200 records/s, and >= 0.7 times the fresh rate
  (an append must not get slower as the file grows; both files are appended to in alternation);
- `RunStore.append_samples` of sampler rows, one row per call as the sampler's sink does: >= 200/s;
- `RunStore.results()` over 10k records: <= 2 s; `RunStore.samples()` over 10k rows: <= 2 s.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from mobile_webinfer.store import SCHEMA_VERSION, RunStore

from ._common import Bar, Report, main_guard, parser, scaled

APPEND_N = 200
FRESH_N = 300
GROWN_N = APPEND_N
GROWTH_BAR = 0.7
BIG_N = 10_000
APPEND_BAR_PER_S = 200.0
READ_BAR_S = 2.0


def cell_record(i: int, rng: random.Random) -> dict:
    """A cell record of the shape `Sweep.run_cell` stores (values synthetic, seeded)."""
    model = f"model_{i % 20}"
    runtime, backend = [("tfjs", "wasm"), ("tfjs", "webgl"), ("ort", "wasm"), ("tflite", "wasm")][i % 4]
    lat = [round(rng.lognormvariate(3.0, 0.2), 3) for _ in range(30)]
    return {
        "key": f"local|chromium|{model}|{runtime}|{backend}|t{1 + i % 4}|r{i // 20}",
        "cell": {"target": "local", "browser": "chromium", "model": model, "runtime": runtime, "backend": backend,
                 "threads": 1 + i % 4, "repeat": i // 20},
        "started_at": "2026-11-26T06:38:57.775+00:00", "fingerprint": {"target": "local", "id": "88e50d066029cc97"},
        "model_sha256": f"{rng.getrandbits(256):064x}",
        "budget": {"warmups": 5, "iterations": 30, "min_iterations": 5, "time_budget_s": 20.0,
                   "cell_timeout_s": 300.0},
        "model_bytes": 14_000_000 + i, "status": "ok", "error": None,
        "setup_ms": round(rng.uniform(100, 900), 3), "first_inference_ms": round(rng.uniform(50, 300), 3),
        "warmup_ms": [round(rng.uniform(20, 40), 3) for _ in range(5)], "latencies_ms": lat,
        "in_effect": {"runtime": runtime, "backend": backend, "backend_requested": backend, "threads": 1 + i % 4,
                      "threads_requested": 1 + i % 4, "simd": True, "cross_origin_isolated": True,
                      "versions": {"@tensorflow/tfjs": "4.22.0", "onnxruntime-web": "1.20.1"}},
        "memory": {"peak_total_mb": round(rng.uniform(60, 400), 3), "source": "CDP Memory.getProcessMemoryInfo"},
        "wall_s": round(rng.uniform(2, 20), 3),
        "context": {"thermal_status_max": 0, "battery_temp_start_c": 28.1, "battery_temp_max_c": 29.4,
                    "cooldown_s": 0.0},
        "agreement": {"ok": True, "max_abs_diff": rng.uniform(0, 1e-4), "top1_match": True,
                      "compared_elements": 1000, "reference": "native"},
        "finished_at": "2026-11-26T06:39:02.319+00:00", "flags": [],
    }


def sample_row(i: int) -> dict:
    """A meminfo row as the sampler emits it for Chrome (browser, GPU and two renderers)."""
    procs = {name: {"pid": 4000 + k, "pss_kb": 100_000 + 37 * i + k, "rss_kb": 180_000 + k, "swap_kb": 0,
                    "graphics_kb": 20_000, "java_heap_kb": 9_000, "native_heap_kb": 30_000}
             for k, name in enumerate(["com.android.chrome", "com.android.chrome:privileged_process0",
                                       "com.android.chrome:sandboxed_process0",
                                       "com.android.chrome:sandboxed_process1"])}
    return {"t_s": round(i * 1.0, 6), "probe": "meminfo", "ok": True, "cost_s": 0.05, "cell": "local/chromium/x",
            "data": {"total_pss_kb": sum(p["pss_kb"] for p in procs.values()), "not_found": None,
                     "processes": procs}}


def _fill(path: Path, records: list[dict], extra: dict) -> None:
    """Write records the fast way (one buffered write, one fsync) to build a big file to read."""
    with open(path, "w", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps({"schema_version": SCHEMA_VERSION, **extra, **rec}, separators=(",", ":")) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _rate(n: int, fn) -> tuple[float, float]:
    """(calls per second, slowest call in seconds) of n calls of fn(i)."""
    slowest = 0.0
    t0 = time.perf_counter()
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        slowest = max(slowest, time.perf_counter() - t)
    return n / (time.perf_counter() - t0), slowest


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--dir", type=Path, default=None, help="where to make the scratch run directories (a disk)")
    args = p.parse_args(argv)
    report = Report("bench_store")
    rng = random.Random(20261126)
    records = [cell_record(i, rng) for i in range(BIG_N + GROWN_N)]
    rec_bytes = sum(len(json.dumps(r, separators=(",", ":"))) for r in records[:100]) / 100
    scratch = Path(tempfile.mkdtemp(prefix="mwi-bench-store-", dir=args.dir))
    try:
        report.info(f"scratch dir {scratch}; cell record ~{rec_bytes / 1024:.1f} KB of JSON")
        # 1-2. a fresh results.jsonl and one that already holds 10k records, appended to in
        # alternation so that both see the same disk (other jobs share it)
        fresh = RunStore.create(scratch / "fresh", {"purpose": "bench_store"})
        big = RunStore.create(scratch / "big", {"purpose": "bench_store"})
        _fill(big.run_dir / "results.jsonl", records[:BIG_N], {"kind": "cell", "recorded_at": "2026-11-26T07:00:00Z"})
        size_mb = (big.run_dir / "results.jsonl").stat().st_size / 1e6
        fresh_s: list[float] = []
        big_s: list[float] = []
        for i in range(APPEND_N):
            for st, rec, out in ((fresh, records[i], fresh_s), (big, records[BIG_N + i], big_s)):
                t = time.perf_counter()
                st.append_result(rec)
                out.append(time.perf_counter() - t)
        fresh_rate, big_rate = APPEND_N / sum(fresh_s), APPEND_N / sum(big_s)
        report.add(Bar("results_append_fresh_per_s", fresh_rate,
                       scaled(APPEND_BAR_PER_S, args.scale, higher_is_better=True), higher_is_better=True,
                       note=f"{APPEND_N} fsynced appends, median {statistics.median(fresh_s) * 1e3:.1f} ms, "
                            f"slowest {max(fresh_s) * 1e3:.1f} ms"))
        report.add(Bar("results_append_at_10k_per_s", big_rate,
                       scaled(APPEND_BAR_PER_S, args.scale, higher_is_better=True), higher_is_better=True,
                       note=f"{APPEND_N} appends onto {BIG_N} records ({size_mb:.1f} MB), median "
                            f"{statistics.median(big_s) * 1e3:.1f} ms, slowest {max(big_s) * 1e3:.1f} ms"))
        report.add(Bar("results_append_at_10k_vs_fresh_ratio", big_rate / fresh_rate, GROWTH_BAR,
                       higher_is_better=True, note="appends must not slow down as the file grows"))
        if len(fresh.results()) != APPEND_N:
            raise AssertionError("fresh results.jsonl lost records")

        # 3. sampler rows, one per call, as the sampler's sink writes them
        samples = RunStore.create(scratch / "samples", {"purpose": "bench_store"})
        rows = [sample_row(i) for i in range(BIG_N)]
        rate, slowest = _rate(FRESH_N, lambda i: samples.append_samples([rows[i]]))
        report.add(Bar("samples_append_fresh_per_s", rate, scaled(APPEND_BAR_PER_S, args.scale, higher_is_better=True),
                       higher_is_better=True, note=f"{FRESH_N} one-row appends, slowest {slowest * 1e3:.1f} ms"))

        # 4. reading 10k records back
        t = time.perf_counter()
        got = big.results()
        read_s = time.perf_counter() - t
        n_keys = len({r["key"] for r in records[:BIG_N + GROWN_N]})
        if len(got) != n_keys:
            raise AssertionError(f"results() gave {len(got)} records, expected {n_keys} distinct keys")
        report.add(Bar("results_read_10k_s", read_s, scaled(READ_BAR_S, args.scale),
                       note=f"{BIG_N + GROWN_N} lines, {len(got)} distinct cells, "
                            f"{(BIG_N + GROWN_N) / read_s:.0f} records/s"))
        _fill(samples.run_dir / "samples.jsonl", rows, {})
        t = time.perf_counter()
        got_rows = samples.samples()
        read_s = time.perf_counter() - t
        if len(got_rows) != BIG_N:
            raise AssertionError(f"samples() gave {len(got_rows)} rows, expected {BIG_N}")
        report.add(Bar("samples_read_10k_s", read_s, scaled(READ_BAR_S, args.scale),
                       note=f"{BIG_N} meminfo rows, {BIG_N / read_s:.0f} rows/s"))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return report.finish()


if __name__ == "__main__":
    main_guard(main)
