"""QoE cells summarised: GUI task times, their increase over the baseline, smoothness, input
delay, inference throughput (the rows `mwi report --json` gives for `cell.kind == "qoe"`).

A *round* is one pass over the six UI tasks (pages/gui_workload.js); its time is the sum of its
tasks' times.  GUI delay % = (median round time of the mode / median round time of the baseline
- 1) x 100, the baseline being the same target / browser / model / runtime / backend / threads;
its CI95 bootstraps page loads, then rounds within them, on both sides (`stats.ratio_ci`).  Round
times pool the task mix fairly (one of each), where a median over mixed tasks would jump between
task kinds.  `gui_task_median_ms` / `gui_task_p90_ms` are over every single task.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .records import CellRecord
from .stats import ratio_ci
from .vocab import QOE, QOE_MODES

QOE_ROW_KEYS = ("target", "browser", "model", "runtime", "backend", "threads", "qoe_mode", "repeats", "n_tasks",
                "gui_task_median_ms", "gui_task_p90_ms", "gui_round_median_ms", "gui_delay_pct", "gui_delay_ci95", "page_load_cv",
                "fps", "long_frame_share", "input_delay_ms_p50", "input_paint_ms_p50", "taps_seen", "taps_sent",
                "first_tap_wait_ms", "slow_interactions", "interaction_ms_max",
                "inferences_per_s", "inference_median_ms", "gfxinfo_janky_share", "flags", "error")


def _pct(xs: Sequence[float], q: float) -> float | None:
    return float(np.percentile(np.asarray(xs, dtype=np.float64), q)) if len(xs) else None


def task_times(rec: CellRecord) -> list[float]:
    return [float(t["ms"]) for t in (rec.qoe.tasks if rec.qoe else ()) if t.get("ms") is not None]


def round_times(rec: CellRecord) -> list[float]:
    """Per complete round (every task kind once), the sum of its task times, ms."""
    rounds: dict[int, list[float]] = defaultdict(list)
    for t in rec.qoe.tasks if rec.qoe else ():
        rounds[int(t["round"])].append(float(t["ms"]))
    kinds = len({t["name"] for t in rec.qoe.tasks}) if rec.qoe else 0
    return [sum(v) for _, v in sorted(rounds.items()) if len(v) == kinds]


def qoe_rows(records: Iterable[CellRecord]) -> list[dict[str, Any]]:
    """One row per configuration x mode (baseline, main, worker), in that order."""
    groups: dict[tuple[Any, ...], dict[str, list[CellRecord]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        c = r.cell
        if c is not None and c.kind == QOE:
            groups[(c.target, c.browser, c.model, c.runtime, c.backend, c.threads)][c.qoe_mode].append(r)
    rows = []
    for conf, modes in sorted(groups.items()):
        base_ok = [r for r in modes.get("baseline", []) if r.ok and task_times(r)]
        for mode in QOE_MODES:
            recs = modes.get(mode)
            if recs:
                rows.append(_row(conf, mode, recs, base_ok))
    return rows


def _row(conf: tuple[Any, ...], mode: str, recs: list[CellRecord], base_ok: list[CellRecord]) -> dict[str, Any]:
    tgt, browser, model, runtime, backend, threads = conf
    row: dict[str, Any] = {k: None for k in QOE_ROW_KEYS}
    ok = [r for r in recs if r.ok and r.qoe is not None and task_times(r)]
    errs = [r for r in recs if not r.ok]
    flags: set[str] = set()
    for r in recs:
        flags.update(r.flags)
    row.update(target=tgt, browser=browser, model=model, runtime=runtime, backend=backend, threads=threads,
               qoe_mode=mode, repeats=len(recs), flags=[], error=None)
    if errs:
        row["error"] = errs[-1].error or errs[-1].status
        if any(e.status == "unsupported" for e in errs):
            flags.add("unsupported")
        if len(errs) < len(recs):
            flags.add(f"{len(errs)}-of-{len(recs)}-repeats-failed")
    if any(r.qoe is not None and (r.qoe.block_ms or 0) > 0 for r in ok):
        flags.add("qoe-busy-loop")   # the test knob: a busy loop stood in for the model
    if ok:
        every = [x for r in ok for x in task_times(r)]
        row["n_tasks"] = len(every)
        row["gui_task_median_ms"] = _pct(every, 50)
        row["gui_task_p90_ms"] = _pct(every, 90)
        groups = [g for g in (round_times(r) for r in ok) if g]
        row["gui_round_median_ms"] = _pct([x for g in groups for x in g], 50)
        meds = [float(np.median(g)) for g in groups]
        if len(meds) > 1 and np.mean(meds) > 0:
            row["page_load_cv"] = float(np.std(meds, ddof=1) / np.mean(meds))
        frames = [r.qoe.frames for r in ok if r.qoe is not None and r.qoe.frames]
        count = sum(int(f.get("count") or 0) for f in frames)
        span = sum(float(f.get("span_ms") or 0.0) for f in frames)
        if count:
            row["long_frame_share"] = sum(int(f.get("long_frames") or 0) for f in frames) / count
        if span > 0:
            row["fps"] = count * 1000.0 / span
        taps = [t for r in ok if r.qoe is not None for t in r.qoe.taps]
        row["taps_seen"] = len(taps)
        sent = [r.qoe.taps_sent for r in ok if r.qoe is not None and r.qoe.taps_sent is not None]
        row["taps_sent"] = sum(sent) if sent else None
        if row["taps_sent"] and not taps:
            flags.add("no-taps-reached-page")   # sent, but none landed inside a window: no input delay to show
        off = sum(1 for t in taps if t.get("on_pad") is False)
        if off:
            flags.add(f"taps-off-pad({off}-of-{len(taps)})")   # the screen -> page mapping missed the tap pad
        # Event Timing API (where the browser has it): taps whose interaction, input to the next paint
        # after its handlers, took >= 16 ms (the API reports no shorter ones), and the longest (INP-like)
        timed = [r.qoe for r in ok if r.qoe is not None and r.qoe.event_timing_supported]
        if timed:
            durs = [float(e["duration_ms"]) for q in timed for e in q.event_timing if e.get("duration_ms") is not None]
            row["slow_interactions"] = len(durs)
            row["interaction_ms_max"] = max(durs) if durs else None
        waits = [float(r.qoe.first_tap_wait_ms) for r in ok if r.qoe is not None and r.qoe.first_tap_wait_ms is not None]
        row["first_tap_wait_ms"] = _pct(waits, 50)
        row["input_delay_ms_p50"] = _pct([float(t["delay_ms"]) for t in taps], 50)
        row["input_paint_ms_p50"] = _pct([float(t["paint_ms"]) for t in taps if t.get("paint_ms") is not None], 50)
        if mode != "baseline":
            win = sum(float(r.qoe.window_ms or 0.0) for r in ok if r.qoe is not None)
            n = sum(int(r.qoe.inferences or 0) for r in ok if r.qoe is not None)
            row["inferences_per_s"] = n * 1000.0 / win if win > 0 else None
            row["inference_median_ms"] = _pct([x for r in ok if r.qoe is not None for x in r.qoe.inference_ms], 50)
        gfx = [r.qoe.gfxinfo for r in ok if r.qoe is not None and r.qoe.gfxinfo]
        frames_n = sum(int(g.get("frames") or 0) for g in gfx)
        if frames_n:
            row["gfxinfo_janky_share"] = sum(int(g.get("janky_frames") or 0) for g in gfx) / frames_n
        base_groups = [g for g in (round_times(r) for r in base_ok) if g]
        if base_groups and groups:
            base_med = float(np.median([x for g in base_groups for x in g]))
            if base_med > 0 and row["gui_round_median_ms"] is not None:
                row["gui_delay_pct"] = (row["gui_round_median_ms"] / base_med - 1.0) * 100.0
                if mode != "baseline":
                    ci = ratio_ci(groups, base_groups)
                    row["gui_delay_ci95"] = [(ci[0] - 1) * 100.0, (ci[1] - 1) * 100.0] if ci else None
        elif mode != "baseline":
            flags.add("no-qoe-baseline")
    row["flags"] = sorted(flags)
    return row


__all__ = ["QOE_ROW_KEYS", "qoe_rows", "round_times", "task_times"]
