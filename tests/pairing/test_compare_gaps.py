"""`mwi report A B` with gaps (issue 21): a machine that got slower moves the medians, not the
paired gap; each gap is normalised by its own window's native run; the comparison says what is
comparable across the runs."""

from __future__ import annotations

import numpy as np

from mobile_webinfer.htmlreport.compare import comparable, compare_runs
from mobile_webinfer.records import CellRecord, InEffect, Pairing, PairRound
from mobile_webinfer.store import RunStore
from mobile_webinfer.vocab import Cell


def _run(root, label: str, *, device: str, speed: float, native_version: str, seed: int):
    """One load of a browser cell paired with native (gap 2.0 with noise) on a machine `speed` x slower."""
    rng = np.random.default_rng(seed)
    store = RunStore.create(root, {"targets": {"phone": {"fingerprint_id": device}}}, label=label)
    nat = Cell("phone", "native", "m", "tflite-native", "xnnpack", 1, 0)
    store.append_result(CellRecord(cell=nat, key=nat.key, status="ok",
                                   latencies_ms=tuple(10.0 * speed * np.exp(rng.normal(0, 0.01, 50))),
                                   in_effect=InEffect(versions={"tflite": native_version})).to_json())
    for rep in range(2):
        cell = Cell("phone", "chrome", "m", "litert", "wasm", 1, rep)
        rounds, lat = [], []
        for i in range(12):
            drift = speed * float(np.exp(rng.normal(0, 0.1)))  # the machine's speed in this round, both sides
            b = list(20.0 * drift * np.exp(rng.normal(0, 0.01, 8)))
            n = 10.0 * drift * float(np.exp(rng.normal(0, 0.01)))
            lat += b
            rounds.append(PairRound(browser_median_ms=float(np.median(b)), native_median_ms=n, browser_n=8, native_n=8,
                                    browser_start_s=i, browser_end_s=i + 0.5, native_start_s=i + 0.5,
                                    native_end_s=i + 1.0))
        p = Pairing(mode="benchmark_model-chunks", native_runtime="tflite-native", native_backend="xnnpack",
                    native_threads=1, round_s=0.5, rounds=tuple(rounds), native_version=native_version)
        store.append_result(CellRecord(cell=cell, key=cell.key, status="ok", latencies_ms=tuple(lat),
                                       pairing=p).to_json())
    return store.run_dir


def test_slower_machine_moves_medians_not_the_paired_gap(tmp_path):
    a = _run(tmp_path, "a", device="X", speed=1.0, native_version="2.3.0", seed=1)
    b = _run(tmp_path, "b", device="X", speed=1.5, native_version="2.3.0", seed=2)
    (c,) = [x for x in compare_runs([a, b]) if "litert" in x.key]
    assert c.significant and 1.3 < c.ratio < 1.7            # the medians moved with the machine
    g = c.gap
    assert g is not None and g.gap_source == "paired" and g.gap_ratio_ci95 is not None
    assert abs(g.gap_a - 2.0) < 0.05 and abs(g.gap_b - 2.0) < 0.05
    assert not g.gap_significant and g.gap_ratio_ci95[0] < 1 < g.gap_ratio_ci95[1]
    assert g.same_device and g.same_native_build and g.comparable == "medians and gaps"
    j = c.to_json()
    assert {"gap_a", "gap_b", "gap_ratio", "gap_ratio_ci95", "gap_significant", "gap_source", "comparable"} <= set(j)


def test_what_is_comparable_across_runs(tmp_path):
    a = _run(tmp_path, "a", device="X", speed=1.0, native_version="2.3.0", seed=1)
    other_phone = _run(tmp_path, "b", device="Y", speed=1.2, native_version="2.3.0", seed=3)
    new_build = _run(tmp_path, "c", device="X", speed=1.0, native_version="2.4.0", seed=4)
    (g1,) = [x.gap for x in compare_runs([a, other_phone]) if "litert" in x.key]
    (g2,) = [x.gap for x in compare_runs([a, new_build]) if "litert" in x.key]
    assert g1 is not None and g1.comparable == "gaps" and g1.same_device is False
    assert g2 is not None and g2.comparable == "medians" and g2.same_native_build is False
    assert comparable(None, None) == "neither"
