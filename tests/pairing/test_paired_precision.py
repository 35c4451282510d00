"""A paired configuration is judged by its gap's precision (issue 21): the cell's and the row's
validity (`imprecise`) and the extra repeats go by the CI95 half-width of the paired gap, not by the
browser median's, as "rounds continue until the gap's CI95 half-width is within --precision" asks."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

from mobile_webinfer.errors import MwiError
from mobile_webinfer.paired_stats import all_paired, config_gap_precision
from mobile_webinfer.records import CellRecord, InEffect, Pairing, PairRound
from mobile_webinfer.report import build_rows
from mobile_webinfer.sweep.policy import FLAGGED, VALID, with_validity
from mobile_webinfer.sweep.runner import run_sweep
from mobile_webinfer.targets.contract import Measurement
from mobile_webinfer.vocab import Budget, Cell
from tests.core.test_stopping import LoadsTarget, _Model, _spec


class _NoRefModel(_Model):
    def reference_outputs(self) -> Any:
        raise MwiError("no reference outputs here (this test reads no outputs)")


@pytest.fixture(autouse=True)
def _no_model_build(monkeypatch):
    from mobile_webinfer.sweep.runner import Runner

    monkeypatch.setattr(Runner, "models", lambda self: {"tiny_cnn": _NoRefModel()})


def _paired(ratios: list[float], browser_ms: float, *, stop: str = "time-ceiling", repeat: int = 0) -> CellRecord:
    rng = np.random.default_rng(repeat)
    rounds, lat = [], []
    for i, r in enumerate(ratios):
        b = list(browser_ms * np.exp(rng.normal(0, 0.3, 10)))  # a browser that is noisy inside each block
        lat += b
        bm = float(np.median(b))
        rounds.append(PairRound(browser_median_ms=bm, native_median_ms=bm / r, browser_n=10, native_n=10,
                                browser_start_s=i, browser_end_s=i + 0.4, native_start_s=i + 0.4, native_end_s=i + 0.8))
    gp = None if len(ratios) < 2 else float(np.std(ratios) / np.mean(ratios))
    cell = Cell("local", "chromium", "tiny_cnn", "tfjs", "wasm", 1, repeat)
    return CellRecord(cell=cell, key=cell.key, status="ok", latencies_ms=tuple(lat), stop_reason=stop,
                      precision_reached=0.2, budget={"precision": 0.02},
                      pairing=Pairing(mode="warm-process", round_s=0.5, rounds=tuple(rounds),
                                      gap=float(np.median(ratios)), gap_precision=gp, stop_reason=stop))


def test_a_paired_cell_is_judged_by_its_gap_not_by_the_browser_median():
    tight = _paired([2.0, 2.01, 1.99, 2.0, 2.0, 2.01, 1.99], 50.0)  # median imprecise (0.2), gap ~0.4%
    assert tight.pairing is not None and tight.pairing.gap_precision is not None
    assert tight.pairing.gap_precision < 0.02 < (tight.precision_reached or 0)
    assert with_validity(tight, 0.02).validity == VALID
    loose = _paired([1.5, 2.5, 1.8, 2.4, 2.0], 50.0)  # the gap's CI is wide
    v = with_validity(loose, 0.02)
    assert v.validity == FLAGGED and v.validity_reasons[0].startswith("imprecise(")
    assert v.validity_reasons[0] == f"imprecise({100 * loose.pairing.gap_precision:.1f}%)"
    # the same loose cell unpaired is judged by its median (here the record says 0.2): still imprecise
    plain = CellRecord(status="ok", latencies_ms=tight.latencies_ms, stop_reason="time-ceiling", precision_reached=0.01)
    assert with_validity(plain, 0.02).validity == VALID


def test_a_paired_row_is_judged_by_its_gaps_ci95():
    native = CellRecord(cell=Cell("local", "native", "tiny_cnn", "tflite-native", "xnnpack", 1, 0), status="ok",
                        latencies_ms=tuple([25.0] * 50))
    tight = [_paired([2.0, 2.01, 1.99, 2.0, 2.0, 2.01, 1.99], m, repeat=i) for i, m in enumerate((50.0, 50.0))]
    assert all_paired(tight) and (config_gap_precision(tight) or 1) < 0.02
    row = next(r for r in build_rows([native, *tight]) if r["runtime"] == "tfjs")
    assert row["precision"] > 0.02  # the browser median's CI is wide (noisy blocks)
    assert row["paired_precision"] < 0.02 and row["validity"] == VALID and "imprecise" not in row["flags"]
    loose = [_paired(rs, 50.0, repeat=i) for i, rs in enumerate(([1.6, 1.7, 1.65, 1.7, 1.6], [2.4, 2.5, 2.45, 2.4, 2.5]))]
    row2 = next(r for r in build_rows([native, *loose]) if r["runtime"] == "tfjs")
    assert row2["paired_precision"] > 0.02 and row2["validity"] == FLAGGED
    assert row2["validity_reasons"][0] == f"imprecise({100 * row2['paired_precision']:.1f}%)"
    assert not all_paired([*tight, CellRecord(status="ok", latencies_ms=(1.0,))])
    assert config_gap_precision([CellRecord(status="ok", latencies_ms=(1.0,))]) is None


class PairedLoadsTarget(LoadsTarget):
    """Browser cells measured paired: each load's rounds have the ratio `gaps[repeat % len]` (2 % round
    noise); the browser's own latencies are the same in every load (its median is precise)."""

    def __init__(self, gaps: tuple[float, ...]):
        super().__init__((25.0,))
        self.gaps = gaps

    def browsers(self) -> list[str]:
        return ["chromium"]

    def measure(self, cell: Cell, model: Any, server: Any, budget: Budget, stop: threading.Event) -> Measurement:
        if cell.is_native:
            return super().measure(cell, model, server, budget, stop)
        self.measured.append(cell.key)
        g = self.gaps[cell.repeat % len(self.gaps)]
        rng = np.random.default_rng(cell.repeat)
        ratios = list(g * np.exp(rng.normal(0, 0.02, 8)))
        rounds = tuple(PairRound(browser_median_ms=50.0, native_median_ms=50.0 / r, browser_n=10, native_n=10,
                                 browser_start_s=i, browser_end_s=i + 0.4, native_start_s=i + 0.4,
                                 native_end_s=i + 0.8) for i, r in enumerate(ratios))
        lat = tuple(rng.normal(50.0, 0.05, 80))
        rec = CellRecord(status="ok", latencies_ms=lat, wall_s=1.0, stop_reason="precision", precision_reached=0.001,
                         in_effect=InEffect(runtime=cell.runtime, backend=cell.backend, threads=cell.threads),
                         pairing=Pairing(mode="warm-process", round_s=0.5, rounds=rounds,
                                         gap=float(np.median(ratios)), gap_precision=0.01, stop_reason="precision"))
        return Measurement(rec)


def _browser_repeats(run_dir) -> list[int]:
    from mobile_webinfer.store import RunStore

    return sorted(r["cell"]["repeat"] for r in RunStore.open(run_dir).results() if r["cell"]["runtime"] == "tfjs")


def test_extra_repeats_of_a_paired_configuration_go_by_the_gap(tmp_path):
    # the browser median is the same in every load: by it, no extra repeat; the loads' gaps differ
    # (2.0 / 2.1 / then between): the paired gap's CI misses 2 %, so more loads are measured
    t = PairedLoadsTarget((2.0, 2.1, 2.05, 2.05, 2.05, 2.05))
    out = run_sweep(_spec(max_repeat_factor=3, max_time_s=100), out_root=tmp_path / "a", make_target=lambda n: t)
    reps = _browser_repeats(out.store.run_dir)
    assert reps[:3] == [0, 1, 2] and len(reps) <= 6
    # loads that agree on the gap: no extra repeat
    t2 = PairedLoadsTarget((2.0,))
    out2 = run_sweep(_spec(max_repeat_factor=3, max_time_s=100), out_root=tmp_path / "b", make_target=lambda n: t2)
    assert _browser_repeats(out2.store.run_dir) == [0, 1]
