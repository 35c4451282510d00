"""QoE cells on the local target in real headless Chromium (tiny_cnn): the GUI workload alone is
stable across page loads; a busy loop of known length on the main thread delays it as expected
(its frames stay short from a Web Worker).  A runtime that cannot run in a worker: tests/qoe/test_fakephone.py."""

from __future__ import annotations

import dataclasses
import statistics
import threading

import pytest

from mobile_webinfer.qoe_metrics import qoe_rows, round_times
from mobile_webinfer.targets.local import LocalTarget
from mobile_webinfer.vocab import Budget, Cell, QoeOptions
from mobile_webinfer.web.server import PageServer

pytestmark = pytest.mark.browser

BUDGET = Budget(stall_timeout_s=60.0, cell_timeout_s=120.0)
BLOCK_MS = 60.0
LOADS = 5
#: the workload's spread across page loads; 10% is the aim (measured here: see the report).  This
#: VM's own speed shifts by 20-30% for seconds at a time, and 5 loads of 3 rounds saw CVs of
#: 14-20% (one 19.2% with a second test run beside it), so the bound is 35%: a workload whose
#: loads differ by 2x (a bug) still fails
MAX_CV = 0.35


@pytest.fixture(scope="module")
def tiny():
    from mobile_webinfer.models.build import ensure_built

    return ensure_built("tiny_cnn")


@pytest.fixture(scope="module")
def server(tiny):
    from mobile_webinfer.paths import PAGES_DIR
    from mobile_webinfer.web.vendor import ensure_vendor

    ensure_vendor(PAGES_DIR)
    with PageServer(models_dir=tiny.dir.parent) as srv:
        yield srv


def _measure(tiny, server, runtime: str, mode: str, repeat: int = 0, block_ms: float = 0.0):
    target = LocalTarget(qoe=QoeOptions(rounds=3, gap_ms=30.0, block_ms=block_ms))
    cell = Cell("local", "chromium", "tiny_cnn", runtime, "wasm", 1, repeat, "qoe", mode)
    rec = target.measure(cell, tiny, server, BUDGET, threading.Event()).record
    return dataclasses.replace(rec, cell=cell, key=cell.key)


@pytest.fixture(scope="module")
def baselines(tiny, server):
    return [_measure(tiny, server, "tfjs", "baseline", r) for r in range(LOADS)]


def test_the_workload_alone_is_stable_across_page_loads(baselines):
    assert all(r.ok for r in baselines), [r.error for r in baselines]
    meds = [statistics.median(round_times(r)) for r in baselines]
    cv = statistics.stdev(meds) / statistics.mean(meds)
    print(f"\nbaseline round medians over {LOADS} page loads: {[round(m, 1) for m in meds]} ms, CV {cv:.1%}")
    assert cv < MAX_CV
    for r in baselines:
        q = r.qoe
        assert q is not None and len(q.tasks) == 3 * 6 and q.inferences == 0
        assert q.frames and q.frames["count"] > 10
        # the host's CDP taps reached the page and were timed there
        assert q.tap_source == "cdp Input.dispatchMouseEvent" and q.taps_sent and len(q.taps) >= 1
        assert all(t["on_pad"] for t in q.taps) and q.first_tap_wait_ms is not None
        assert q.event_timing_supported is True   # Chromium has the Event Timing API


def test_a_busy_main_thread_delays_the_gui_and_a_worker_does_not(tiny, server, baselines):
    main = _measure(tiny, server, "tfjs", "main", block_ms=BLOCK_MS)
    worker = _measure(tiny, server, "tfjs", "worker", block_ms=BLOCK_MS)
    assert main.ok and worker.ok, (main.error, worker.error)
    for rec in (main, worker):   # the stand-in "inference" costs what it was told to
        assert rec.qoe is not None and BLOCK_MS <= statistics.median(rec.qoe.inference_ms) < BLOCK_MS * 1.4
    rows = {r["qoe_mode"]: r for r in qoe_rows([*baselines, main, worker])}
    m, w = rows["main"], rows["worker"]
    print(f"\nbusy loop {BLOCK_MS:g} ms: GUI delay main {m['gui_delay_pct']:+.0f}% {m['gui_delay_ci95']}, worker "
          f"{w['gui_delay_pct']:+.0f}% {w['gui_delay_ci95']}; long frames {m['long_frame_share']:.2f} / "
          f"{w['long_frame_share']:.2f}; input delay p50 {m['input_delay_ms_p50']:.1f} / {w['input_delay_ms_p50']:.1f} ms")
    # the main thread's GUI waits behind 60 ms blocks: clearly slower, its frames long, its taps late
    assert m["gui_delay_pct"] > 50 and m["gui_delay_ci95"][0] > 0
    assert m["long_frame_share"] > 0.25 and m["long_frame_share"] > 1.5 * w["long_frame_share"]
    assert m["input_delay_ms_p50"] > max(5.0, rows["baseline"]["input_delay_ms_p50"])
    print(f"Event Timing: slow interactions main {m['slow_interactions']} (longest {m['interaction_ms_max']} ms), "
          f"baseline {rows['baseline']['slow_interactions']}")
    assert m["slow_interactions"] is not None and rows["baseline"]["slow_interactions"] is not None
    # the worker's GUI delay is reported, not bounded: on a loaded 2-core host a busy worker still takes a core
    # a worker that infers back to back: about 1000 / 60 per second
    assert 0.6 * 1000 / BLOCK_MS < w["inferences_per_s"] <= 1000 / BLOCK_MS
    assert "qoe-busy-loop" in rows["main"]["flags"]
