"""Paired cells on a (fake) phone (issue 21): the page in real headless Chromium behind adb reverse
takes turns with benchmark_model runs, one per block."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.sweep_helpers import read_results, run_mwi

pytestmark = pytest.mark.browser


def test_phone_pairs_with_benchmark_model_chunks(fake_phone, tmp_path, bm_binary):
    phone = fake_phone("pixel")
    proc = run_mwi("sweep", "--target", phone.serial, "--models", "tiny_cnn", "--runtimes", "litert", "--backends",
                   "wasm", "--threads", "1", "--repeats", "1", "--quick", "--native-backends", "xnnpack",
                   "--benchmark-model", str(bm_binary), "--cooldown-timeout", "20", "--pair-round", "0.2",
                   "--time-budget", "2", "--no-html", "--no-capabilities", "--out", str(tmp_path))
    run_dir = Path(proc.stdout.strip().splitlines()[-1])
    recs = [r for r in read_results(run_dir) if r["cell"]["runtime"] == "litert"]
    assert recs and all(r["status"] == "ok" for r in recs), [(r["key"], r.get("error")) for r in recs]
    for r in recs:
        p = r["pairing"]
        assert p["mode"] == "benchmark_model-chunks" and p["native_backend"] == "xnnpack", p
        assert len(p["rounds"]) >= 2
        assert sum(x["browser_n"] for x in p["rounds"]) == len(r["latencies_ms"])
        for x in p["rounds"]:
            assert x["native_n"] >= 3 and x["native_median_ms"] > 0
            assert x["browser_end_s"] <= x["native_start_s"] <= x["native_end_s"]
    bench_runs = [c for c in phone.commands if "benchmark_model" in c and "--max_secs=0.2" in c]
    assert len(bench_runs) >= 2  # one benchmark_model run per block
    row = next(x for x in json.loads(run_mwi("report", str(run_dir), "--json").stdout) if x["runtime"] == "litert")
    assert row["pairing"] == "paired" and row["pairing_mode"] == "benchmark_model-chunks" and row["paired_gap"] > 0
