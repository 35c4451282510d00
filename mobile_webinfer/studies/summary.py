"""One object per study run, for `mwi report RUN_DIR --json` and the HTML report.

`summarize(run_dir)` reads the manifest, every run record and the study's samples; each object has
the contract keys (target, model, runtime, backend, duration_s, inferences, latency_start_ms,
latency_end_ms, stability, time_to_throttle_s, max_thermal_status, max_temp_c; for battery studies
energy_mj_per_inference, energy_ci95, charging_detected) plus the timeline and sources.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..records import CellRecord
from ..store import RunStore
from .battery import battery_figures
from .derive import latency_points, samples_of
from .thermal import thermal_figures

STUDY_KINDS = ("thermal", "battery")


def is_study(manifest: dict[str, Any]) -> bool:
    return manifest.get("kind") in STUDY_KINDS


def summarize(run_dir: Path) -> list[dict[str, Any]]:
    store = RunStore.open(run_dir)
    m = store.manifest()
    kind = m.get("kind")
    rows = store.samples()
    idle = samples_of(rows, "idle", phase="idle")
    out: list[dict[str, Any]] = []
    for raw in store.results():
        rec = CellRecord.from_json(raw)
        out.append(summarize_run(rec, rows, idle, kind=str(kind), manifest=m))
    return out


def summarize_run(rec: CellRecord, rows: list[dict[str, Any]], idle: list[Any], *, kind: str,
                  manifest: dict[str, Any]) -> dict[str, Any]:
    study = rec.extra.get("study") or {}
    scale = float(study.get("time_scale") or 1.0)
    points = latency_points(rec, offset_s=float(study.get("offset_s") or 0.0), scale=scale)
    samples = samples_of(rows, rec.key, phase="run")
    cell = rec.cell
    th = thermal_figures(points, samples)
    chunk_s = rec.extra.get("chunk_s")  # phone native: the last point is a chunk's start
    tail = float(chunk_s) * scale if isinstance(chunk_s, (int, float)) else (points[-1].ms / 1000 * scale if points else 0)
    duration = round(points[-1].t_s - points[0].t_s + tail, 3) if points else 0.0
    obj: dict[str, Any] = {
        "kind": kind, "target": cell.target if cell else None, "browser": cell.browser if cell else None,
        "model": cell.model if cell else None, "runtime": cell.runtime if cell else None,
        "backend": cell.backend if cell else None, "threads": cell.threads if cell else None,
        "backend_in_effect": rec.eff.backend, "threads_in_effect": rec.eff.threads,
        "status": rec.status, "error": rec.error,
        "partial": bool(study.get("partial")) or not rec.ok, "stop_reason": study.get("stop_reason"),
        "duration_s": duration, "duration_asked_s": (manifest.get("study") or {}).get("duration_s"),
        "inferences": sum(p.weight for p in points),
        "latency_resolution": rec.extra.get("latency_resolution") or "every inference",
        **th.to_json(), "sources": manifest.get("sources"), "notes": manifest.get("notes") or [],
        "capped": bool(study.get("capped")),
    }
    if kind == "battery":
        obj.update(battery_figures(points, samples, idle, duration).to_json())
    return obj
