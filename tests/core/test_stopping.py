"""Adaptive run counts, warm-up by convergence, calibrated stability and validity (issue 11).

Synthetic latency streams with a known spread, through the one stopping rule (mobile_webinfer/stats.py)
and its mirror in the page (pages/stopping.js, run in node); the runner's extra repeats against an
in-process target whose page loads disagree."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mobile_webinfer.records import CellRecord, InEffect
from mobile_webinfer.report import build_rows
from mobile_webinfer.stats import (
    SLOW_FLOOR,
    StopRule,
    WarmupRule,
    calibrated_flags,
    median_ci_ranks,
    median_halfwidth_rel,
    outlier_count,
    run_until,
    warm_up,
)
from mobile_webinfer.sweep.policy import FLAGGED, INVALID, VALID, validity, with_validity
from mobile_webinfer.sweep.runner import run_sweep
from mobile_webinfer.sweep.spec import SweepSpec
from mobile_webinfer.targets.contract import Measurement, ProfileCapture
from mobile_webinfer.vocab import Budget, Cell

ROOT = Path(__file__).resolve().parents[2]
STOPPING_JS = ROOT / "pages" / "stopping.js"


def _run(stream, rule: StopRule):
    """The rule over `stream` with a clock that advances by each latency (ms)."""
    it = iter(stream)
    t = [0.0]

    def sample() -> float:
        x = float(next(it))
        t[0] += x / 1000
        return x

    return run_until(sample, rule, lambda: t[0])


def expected_count(cv: float, precision: float) -> int:
    """Where a normal stream of this CV should stop: order statistic X(k) ~ m + (k/n - 1/2) / f(m), so
    the CI's half-width over the median is (hi - lo) / (2 n f(m) m), with f(m) m = 1 / (cv sqrt(2 pi))."""
    for n in range(2, 100_000):
        lo, hi = median_ci_ranks(n)
        if (hi - lo) * cv * math.sqrt(2 * math.pi) / (2 * n) <= precision:
            return n
    raise AssertionError("no count")


def test_order_statistic_ci_covers_the_median_95_percent():
    rng = np.random.default_rng(3)
    hits = 0
    for _ in range(400):
        xs = np.sort(rng.exponential(1.0, 41))
        lo, hi = median_ci_ranks(41)
        hits += xs[lo] <= math.log(2) <= xs[hi]
    assert 0.92 <= hits / 400 <= 0.995


@pytest.mark.parametrize("cv", [0.05, 0.10])
def test_known_spread_stops_at_the_expected_count(cv):
    want = expected_count(cv, 0.02)
    counts = []
    for seed in range(150):
        stream = np.random.default_rng(seed).normal(100, 100 * cv, 50_000)
        xs, why, reached = _run(stream, StopRule(precision=0.02, min_iterations=10, max_iterations=50_000,
                                                 max_time_s=1e9))
        assert why == "precision" and reached is not None and reached <= 0.02
        counts.append(len(xs))
    # the first crossing scatters around `want`; the 5% checkpoints add at most 5% on top
    assert 0.8 * want <= float(np.median(counts)) <= 1.2 * want, (want, np.median(counts))


def test_a_stream_that_never_converges_hits_the_ceiling_and_is_flagged_imprecise():
    stream = np.random.default_rng(1).lognormal(3.0, 1.0, 10_000)  # CV ~130%: 2% needs ~10^4 runs
    xs, why, reached = _run(stream, StopRule(precision=0.02, min_iterations=10, max_iterations=200, max_time_s=1e9))
    assert (len(xs), why) == (200, "count-ceiling") and reached is not None and reached > 0.05
    xs2, why2, _ = _run(stream, StopRule(precision=0.02, min_iterations=10, max_iterations=10_000, max_time_s=2.0))
    assert why2 == "time-ceiling" and sum(xs2[:-1]) / 1000 < 2.0 <= sum(xs2) / 1000
    rec = CellRecord(status="ok", latencies_ms=tuple(xs), stop_reason=why, precision_reached=reached)
    got = with_validity(rec, 0.02)
    assert got.validity == FLAGGED and "imprecise" in got.flags
    assert got.validity_reasons == (f"imprecise({100 * reached:.1f}%)",)
    # a run slower than the time ceiling keeps SLOW_FLOOR runs, not the whole floor; a fixed budget
    # (precision 0) keeps its floor; precision 0 never stops early (as studies use)
    xs3, why3, _ = _run([1000.0] * 50, StopRule(precision=0.02, min_iterations=5, max_iterations=50, max_time_s=0.5))
    assert (len(xs3), why3) == (SLOW_FLOOR, "time-ceiling")
    xs5, why5, _ = _run([1000.0] * 50, StopRule(precision=0.0, min_iterations=5, max_iterations=50, max_time_s=0.5))
    assert (len(xs5), why5) == (5, "time-ceiling")
    xs4, why4, _ = _run([10.0] * 100, StopRule(precision=0.0, min_iterations=5, max_iterations=30, max_time_s=1e9))
    assert (len(xs4), why4) == (30, "count-ceiling")


def _drifting(n_drift: int, rng) -> list[float]:
    """Warm-up latencies falling from 200 to 100 ms over n_drift runs (JIT tiers, caches), then flat."""
    drift = list(np.linspace(200, 100, n_drift))
    return drift + list(100 + rng.normal(0, 1.0, 200))


def test_a_drifting_warmup_is_detected_until_the_drift_stops():
    # the rule sees a drift steeper than drift / window per run (1%): here 100 ms over 30 runs, 1.7-3.4%
    rule = WarmupRule(min_runs=10, max_runs=150, window=5, drift=0.05, max_time_s=1e9)
    for seed in range(20):
        stream = _drifting(30, np.random.default_rng(seed))
        it = iter(stream)
        t = [0.0]

        def call(it=it, t=t) -> None:
            t[0] += next(it) / 1000

        ws, converged = warm_up(call, rule, lambda t=t: t[0])
        # two 5-run windows 5 runs apart differ by 5 x 3.4 = 17 ms (> 5%) while it drifts: not converged then
        assert converged is True and 30 - 2 <= len(ws) <= 30 + 2 * rule.window, len(ws)
    flat = list(100 + np.random.default_rng(0).normal(0, 1.0, 100))
    assert WarmupRule(min_runs=10, max_runs=150).done(flat[:10], 0.0)      # flat: the floor is enough
    never = list(np.linspace(400, 100, 40))  # still falling 2-8% per run when the ceiling comes
    rule2 = WarmupRule(min_runs=10, max_runs=40, window=5, drift=0.05, max_time_s=1e9)
    assert not any(rule2.done(never[:n], 0.0) for n in range(40)) and rule2.converged(never[:40]) is False
    assert WarmupRule(min_runs=3, max_runs=3).converged(never[:3]) is None  # a fixed count is not judged


def test_calibrated_stability_names_the_noisy_level_and_spares_ordinary_noise():
    rng = np.random.default_rng(5)
    same = [list(rng.normal(50, 7.5, 80)) for _ in range(3)]       # CV 15% everywhere, loads agree
    assert calibrated_flags(same) == []                              # the old rule flagged this `unstable-cv>=10%`
    apart = [list(rng.normal(m, 0.5, 80)) for m in (50, 60, 45)]    # tight loads that disagree
    assert calibrated_flags(apart) == ["unstable-between-loads"]
    bimodal = [list(rng.choice([20.0, 60.0], 80)) for _ in range(3)]
    assert "unstable-within-load" in calibrated_flags(bimodal)
    assert outlier_count([10.0] * 20 + [11.0] * 20 + [500.0]) == 1   # kept and counted, never dropped


def test_validity_rule():
    assert validity([], measured=True) == (VALID, [])
    assert validity(["software-gpu", "vs-native-cpu", "threads-in-effect=1"], measured=True) == (VALID, [])
    assert validity(["imprecise"], measured=True, precision=0.031) == (FLAGGED, ["imprecise(3.1%)"])
    assert validity(["thermal-status-rose=2", "low-battery"], measured=True) == \
        (FLAGGED, ["battery-below-min", "thermal-rise"])
    assert validity(["few-samples", "unstable-within-load", "warmup-not-converged"], measured=True)[0] == FLAGGED
    assert validity(["page-hidden"], measured=True) == (INVALID, ["page-hidden"])
    assert validity(["backend-fell-back", "imprecise"], measured=True) == (INVALID, ["backend-mismatch", "imprecise"])
    assert validity([], measured=False) == (INVALID, ["not-measured"])


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_page_rule_is_the_python_rule():
    rng = np.random.default_rng(9)
    streams = [list(np.round(rng.normal(100, 100 * cv, 3000), 3)) for cv in (0.02, 0.05, 0.1, 0.3)]
    streams.append(list(np.round(rng.lognormal(3, 1, 3000), 3)))
    rule = {"precision": 0.02, "min_iterations": 10, "max_iterations": 2500, "min_time_s": 0, "max_time_s": 60}
    warm = {"min_runs": 10, "max_runs": 150, "window": 5, "drift": 0.05, "max_time_s": 1e9}
    drifts = [list(np.round(_drifting(n, np.random.default_rng(n)), 3)) for n in (15, 30, 45)]
    script = f"""
import {{ simulate, warmupDone, medianHalfwidthRel }} from {json.dumps(STOPPING_JS.as_uri())};
const streams = {json.dumps(streams)}, drifts = {json.dumps(drifts)};
const rule = {json.dumps(rule)}, warm = {json.dumps(warm)};
const out = {{ timed: streams.map((s) => simulate(s, rule)),
              warm: drifts.map((d) => {{ let n = 0; while (!warmupDone(d.slice(0, n), 0, warm)) n++; return n; }}),
              hw: streams.map((s) => medianHalfwidthRel(s.slice(0, 101))),
              slow: [0.02, 0].map((p) => simulate(Array(50).fill(1000), {{ ...rule, precision: p, max_time_s: 0.5 }})) }};
console.log(JSON.stringify(out));
"""
    p = subprocess.run(["node", "--input-type=module", "-e", script], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    js = json.loads(p.stdout)
    py_rule = StopRule(**rule)
    for s, got in zip(streams, js["timed"], strict=True):
        xs, why, reached = _run(s, py_rule)
        assert (got["n"], got["stop_reason"]) == (len(xs), why)
        assert got["precision_reached"] == pytest.approx(reached, rel=1e-12)
    py_warm = WarmupRule(**warm)
    for d, n in zip(drifts, js["warm"], strict=True):
        assert n == next(k for k in range(len(d) + 1) if py_warm.done(d[:k], 0.0))
    for p, got in zip((0.02, 0.0), js["slow"], strict=True):
        xs, why, _ = _run([1000.0] * 50, StopRule(**{**rule, "precision": p, "max_time_s": 0.5}))
        assert (got["n"], got["stop_reason"]) == (len(xs), why) == ((SLOW_FLOOR if p else 10), "time-ceiling")
    for s, h in zip(streams, js["hw"], strict=True):
        assert h == pytest.approx(median_halfwidth_rel(s[:101]), rel=1e-12)


# ---- the runner: extra repeats where the pooled CI misses the precision --------------------------------


class LoadsTarget:
    """An in-process target whose native processes each give 200 latencies around a median that
    depends on the repeat (`medians[repeat % len]`): loads that disagree keep the pooled CI wide."""

    name = "local"

    def __init__(self, medians: tuple[float, ...], wall_s: float = 1.0):
        self.medians = medians
        self.wall_s = wall_s
        self.measured: list[str] = []

    def describe(self) -> dict[str, Any]:
        return {"kind": "local"}

    def browsers(self) -> list[str]:
        return []

    def native_backends(self) -> list[str]:
        return ["xnnpack"]

    def conditions(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def recover(self) -> bool:
        return False

    def capabilities(self, server: Any) -> dict[str, Any]:
        return {}

    def measure(self, cell: Cell, model: Any, server: Any, budget: Budget, stop: threading.Event) -> Measurement:
        self.measured.append(cell.key)
        m = self.medians[cell.repeat % len(self.medians)]
        lat = tuple(np.random.default_rng(cell.repeat).normal(m, 0.005 * m, 200))
        rec = CellRecord(status="ok", latencies_ms=lat, wall_s=self.wall_s, stop_reason="precision",
                         precision_reached=median_halfwidth_rel(lat),
                         in_effect=InEffect(runtime=cell.runtime, backend=cell.backend, threads=cell.threads))
        return Measurement(rec)

    def profile(self, cell: Cell, model: Any, server: Any, budget: Budget, stop: threading.Event) -> ProfileCapture:
        return ProfileCapture(unsupported="not here")


class _Model:
    """A model manifest for the runner, without building one (the target never loads it)."""

    data: dict[str, Any] = {"task": "classification", "files": {}}

    def sha256(self, fmt: str) -> str:
        return "0" * 64

    def size_bytes(self, fmt: str) -> int:
        return 1


@pytest.fixture(autouse=True)
def _no_model_build(monkeypatch):
    from mobile_webinfer.sweep.runner import Runner

    monkeypatch.setattr(Runner, "models", lambda self: {"tiny_cnn": _Model()})


def _spec(**budget: Any) -> SweepSpec:
    return SweepSpec(models=["tiny_cnn"], runtimes=["tfjs"], backends=["wasm"], threads=[1], repeats=2,
                     capabilities=False, budget=dataclasses.replace(Budget(), **budget))


def _repeats(run_dir: Path) -> list[int]:
    from mobile_webinfer.store import RunStore

    return sorted(r["cell"]["repeat"] for r in RunStore.open(run_dir).results())


def test_runner_adds_extra_repeats_while_the_pooled_ci_misses_the_precision(tmp_path):
    # the first two loads 5% apart (pooled CI ~2.5%), the next ones between them: more loads get there
    medians = (10.0, 10.5, 10.25, 10.25, 10.25, 10.25)
    t = LoadsTarget(medians)
    out = run_sweep(_spec(max_repeat_factor=3, max_time_s=100), out_root=tmp_path, make_target=lambda n: t)
    reps = _repeats(out.store.run_dir)
    assert reps[:3] == [0, 1, 2] and 3 <= len(reps) <= 6  # planned 2, extras one round at a time, up to 3x
    (row,) = [r for r in build_rows(out.store.results()) if r["runtime"] == "tflite-native"]
    assert row["repeats"] == len(reps) and row["precision"] <= 0.02 and row["validity"] == VALID
    # resumed: the extra repeats are ordinary stored cells, nothing is measured again
    t2 = LoadsTarget(medians)
    run_sweep(_spec(), out_root=tmp_path, resume=out.store.run_dir, make_target=lambda n: t2)
    assert t2.measured == []
    # the time ceiling per configuration stops them first: loads of 1 s in 4.5 s; after the third,
    # the one more that fits cannot bring the CI to 2% (sqrt(3/4) x 2.4%)
    t3 = LoadsTarget(medians)
    out3 = run_sweep(_spec(max_repeat_factor=3, max_time_s=4.5), out_root=tmp_path, make_target=lambda n: t3)
    assert _repeats(out3.store.run_dir) == [0, 1, 2]


def test_runner_adds_no_extra_repeats_that_cannot_reach_the_precision(tmp_path):
    t = LoadsTarget((10.0, 12.0))  # loads 20% apart: even 3x the loads leaves the CI near 6%, not 2%
    out = run_sweep(_spec(max_repeat_factor=3, max_time_s=100), out_root=tmp_path, make_target=lambda n: t)
    assert _repeats(out.store.run_dir) == [0, 1]  # flagged now, not after spending the ceiling
    (row,) = [r for r in build_rows(out.store.results()) if r["runtime"] == "tflite-native"]
    assert row["repeats"] == 2 and row["precision"] > 0.02
    assert row["validity"] == FLAGGED and row["validity_reasons"][0].startswith("imprecise(")
    assert "unstable-between-loads" in row["flags"]


def test_time_ceiling_cuts_planned_repeats_and_says_so(tmp_path):
    from mobile_webinfer.records import TIME_CEILING_SKIP

    spec = dataclasses.replace(_spec(max_time_s=2.5), repeats=4)  # loads of 1 s: two fit in 2.5 s
    t = LoadsTarget((10.0,))
    out = run_sweep(spec, out_root=tmp_path, make_target=lambda n: t)
    assert len(t.measured) == 2
    stored = list(out.store.results())
    cut = [r for r in stored if r["status"] == "skipped"]
    assert [r["cell"]["repeat"] for r in cut] == [2, 3]
    assert all(r["error_kind"] == TIME_CEILING_SKIP and "--max-time-per-cell 2.5 s" in r["error"] for r in cut)
    (row,) = [r for r in build_rows(stored) if r["runtime"] == "tflite-native"]
    assert row["repeats"] == 2 and row["error"] is None and row["native_median_ms"] is not None
    assert "loads-cut-by-time-ceiling(2-of-4)" in row["flags"]
    assert row["validity"] == FLAGGED and "too-few-loads" in row["validity_reasons"]
    # resumed with the same ceiling: the cut repeats are decided, not missing
    t2 = LoadsTarget((10.0,))
    run_sweep(spec, out_root=tmp_path, resume=out.store.run_dir, make_target=lambda n: t2)
    assert t2.measured == []
    # a fixed budget (--precision 0) runs every planned repeat
    t3 = LoadsTarget((10.0,))
    fixed = dataclasses.replace(spec, budget=dataclasses.replace(spec.budget, precision=0.0))
    run_sweep(fixed, out_root=tmp_path, make_target=lambda n: t3)
    assert len(t3.measured) == 4


def test_runner_adds_nothing_where_the_loads_agree(tmp_path):
    t = LoadsTarget((10.0,))
    out = run_sweep(_spec(max_repeat_factor=3, max_time_s=100), out_root=tmp_path, make_target=lambda n: t)
    assert _repeats(out.store.run_dir) == [0, 1]
    (row,) = [r for r in build_rows(out.store.results()) if r["runtime"] == "tflite-native"]
    assert row["validity"] == VALID and row["precision"] <= 0.02 and row["validity_reasons"] == []
    stored = [r for r in out.store.results()]
    assert all(r["validity"] == VALID for r in stored)


def test_loads_affordable_and_worthwhile():
    from mobile_webinfer.sweep.policy import extra_loads_worthwhile, loads_affordable

    assert loads_affordable([], 40) == 1                 # nothing run yet: the first load always runs
    assert loads_affordable([8.7, 8.6, 8.6], 40) == 1    # 25.9 s spent, 14.1 s left: one more of ~8.6 s
    assert loads_affordable([40.1], 40) == 0             # a software-GPU load that took the whole ceiling
    assert loads_affordable([19.6, 20.1], 40) == 0       # 39.7 s spent: a third would end near 60 s
    assert loads_affordable([20.2], 40) == 1             # a second would end at 40.4 s: within jitter
    assert extra_loads_worthwhile(0.025, 2, 4, 0.02)     # 2.5% x sqrt(2/6) = 1.4%
    assert not extra_loads_worthwhile(0.10, 2, 4, 0.02)  # 10% x sqrt(2/6) = 5.8%
    assert not extra_loads_worthwhile(0.025, 2, 0, 0.02)  # no time left
