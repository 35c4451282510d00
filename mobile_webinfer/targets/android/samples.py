"""What a phone cell's probe rows add up to: memory peaks per process kind, thermal, battery, frames."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ...records import Context, Memory
from ..cooldown import battery_plausible


def process_kind(package: str, name: str) -> str:
    """browser / renderer / gpu / other, from an Android process name of a Chromium-based browser."""
    if name == package:
        return "browser"
    if ":sandboxed_process" in name or ":isolated_process" in name:
        return "renderer"
    if ":privileged_process" in name or name.endswith(":gpu_process"):
        return "gpu"
    return "other"


def memory_from_samples(package: str, rows: Iterable[Mapping[str, Any]]) -> Memory:
    """Peak PSS per process kind and in total, from meminfo rows (all processes of the package)."""
    peak_total = 0.0
    by_kind: dict[str, float] = {}
    n = 0
    for r in rows:
        if r.get("probe") != "meminfo" or not r.get("ok"):
            continue
        procs = (r.get("data") or {}).get("processes") or {}
        total = 0.0
        kinds: dict[str, float] = {}
        for name, p in procs.items():
            mb = (p.get("pss_kb") or 0) / 1024.0
            total += mb
            k = process_kind(package, name)
            kinds[k] = kinds.get(k, 0.0) + mb
        if procs:
            n += 1
            peak_total = max(peak_total, total)
            for k, v in kinds.items():
                by_kind[k] = max(by_kind.get(k, 0.0), v)
    return Memory(peak_total_mb=round(peak_total, 3) if n else None,
                  peak_by_type_mb={k: round(v, 3) for k, v in by_kind.items()},
                  source="dumpsys meminfo --package (TOTAL PSS per process)", extra={"samples": n})


def summarize_samples(rows: Iterable[Mapping[str, Any]], base: Context) -> Context:
    """`base` (the gate's context) plus thermal max, battery max and janky-frame share of one cell."""
    rows = list(rows)
    extra: dict[str, Any] = dict(base.extra)
    statuses = [r["data"].get("status") for r in rows if r.get("probe") == "thermal" and r.get("ok")]
    statuses = [s for s in statuses if isinstance(s, int)]
    temps = [r["data"].get("temperature_c") for r in rows if r.get("probe") == "battery" and r.get("ok")]
    temps = [t for t in temps if isinstance(t, (int, float)) and battery_plausible(t)]  # no sentinel as a max
    if temps:
        extra.setdefault("battery_temp_first_sample_c", temps[0])
    frames = janky = 0
    for r in rows:
        if r.get("probe") == "gfxinfo" and r.get("ok"):
            fr = (r.get("data") or {}).get("frames") or []  # [intended_vsync_ns, duration_ms, janky]
            frames += len(fr)
            janky += sum(1 for f in fr if f[2])
    share = None
    if frames:
        share = round(janky / frames, 4)
        extra.update(frames=frames, frames_source="dumpsys gfxinfo framestats (browser UI frames)")
    errs = sum(1 for r in rows if not r.get("ok"))
    if errs:
        extra["probe_errors"] = errs
    import dataclasses

    return dataclasses.replace(
        base, thermal_status_max=max(statuses) if statuses else base.thermal_status_max,
        battery_temp_max_c=max(temps) if temps else base.battery_temp_max_c,
        janky_frame_share=share if share is not None else base.janky_frame_share, extra=extra)
