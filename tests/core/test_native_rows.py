"""Native phone rows count the timed inferences benchmark_model ran (its own count and percentiles),
and are judged valid / flagged as browser rows are (issue 23)."""

from __future__ import annotations

import pytest

from mobile_webinfer.records import CellRecord, InEffect
from mobile_webinfer.report import build_rows
from mobile_webinfer.stats import median_halfwidth_rel
from mobile_webinfer.vocab import Cell


def _native(repeat: int, summary: dict) -> CellRecord:
    cell = Cell(target="P1", browser="native", model="tiny_cnn", runtime="tflite-native", backend="xnnpack",
                threads=1, repeat=repeat)
    return CellRecord(status="ok", cell=cell, latency_summary_ms=summary, budget={"precision": 0.02},
                      in_effect=InEffect(runtime="tflite-native", backend="xnnpack", threads=1))


TIGHT = {"count": 50, "min": 9.5, "p5": 9.8, "median": 10.0, "p95": 10.3, "max": 11.0, "avg": 10.0}


def test_summary_distribution_keeps_count_median_and_percentiles():
    d = _native(0, TIGHT).summary_distribution_ms()
    assert d is not None and len(d) == 50 and d == sorted(d)
    assert d[0] >= 9.5 and d[-1] <= 11.0 and sorted(d)[25] == pytest.approx(10.0, abs=0.02)
    assert sum(x <= 9.8 for x in d) == pytest.approx(50 * 0.05, abs=1)
    assert sum(x >= 10.3 for x in d) == pytest.approx(50 * 0.05, abs=1)
    # without a count or percentiles: the one median, as before (and flagged few-samples in a row)
    assert _native(0, {"median": 10.0, "avg": 10.0, "count": None}).samples_ms() == [10.0]
    assert _native(0, {**TIGHT, "p95": 9.0}).summary_distribution_ms() is None  # out of order
    # the CI of the median is no narrower than the one straight lines through p5 / median give
    assert median_halfwidth_rel(d) == pytest.approx(0.012, abs=0.004)


def test_native_phone_row_counts_its_inferences_and_is_valid_when_precise():
    rows = build_rows([_native(r, TIGHT) for r in range(3)])
    (row,) = rows
    assert row["n"] == 150 and row["validity"] == "valid", row
    assert "too-few-samples" not in row["validity_reasons"] and "native-summary-only" in row["flags"]
    wide = {**TIGHT, "p5": 6.0, "min": 5.0, "p95": 16.0, "max": 20.0}
    (row,) = build_rows([_native(r, wide) for r in range(3)])
    assert row["n"] == 150 and row["validity"] == "flagged" and any(w.startswith("imprecise")
                                                                     for w in row["validity_reasons"])
    (row,) = build_rows([_native(r, {"median": 10.0, "count": None}) for r in range(3)])
    assert row["n"] == 3 and "too-few-samples" in row["validity_reasons"]
