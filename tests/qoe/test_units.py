"""QoE cells without a browser: cell identity (latency keys unchanged), records round-trip, the
plan, the page's result schema, and the delay arithmetic of the report rows."""

from __future__ import annotations

import dataclasses

import pytest

from mobile_webinfer.errors import UsageError
from mobile_webinfer.qoe_metrics import qoe_rows, round_times
from mobile_webinfer.records import CellRecord, Qoe
from mobile_webinfer.report import build_rows
from mobile_webinfer.sweep.spec import SweepSpec, plan_cells
from mobile_webinfer.vocab import Cell
from mobile_webinfer.web.protocol import InvalidResult, QoeConfig
from mobile_webinfer.web.qoe_protocol import validate_qoe_result

TASKS = ("list", "restyle", "scroll", "inputs", "canvas", "animation")


def test_latency_cells_keep_their_key_and_stored_form_qoe_cells_differ():
    c = Cell("local", "chromium", "m", "tfjs", "wasm", 1, 0)
    assert c.key == "local|chromium|m|tfjs|wasm|t1|r0"            # what earlier runs stored: resume works
    assert c.to_json() == {"target": "local", "browser": "chromium", "model": "m", "runtime": "tfjs",
                           "backend": "wasm", "threads": 1, "repeat": 0}
    keys = {Cell("local", "chromium", "m", "tfjs", "wasm", 1, 0, "qoe", m).key for m in ("baseline", "main", "worker")}
    assert len(keys) == 3 and all(k.startswith(c.key + "|qoe-") for k in keys)
    with pytest.raises(ValueError):
        Cell("local", "chromium", "m", "tfjs", "wasm", 1, 0, "qoe", "")
    with pytest.raises(ValueError):
        Cell("local", "chromium", "m", "tfjs", "wasm", 1, 0, "latency", "main")


def test_records_round_trip_and_old_records_load_as_latency():
    old = {"cell": {"target": "local", "browser": "chromium", "model": "m", "runtime": "tfjs", "backend": "wasm",
                    "threads": 1, "repeat": 0}, "key": "local|chromium|m|tfjs|wasm|t1|r0", "status": "ok",
           "schema_version": 2}
    rec = CellRecord.from_json(old)
    assert rec.cell is not None and rec.cell.kind == "latency" and rec.qoe is None
    assert "qoe" not in rec.to_json()
    c = Cell("p1", "com.android.chrome", "m", "ort", "wasm", 1, 2, "qoe", "worker")
    q = Qoe(mode="worker", tasks=({"name": "list", "round": 0, "ms": 12.5},), taps_sent=3, tap_source="adb shell input tap",
            gfxinfo={"frames": 10, "janky_frames": 1})
    back = CellRecord.from_json(CellRecord(cell=c, key=c.key, status="ok", qoe=q).to_json())
    assert back.cell == c and back.key == c.key and back.qoe == q


def test_plan_adds_the_three_modes_and_qoe_only_drops_latency_and_native():
    spec = SweepSpec(models=["m"], runtimes=["tfjs"], backends=["wasm"], threads=[1], repeats=2, qoe=True)
    cells = plan_cells(spec, "local", ["chromium"], ["xnnpack"])
    assert sum(1 for c in cells if c.kind == "latency" and not c.is_native) == 2
    assert [c.qoe_mode for c in cells if c.is_qoe] == ["baseline", "main", "worker"] * 2
    spec.qoe_only = True
    only = plan_cells(spec, "local", ["chromium"], ["xnnpack"])
    assert only and all(c.is_qoe for c in only) and len(only) == 6


def _page(mode: str, tasks: list[dict], **over) -> dict:
    q = {"mode": mode, "tasks": tasks, "frames": {"source": "in-page rAF", "count": 10, "long_frames": 1},
         "taps": [{"delay_ms": 1.5, "paint_ms": 9.0}], "window_ms": 1000.0,
         "inferences": 0 if mode == "baseline" else 2, "inference_ms": [] if mode == "baseline" else [5.0, 6.0]}
    q.update(over)
    return {"cell": "c1", "status": "ok", "error": None, "runtime": "tfjs", "backend_requested": "wasm",
            "backend": "wasm", "qoe": q}


def test_page_results_are_checked_against_the_cell(tiny_config):
    cfg = tiny_config("main")
    tasks = [{"name": "list", "round": 0, "ms": 3.0}]
    res = validate_qoe_result(_page("main", tasks), cfg)
    assert res.ok and res.frames is not None and res.raw["qoe"]["inferences"] == 2
    with pytest.raises(InvalidResult, match="mode"):
        validate_qoe_result(_page("worker", tasks), cfg)
    with pytest.raises(InvalidResult, match="no inference"):
        validate_qoe_result(_page("main", tasks, inferences=0, inference_ms=[]), cfg)
    with pytest.raises(InvalidResult, match="tasks"):
        validate_qoe_result(_page("main", [{"name": "nope", "round": 0, "ms": 1.0}]), cfg)
    with pytest.raises(UsageError):
        QoeConfig(mode="sideways")


@pytest.fixture
def tiny_config():
    from mobile_webinfer.web.protocol import CellConfig, ModelRef, TensorSpec

    def make(mode: str) -> CellConfig:
        model = ModelRef(name="tiny", format="tfjs", url="/models/tiny/model.json",
                         inputs=(TensorSpec("x", (1, 4), "float32", "/models/tiny/x.bin"),),
                         outputs=(TensorSpec("y", (1, 2), "float32"),))
        return CellConfig(runtime="tfjs", backend="wasm", threads=1, model=model, cell="c1", qoe=QoeConfig(mode=mode))
    return make


def _rec(mode: str, repeat: int, per_task_ms: float) -> CellRecord:
    c = Cell("local", "chromium", "m", "tfjs", "wasm", 1, repeat, "qoe", mode)
    tasks = tuple({"name": n, "round": r, "ms": per_task_ms + r * 0.1} for r in range(4) for n in TASKS)
    q = Qoe(mode=mode, tasks=tasks, frames={"source": "in-page rAF", "count": 50, "long_frames": 5, "span_ms": 1000.0},
            taps=({"delay_ms": 2.0, "paint_ms": 10.0},), window_ms=2000.0,
            inferences=0 if mode == "baseline" else 10, inference_ms=() if mode == "baseline" else (50.0,) * 10)
    return CellRecord(cell=c, key=c.key, status="ok", qoe=q)


def test_rows_give_the_delay_over_the_baseline_with_a_ci_and_the_contract_keys():
    recs = [_rec("baseline", r, 10.0) for r in range(3)] + [_rec("main", r, 15.0) for r in range(3)]
    c = Cell("local", "chromium", "m", "tfjs", "wasm", 1, 0, "qoe", "worker")
    recs.append(CellRecord(cell=c, key=c.key, status="unsupported", error="unsupported: no worker"))
    assert round_times(recs[0])[0] == pytest.approx(60.0)
    rows = {r["qoe_mode"]: r for r in qoe_rows(recs)}
    main = rows["main"]
    assert main["gui_delay_pct"] == pytest.approx(50.0, abs=1.0)
    lo, hi = main["gui_delay_ci95"]
    assert lo <= main["gui_delay_pct"] <= hi
    assert main["fps"] == pytest.approx(50.0) and main["long_frame_share"] == pytest.approx(0.1)
    assert main["inferences_per_s"] == pytest.approx(5.0) and main["input_delay_ms_p50"] == 2.0
    assert rows["worker"]["error"] and "unsupported" in rows["worker"]["flags"]
    contract = {"qoe_mode", "gui_task_median_ms", "gui_delay_pct", "gui_delay_ci95", "fps", "long_frame_share",
                "input_delay_ms_p50", "inferences_per_s"}
    out = build_rows(recs)
    assert [r["qoe_mode"] for r in out] == ["baseline", "main", "worker"]
    assert all(contract <= set(r) for r in out)


def test_taps_that_never_landed_or_missed_the_pad_are_flagged(tiny_config):
    def with_taps(rec: CellRecord, taps: tuple, sent: int | None, wait: float | None) -> CellRecord:
        assert rec.qoe is not None
        return dataclasses.replace(rec, qoe=dataclasses.replace(rec.qoe, taps=taps, taps_sent=sent, first_tap_wait_ms=wait))

    base = [with_taps(_rec("baseline", r, 10.0), ({"delay_ms": 1.0, "on_pad": True},), 4, 300.0 + r) for r in range(2)]
    lost = [with_taps(_rec("main", r, 15.0), (), 5, None) for r in range(2)]           # sent, none landed
    missed = [with_taps(_rec("worker", 0, 11.0), ({"delay_ms": 1.0, "on_pad": False}, {"delay_ms": 2.0, "on_pad": True}),
                        2, 800.0)]
    rows = {r["qoe_mode"]: r for r in qoe_rows([*base, *lost, *missed])}
    assert rows["baseline"]["first_tap_wait_ms"] == pytest.approx(300.5) and rows["baseline"]["taps_seen"] == 2
    assert "no-taps-reached-page" in rows["main"]["flags"] and rows["main"]["input_delay_ms_p50"] is None
    assert rows["main"]["first_tap_wait_ms"] is None
    assert "taps-off-pad(1-of-2)" in rows["worker"]["flags"] and not any(
        f.startswith("taps-off-pad") or f == "no-taps-reached-page" for f in rows["baseline"]["flags"])
    # the page's own fields are checked
    cfg = tiny_config("baseline")
    tasks = [{"name": "list", "round": 0, "ms": 3.0}]
    ok = validate_qoe_result(_page("baseline", tasks, first_tap_wait_ms=412.5,
                                   taps=[{"delay_ms": 1.0, "paint_ms": 5.0, "on_pad": True}]), cfg)
    assert ok.raw["qoe"]["first_tap_wait_ms"] == 412.5
    with pytest.raises(InvalidResult, match="on_pad"):
        validate_qoe_result(_page("baseline", tasks, taps=[{"delay_ms": 1.0, "paint_ms": 5.0, "on_pad": "yes"}]), cfg)
    with pytest.raises(InvalidResult, match="first_tap_wait_ms"):
        validate_qoe_result(_page("baseline", tasks, first_tap_wait_ms=-1), cfg)
    with pytest.raises(UsageError, match="tap_wait_ms"):
        QoeConfig(mode="main", tap_wait_ms=-5)


def test_event_timing_is_summarised_where_the_browser_has_it():
    def rec(mode: str, repeat: int, supported: bool | None, entries: tuple) -> CellRecord:
        r = _rec(mode, repeat, 10.0)
        assert r.qoe is not None
        return dataclasses.replace(r, qoe=dataclasses.replace(r.qoe, event_timing_supported=supported,
                                                               event_timing=entries))

    slow = ({"input_delay_ms": 30.0, "duration_ms": 96.0}, {"input_delay_ms": 2.0, "duration_ms": 24.0})
    rows = {r["qoe_mode"]: r for r in qoe_rows([rec("baseline", 0, True, ()), rec("main", 0, True, slow[:1]),
                                                rec("main", 1, True, slow[1:]), rec("worker", 0, None, slow)])}
    assert rows["baseline"]["slow_interactions"] == 0 and rows["baseline"]["interaction_ms_max"] is None
    assert rows["main"]["slow_interactions"] == 2 and rows["main"]["interaction_ms_max"] == 96.0
    # a browser without the API says nothing, rather than "no slow interaction"
    assert rows["worker"]["slow_interactions"] is None and rows["worker"]["interaction_ms_max"] is None


def test_qoe_rounds_from_the_flag_or_the_spec_file(tmp_path):
    from mobile_webinfer.cli.sweep_cmd import build_spec

    base: dict = dict(targets=["local"], models=None, runtimes=None, backends=None, threads=None, repeats=None,
                      quick=True, native=True, iterations=None, warmups=None, time_budget=None, chromium=None)
    assert build_spec(**base).qoe_rounds == 6
    f = tmp_path / "spec.toml"
    f.write_text("qoe_rounds = 2\n")
    assert build_spec(**base, spec_file=f).qoe_rounds == 2
    assert build_spec(**base, spec_file=f, qoe_rounds=9).qoe_rounds == 9   # the flag wins
    with pytest.raises(UsageError, match="--qoe-rounds"):
        build_spec(**base, qoe_rounds=0)
