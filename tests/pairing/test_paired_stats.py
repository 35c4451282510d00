"""The paired gap's statistics (issue 21): the median of round ratios, its two-level bootstrap CI,
variance shares that add up, and records that keep every round (older records still load)."""

from __future__ import annotations

import math

import numpy as np

from mobile_webinfer.paired_stats import (
    blocks_by_time,
    gap_precision,
    paired_gap,
    pairing_columns,
    round_ratio,
    variance_shares,
)
from mobile_webinfer.records import CellRecord, Pairing, PairRound
from mobile_webinfer.report import build_rows
from mobile_webinfer.vocab import Cell


def test_round_ratio_and_gap_of_rounds():
    assert round_ratio([4, 5, 6], [1, 1, 2]) == 5.0
    assert round_ratio([], [1.0]) is None and round_ratio([1.0], []) is None
    g = paired_gap([[2.0, 2.1, 1.9, 2.0], [2.05, 1.95, 2.0]])
    assert g is not None and g.gap == 2.0 and g.rounds == 7 and g.loads == 2
    assert g.ci95 is not None and g.ci95[0] <= 2.0 <= g.ci95[1] and 0 < g.precision < 0.05
    assert paired_gap([[]]) is None


def test_gap_precision_narrows_with_more_rounds():
    rng = np.random.default_rng(1)
    few = gap_precision(list(2 * np.exp(rng.normal(0, 0.05, 8))))
    many = gap_precision(list(2 * np.exp(rng.normal(0, 0.05, 200))))
    assert few is not None and many is not None and many < few


def test_variance_shares_add_up_and_find_the_level_that_varies():
    rng = np.random.default_rng(0)
    # drift between rounds dominates: each round at its own speed, little noise inside
    drift = [[list(10 * math.exp(d) * np.exp(rng.normal(0, 0.01, 20))) for d in rng.normal(0, 0.3, 10)]
             for _ in range(3)]
    s = variance_shares(drift)
    assert s is not None and abs(s.within_rounds + s.between_rounds + s.between_loads - 1) < 1e-9
    assert s.between_rounds > 0.8
    # page loads differ, rounds inside a load do not
    loads = [[list(10 * math.exp(d) * np.exp(rng.normal(0, 0.01, 20))) for _ in range(10)]
             for d in (-0.5, 0.0, 0.5)]
    s2 = variance_shares(loads)
    assert s2 is not None and s2.between_loads > 0.9
    assert variance_shares([[[1.0]]]) is None


def test_blocks_by_time_cut_a_load_into_pseudo_rounds():
    blocks = blocks_by_time([10.0] * 100, 0.1)  # 10 ms each, 0.1 s blocks: 10 of 10
    assert [len(b) for b in blocks] == [10] * 10
    assert sum(len(b) for b in blocks_by_time([10.0] * 105, 0.1)) == 105  # a short tail joins the last block


def _paired_rec(repeat: int, ratios: list[float], *, mode: str = "warm-process") -> CellRecord:
    rounds, lat = [], []
    for i, r in enumerate(ratios):
        b = [r * 10.0] * 5
        lat += b
        rounds.append(PairRound(browser_median_ms=r * 10.0, native_median_ms=10.0, browser_n=5, native_n=5,
                                browser_start_s=i, browser_end_s=i + 0.4, native_start_s=i + 0.4, native_end_s=i + 0.8))
    cell = Cell("local", "chromium", "m", "litert", "wasm", 1, repeat)
    return CellRecord(cell=cell, key=cell.key, status="ok", latencies_ms=tuple(lat),
                      pairing=Pairing(mode=mode, native_runtime="tflite-native", native_backend="xnnpack",
                                      native_threads=1, round_s=0.5, rounds=tuple(rounds), gap=float(np.median(ratios))))


def test_pairing_round_trips_through_json_and_old_records_have_none():
    rec = _paired_rec(0, [2.0, 2.2, 1.8])
    again = CellRecord.from_json(rec.to_json())
    assert again.pairing == rec.pairing and isinstance(again.pairing.rounds[0], PairRound)
    assert again.pairing.ratios() == [2.0, 2.2, 1.8]
    old = CellRecord.from_json({k: v for k, v in rec.to_json().items() if k != "pairing"})
    assert old.pairing is None and "pairing" not in old.to_json()


def test_rows_keep_paired_and_unpaired_loads_apart():
    native = CellRecord(cell=Cell("local", "native", "m", "tflite-native", "xnnpack", 1, 0), status="ok",
                        latencies_ms=tuple([10.0] * 20))
    unpaired_cell = Cell("local", "chromium", "m", "litert", "wasm", 1, 2)
    unpaired = CellRecord(cell=unpaired_cell, key=unpaired_cell.key, status="ok", latencies_ms=tuple([50.0] * 20),
                          pairing=Pairing(unpaired_reason="pairing off (--no-pairing)"))
    recs = [native, _paired_rec(0, [2.0, 2.1, 1.9, 2.0, 2.0]), _paired_rec(1, [2.0, 2.0, 2.05, 1.95, 2.0]), unpaired]
    (nrow, row) = build_rows(recs)
    assert nrow["pairing"] is None and nrow["var_within_rounds"] is not None
    assert row["pairing"] == "mixed" and "pairing-mixed(2-of-3)" in row["flags"]
    assert row["paired_gap"] == 2.0 and row["rounds"] == 10  # the unpaired load's 5x never enters it
    assert "--no-pairing" in row["pairing_note"]
    assert abs(row["var_within_rounds"] + row["var_between_rounds"] + row["var_between_loads"] - 1) < 1e-3
    only_unpaired, _ = pairing_columns([unpaired], native_row=False)
    assert only_unpaired["pairing"] == "unpaired" and only_unpaired["paired_gap"] is None
    legacy, _ = pairing_columns([CellRecord(status="ok", latencies_ms=(1.0, 2.0, 3.0))], native_row=False)
    assert legacy["pairing"] == "unpaired" and "before issue 21" in legacy["pairing_note"]
