"""Paired cells end to end on the local target (issue 21): real headless Chromium takes turns with a
warm host LiteRT child; `--no-pairing` keeps the unpaired cells of before."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.sweep_helpers import read_results, run_mwi

pytestmark = pytest.mark.browser

ARGS = ("sweep", "--quick", "--models", "tiny_cnn", "--runtimes", "litert", "--backends", "wasm", "--threads", "1",
        "--no-html", "--no-capabilities", "--time-budget", "1.5")


def test_paired_cell_alternates_blocks_and_reports_the_paired_gap(tmp_path):
    proc = run_mwi(*ARGS, "--pair-round", "0.05", "--out", str(tmp_path / "p"))
    run_dir = Path(proc.stdout.strip().splitlines()[-1])
    recs = [r for r in read_results(run_dir) if r["cell"]["runtime"] == "litert"]
    assert recs and all(r["status"] == "ok" for r in recs), recs
    for r in recs:
        p = r["pairing"]
        assert p["mode"] == "warm-process" and p["native_runtime"] == "tflite-native" and p["round_s"] == 0.05
        assert p["native_backend"] == "xnnpack" and p["native_threads"] == 1 and p["native_version"]
        rounds = p["rounds"]
        assert len(rounds) >= 2 and p["stop_reason"] in ("precision", "time-ceiling", "count-ceiling")
        # the page infers only inside its blocks: every timed latency belongs to one
        assert sum(x["browser_n"] for x in rounds) == len(r["latencies_ms"])
        prev_end = 0.0
        for x in rounds:  # browser block, then native block, never overlapping, in order
            assert prev_end <= x["browser_start_s"] <= x["browser_end_s"] <= x["native_start_s"] <= x["native_end_s"]
            assert x["browser_n"] >= 3 and x["native_n"] >= 3
            assert x["browser_median_ms"] > 0 and x["native_median_ms"] > 0
            prev_end = x["native_end_s"]
        assert p["gap"] > 0
        assert r["agreement"]["ok"] and r["agreement"]["top1_match"] is True
    rows = json.loads(run_mwi("report", str(run_dir), "--json").stdout)
    row = next(x for x in rows if x["runtime"] == "litert")
    assert row["pairing"] == "paired" and row["pairing_mode"] == "warm-process" and row["round_s"] == 0.05
    lo, hi = row["paired_gap_ci95"]
    assert lo <= row["paired_gap"] <= hi and row["rounds"] >= 2
    assert abs(row["var_within_rounds"] + row["var_between_rounds"] + row["var_between_loads"] - 1) < 1e-3
    table = run_mwi("report", str(run_dir), "--no-html", "--wide").stdout  # headers whole on one line
    assert "paired gap" in table

    plain = run_mwi(*ARGS, "--no-pairing", "--out", str(tmp_path / "u"))
    run_u = Path(plain.stdout.strip().splitlines()[-1])
    (rec,) = [r for r in read_results(run_u) if r["cell"]["runtime"] == "litert"][:1]
    assert rec["status"] == "ok" and rec["pairing"]["unpaired_reason"] == "pairing off (--no-pairing)"
    assert not rec["pairing"].get("rounds")
    urow = next(x for x in json.loads(run_mwi("report", str(run_u), "--json").stdout) if x["runtime"] == "litert")
    assert urow["pairing"] == "unpaired" and urow["paired_gap"] is None and urow["gap"] > 0
    assert "--no-pairing" in urow["pairing_note"]
