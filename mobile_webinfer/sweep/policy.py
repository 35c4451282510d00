"""The honesty labels stored with each cell, and the re-run rule for throttled cells."""

from __future__ import annotations

from collections.abc import Sequence

from ..records import PAGE_HIDDEN, CellRecord
from ..vocab import Cell


def cell_flags(cell: Cell, rec: CellRecord, *, min_battery_pct: float = 25.0) -> list[str]:
    """Flags derived from what the record says ran and under which conditions."""
    flags: list[str] = []
    eff = rec.eff
    if rec.status == "error" and rec.error_kind in ("backend_fallback", "BackendFallback"):
        flags.append("backend-fell-back")
    if eff.partial and not cell.is_native and eff.backend == f"{cell.backend}-partial":
        d = eff.delegation_summary() or {}
        counts = f"({d['delegated_nodes']}/{d['total_nodes']})" if d.get("total_nodes") else ""
        flags.append(f"{cell.backend}-partial{counts}")  # measured and labelled, never shown as the backend
    elif eff.backend and eff.backend != cell.backend and not cell.is_native:
        flags.append("backend-fell-back")
    if eff.threads is not None and cell.backend == "wasm" and eff.threads != cell.threads:
        flags.append(f"threads-in-effect={eff.threads}")
    if rec.status == "error" and rec.error_kind == "renderer-crashed":
        flags.append("renderer-crashed")
    if rec.error_kind == PAGE_HIDDEN or (rec.visibility is not None and rec.visibility.hidden_during_run):
        flags.append(PAGE_HIDDEN)
    ctx = rec.context
    if ctx.never_cooled:
        flags.append("phone-never-cooled")
    level = ctx.extra.get("battery_level_start")
    if rec.error_kind == "low-battery" or (isinstance(level, (int, float)) and level < min_battery_pct):
        flags.append("low-battery")
    if isinstance(ctx.thermal_status_max, int) and ctx.thermal_status_max > 0:
        flags.append(f"thermal-status-rose={ctx.thermal_status_max}")
    if eff.software_gpu:
        flags.append("software-gpu")
    if not cell.is_native and eff.cross_origin_isolated is False:
        flags.append("not-cross-origin-isolated")
    return sorted(set(flags))


def throttled(rec: CellRecord, max_thermal_status: int) -> bool:
    """The thermal status rose above the gate's limit during an otherwise good cell."""
    st = rec.context.thermal_status_max
    return rec.status == "ok" and isinstance(st, int) and st > max_thermal_status


def median_of(xs: Sequence[float] | None) -> float | None:
    ys = sorted(xs or [])
    return ys[len(ys) // 2] if ys else None
