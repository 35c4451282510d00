"""QoE rows in the report: the gap table's GUI delay column, the QoE table and chart of the HTML report
(opened in real headless Chromium), and cells.parquet keeping latency and QoE rows apart."""

from __future__ import annotations

import random

import pyarrow.parquet as pq
import pytest

from mobile_webinfer.htmlreport import write_report
from mobile_webinfer.records import CellRecord, Qoe
from mobile_webinfer.report import build_rows
from mobile_webinfer.store import RunStore
from mobile_webinfer.vocab import Cell
from tests.report.synthetic import make_run
from tests.report.test_report_browser import _check_in_chromium

pytestmark = pytest.mark.browser
TASKS = ("list", "restyle", "scroll", "inputs", "canvas", "animation")


def _qoe(cell: Cell, per_task_ms: float, rng: random.Random) -> CellRecord:
    infer = cell.qoe_mode != "baseline"
    q = Qoe(mode=cell.qoe_mode, rounds=4,
            tasks=tuple({"name": n, "round": r, "ms": per_task_ms * rng.uniform(0.9, 1.1)}
                        for r in range(4) for n in TASKS),
            frames={"source": "in-page rAF", "count": 100, "long_frames": 30 if cell.qoe_mode == "main" else 2,
                    "span_ms": 2000.0},
            taps=({"delay_ms": 3.0, "paint_ms": 12.0},), taps_sent=1, tap_source="cdp Input.dispatchMouseEvent",
            window_ms=2000.0, inferences=20 if infer else 0, inference_ms=(40.0,) * 20 if infer else ())
    return CellRecord(cell=cell, key=cell.key, status="ok", qoe=q)


def test_the_report_shows_qoe_beside_the_gap_table(tmp_path):
    run_dir = make_run(tmp_path, targets=("local",), models=1, repeats=1, latencies=10)
    store = RunStore.open(run_dir)
    lat = next(c for c in (CellRecord.from_json(r).cell for r in store.results()) if c and not c.is_native)
    rng = random.Random(3)
    for rep in range(3):
        for mode, ms in (("baseline", 10.0), ("main", 25.0), ("worker", 11.0)):
            c = Cell(lat.target, lat.browser, lat.model, lat.runtime, lat.backend, lat.threads, rep, "qoe", mode)
            store.append_result(_qoe(c, ms, rng).to_json())
    rows = build_rows(store.results())
    gap_row = next(r for r in rows if "qoe_mode" not in r and r["runtime"] == lat.runtime
                   and r["backend"] == lat.backend and r["threads"] == lat.threads)
    assert gap_row["gui_delay_pct"] == pytest.approx(150, abs=20) and gap_row["gui_delay_ci95"]
    index = write_report(run_dir)
    html = index.read_text()
    assert "What the user feels (QoE)" in html and "local-qoe.png" in html
    _check_in_chromium(index, ["local"], tmp_path / "report-qoe.png")
    cells = pq.read_table(run_dir / "cells.parquet").to_pylist()
    qoe_cells = [c for c in cells if c["key"].endswith(("qoe-baseline", "qoe-main", "qoe-worker"))]
    assert len(qoe_cells) == 9 and all(c["qoe_mode"] == c["key"].rsplit("-", 1)[1] for c in qoe_cells)
    assert all(c["qoe_mode"] is None for c in cells if c not in qoe_cells)   # latency cells keep their own row
