"""Synthetic run directories shaped like real ones, for report tests and the report benchmark.

Records follow what `mwi sweep` stores on phones (tests/phone_sweep) and on this computer
(tests/fixtures/runs): browser cells with every latency, native phone cells with
benchmark_model's summary only, memory peaks per process kind, thermal/battery context,
agreement, page rAF frames; one throttled-and-rerun cell, one crashed and one unsupported
cell.  Samples are the sampler's rows (`t_s`, `probe`, `ok`, `data`, `cost_s`, `key`) for
meminfo, thermal, battery, cpu and gfxinfo, written straight to samples.jsonl in the store's
line format (one fsync per row would make a million rows take hours).
"""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path
from typing import Any

from mobile_webinfer.store import SCHEMA_VERSION, RunStore
from mobile_webinfer.vocab import NATIVE_BROWSER, NATIVE_RUNTIME

PHONES = {
    "R58M12345": {"model": "SM-G991B", "manufacturer": "samsung", "soc": "Exynos 2100", "android_release": "14",
                  "sdk": 34, "abi": "arm64-v8a", "profile": "galaxy"},
    "8BKX1Q2F": {"model": "Pixel 7", "manufacturer": "Google", "soc": "Google Tensor G2", "android_release": "15",
                 "sdk": 35, "abi": "arm64-v8a", "profile": "pixel"},
}
CHROME = "com.android.chrome"
BROWSER_CONFIGS = (("tfjs", "wasm"), ("tfjs", "webgl"), ("tfjs", "webgpu"), ("tflite", "wasm"), ("ort", "wasm"),
                   ("ort", "webgpu"), ("litert", "wasm"), ("litert", "webgpu"), ("tfjs", "cpu"))
T0 = dt.datetime(2026, 11, 26, 10, 15, tzinfo=dt.UTC)


def _iso(t: dt.datetime) -> str:
    return t.isoformat(timespec="milliseconds")


def make_run(out_root: Path, *, targets: tuple[str, ...] = ("R58M12345", "8BKX1Q2F"), models: int = 2,
             threads: tuple[int, ...] = (1,), configs: tuple[tuple[str, str], ...] = BROWSER_CONFIGS[:4],
             repeats: int = 2, latencies: int = 20, samples: int = 0, seed: int = 7,
             faults: bool = True, slower: float = 1.0) -> Path:
    """A run directory under `out_root/runs/`; `samples` probe rows in all, spread over the cells.
    `slower` multiplies every browser latency (a second run "after an update")."""
    rng = random.Random(seed)
    local = targets == ("local",)
    manifest: dict[str, Any] = {
        "tool": "mobile-webinfer", "tool_version": "0.1.0",
        "spec": {"targets": list(targets), "models": [f"model_{i}" for i in range(models)], "repeats": repeats},
        "targets": {}, "versions": {},
        "models": {f"model_{i}": {"task": "classification", "params": 1000 * (i + 1)} for i in range(models)},
    }
    for t in targets:
        if local:
            manifest["targets"][t] = {"target": t, "kind": "local", "hostname": "vm", "cpu_model": "AMD EPYC",
                                      "cpu_count": 2, "mem_total_mb": 24105, "os": "Linux-6.18"}
            manifest["versions"][t] = {"browsers": {"chromium": "156.0.8078.114"},
                                       "frameworks": {"tfjs": "4.22.0", "onnxruntime-web": "1.30.0"}}
        else:
            manifest["targets"][t] = {**PHONES.get(t, PHONES["R58M12345"]), "serial": t, "target": t,
                                      "kind": "android", "thermal_status_start": 0, "battery_temp_start_c": 31.5,
                                      "browsers": [{"package": CHROME, "label": "Chrome", "version": "131.0.6778.81"}]}
            manifest["versions"][t] = {"browsers": {CHROME: "131.0.6778.81"},
                                       "frameworks": {"tfjs": "4.22.0", "onnxruntime-web": "1.30.0"}}
    store = RunStore.create(out_root, manifest, label="synthetic")
    browser = "chromium" if local else CHROME
    cells: list[tuple[str, str, str, str, str, int, int]] = []
    for t in targets:
        for m in range(models):
            for th in threads:
                nat = [("xnnpack",)] if local else [("cpu",), ("gpu",)]
                for (be,) in nat:
                    cells += [(t, NATIVE_BROWSER, f"model_{m}", NATIVE_RUNTIME, be, th, r) for r in range(repeats)]
                for rt, be in configs:
                    cells += [(t, browser, f"model_{m}", rt, be, th, r) for r in range(repeats)]
    per_cell = samples // max(1, len(cells))
    extra = samples - per_cell * len(cells)
    clock = {t: T0 for t in targets}
    sample_lines: list[str] = []
    for i, (t, b, model, rt, be, th, rep) in enumerate(cells):
        key = "|".join([t, b, model, rt, be, f"t{th}", f"r{rep}"])
        base = 2.0 + 3.0 * int(model.split("_")[1])
        native = rt == NATIVE_RUNTIME
        med = base * (1.0 if native else rng.uniform(2.0, 12.0) * slower) * (0.5 if be in ("gpu", "webgl", "webgpu") else 1)
        lat = [round(med * rng.lognormvariate(0, 0.04), 4) for _ in range(latencies)]
        start = clock[t] + dt.timedelta(seconds=2)
        cool = 0.0 if local else round(rng.uniform(0, 3), 3)
        wall = round(4 + latencies * med / 1000, 3)
        end = start + dt.timedelta(seconds=cool + wall)
        clock[t] = end
        hot = not local and faults and i % 7 == 3
        rec: dict[str, Any] = {
            "cell": {"target": t, "browser": b, "model": model, "runtime": rt, "backend": be, "threads": th,
                     "repeat": rep},
            "key": key, "status": "ok", "error": None, "started_at": _iso(start), "finished_at": _iso(end),
            "wall_s": wall, "model_bytes": 2_000_000 * (int(model.split("_")[1]) + 1), "flags": [],
            "setup_ms": round(rng.uniform(100, 900), 2), "first_inference_ms": round(med * rng.uniform(3, 8), 3),
            "warmup_ms": [round(med * rng.uniform(1.1, 2), 3) for _ in range(3)],
            "in_effect": {"runtime": rt, "backend": be, "threads": th},
            "context": {"thermal_status_start": 0, "thermal_status_max": 2 if hot else 0,
                        "battery_temp_start_c": 31.0, "battery_temp_max_c": 38.5 if hot else 33.0,
                        "cooldown_s": cool, "janky_frame_share": None if native else round(rng.uniform(0, .2), 4)}
            if not local else {},
        }
        if hot:
            rec["flags"] = ["thermal-throttled"]
        if native and not local:
            rec["latencies_ms"] = None
            rec["latency_summary_ms"] = {"avg": med, "std": med * .05, "count": latencies, "median": med,
                                         "p5": min(lat), "p95": max(lat), "min": min(lat), "max": max(lat)}
            rec["in_effect"].update(nodes_total=60, nodes_delegated=60 if be == "gpu" else None)
            rec["memory"] = {"peak_total_mb": round(rng.uniform(20, 60), 2), "source": "benchmark_model"}
        else:
            rec["latencies_ms"] = lat
            by_type = {"browser": round(rng.uniform(80, 150), 2), "renderer": round(rng.uniform(100, 400), 2),
                       "gpu": round(rng.uniform(30, 90), 2)} if not native else None
            rec["memory"] = {"peak_total_mb": round(sum(by_type.values()), 2) if by_type else 48.6,
                             "peak_by_type_mb": by_type, "source": "meminfo" if not local else "procmem"}
        if not native:
            rec["agreement"] = {"ok": True, "max_abs_diff": rng.choice([0.0, 1.5e-8, 2.4e-6]), "top1_match": True}
            rec["frames"] = {"source": "in-page rAF", "count": 40, "long_frames": rng.randint(0, 4),
                             "max_frame_ms": round(rng.uniform(16, 90), 2), "median_frame_ms": 16.7}
            rec["browser_version"] = "131.0.6778.81" if not local else "156.0.8078.114"
        if faults and rt == "tfjs" and be == "webgpu" and rep == 0 and model == "model_0":
            rec.update(status="error", error="renderer-crashed: renderer killed by lmkd (low memory)",
                       error_kind="renderer-crashed", latencies_ms=None, memory=None, agreement=None)
        if faults and rt == "ort" and be == "webgpu":
            rec.update(status="unsupported", error="unsupported: WebGPU adapter not available",
                       error_kind="unsupported", latencies_ms=None, agreement=None)
        if faults and i == 5:
            rec["attempts"] = [{"at": _iso(start), "status": "throttled", "thermal_status_max": 3,
                                "median_ms": med * 1.6, "note": None}]
            rec["flags"] = sorted(set(rec["flags"]) | {"rerun-after-throttle"})
        store.append_result(rec)
        n = per_cell + (1 if i < extra else 0)
        sample_lines.extend(_samples(key, n, local, hot, rng))
    with open(store.run_dir / "samples.jsonl", "w", encoding="utf-8") as f:
        f.write("".join(sample_lines))
    return store.run_dir


def _samples(key: str, n: int, local: bool, hot: bool, rng: random.Random) -> list[str]:
    out = []
    probes = ("procmem",) if local else ("meminfo", "thermal", "battery", "cpu", "gfxinfo")
    pkg = CHROME
    for j in range(n):
        probe = probes[j % len(probes)]
        t_s = round(j * 0.2, 4)
        data: dict[str, Any]
        if probe == "procmem":
            data = {"total_pss_mb": round(200 + 5 * j % 150, 3), "by_type_mb": {"browser": 80.0, "renderer": 120.0},
                    "processes": 8}
        elif probe == "meminfo":
            data = {"total_pss_kb": 300_000 + 1000 * (j % 90), "not_found": False, "processes": {
                pkg: {"pid": 100, "pss_kb": 120_000, "rss_kb": 200_000},
                f"{pkg}:sandboxed_process0": {"pid": 101, "pss_kb": 150_000 + 1000 * (j % 90), "rss_kb": 250_000}}}
        elif probe == "thermal":
            data = {"status": 2 if hot and j > n // 2 else 0, "source": "hal", "max_sensor_status": 0,
                    "temperatures": {"cpu0": round(40 + rng.random() * 6 + (8 if hot else 0), 1), "battery": 33.0}}
        elif probe == "battery":
            data = {"level": 80, "temperature_c": round(32 + rng.random() * 2 + (5 if hot else 0), 1),
                    "voltage_mv": 4000, "status": 3, "ac_powered": False, "usb_powered": True}
        elif probe == "cpu":
            data = {"utilization": round(rng.random(), 3), "per_cpu": {"cpu0": 0.5},
                    "freq_khz": {f"cpu{c}": rng.choice([1_800_000, 2_400_000, None]) for c in range(8)}}
        else:
            v = 1_000_000_000 + j * 50_000_000
            data = {"not_found": False, "total_frames": 100, "janky_frames": 3, "new_frames": 3, "new_janky": 1,
                    "frames": [[v, 8.5, False], [v + 16_000_000, 9.25, False], [v + 32_000_000, 31.0, True]]}
        row = {"schema_version": SCHEMA_VERSION, "t_s": t_s, "probe": probe, "data": data, "ok": True,
               "cost_s": 0.02, "key": key}
        out.append(json.dumps(row, separators=(",", ":")) + "\n")
    return out
