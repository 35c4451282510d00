"""A phone sweep on the fake phone: native rows count benchmark_model's timed inferences and are
`valid` where they reach the precision, as browser rows are (issue 23)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.sweep_helpers import read_results, run_mwi

pytestmark = pytest.mark.browser


def test_native_rows_count_timed_inferences_and_can_be_valid(fake_phone, bm_binary, tmp_path):
    phone = fake_phone("pixel")
    p = run_mwi("sweep", "--target", phone.serial, "--models", "tiny_cnn", "--runtimes", "tfjs", "--backends", "wasm",
                "--threads", "1", "--browsers", "com.android.chrome", "--native-backends", "xnnpack", "--quick",
                "--repeats", "2", "--benchmark-model", str(bm_binary), "--cooldown-timeout", "5", "--no-html",
                "--no-capabilities", "--out", str(tmp_path / "out"), timeout=900)
    run_dir = Path(p.stdout.strip().splitlines()[-1])
    counts = {r["key"]: r["latency_summary_ms"]["count"] for r in read_results(run_dir)
              if r["cell"]["runtime"] == "tflite-native" and r["status"] == "ok"}
    assert counts and all(c >= 50 for c in counts.values()), counts
    rows = [r for r in json.loads(run_mwi("report", str(run_dir), "--json").stdout)
            if r["runtime"] == "tflite-native"]
    assert rows
    for row in rows:
        procs = [c for k, c in counts.items() if f"|{row['backend']}|" in k]
        assert row["n"] == sum(procs), (row, procs)   # inferences, not processes
        assert "too-few-samples" not in row["validity_reasons"], row
        precise = row["precision"] is not None and row["precision"] <= 0.02
        assert (row["validity"] == "valid") == (precise and not row["validity_reasons"]), row
    # whether a row reaches 2% is the host's noise (a default sweep here: xnnpack valid at 1.7% over 59491
    # inferences); what is asserted is the rule: valid exactly where precise and nothing else is flagged
