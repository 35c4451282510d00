"""The honesty labels stored with each cell, and the re-run rule for throttled cells."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from ..agreement import DISAGREE
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
    if rec.status == "error" and rec.error_kind in ("gpu-context-lost", "context_lost"):
        flags.append("gpu-context-lost")  # the WebGL context / WebGPU device was lost mid-cell
    if rec.error_kind == PAGE_HIDDEN or (rec.visibility is not None and rec.visibility.hidden_during_run):
        flags.append(PAGE_HIDDEN)
    ctx = rec.context
    if ctx.never_cooled:
        flags.append("phone-never-cooled")
    if isinstance(ctx.cooldown, Mapping) and ctx.cooldown.get("thermal_unavailable"):
        flags.append(THERMAL_UNAVAILABLE)  # the gate judged the battery alone: no thermal status to read
    if isinstance(ctx.cooldown, Mapping) and ctx.cooldown.get("battery_unavailable"):
        flags.append(BATTERY_IMPLAUSIBLE)  # a sentinel / undeclared unit: the gate judged the thermal status alone
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


# ---- validity: one rule from flags to valid / flagged / invalid (in the spirit of MLPerf's result_validity)

VALID, FLAGGED, INVALID = "valid", "flagged", "invalid"
THERMAL_UNAVAILABLE = "thermal-unavailable"
BATTERY_IMPLAUSIBLE = "battery-temp-implausible"
IMPRECISE = "imprecise"
LOADS_CUT = "loads-cut-by-time-ceiling"  # a row some of whose planned repeats the time ceiling left unrun
WARMUP_NOT_CONVERGED = "warmup-not-converged"
#: flag prefix -> the reason it gives; a number behind these is never published as clean
_INVALID = ((PAGE_HIDDEN, PAGE_HIDDEN), ("backend-fell-back", "backend-mismatch"),
            ("renderer-crashed", "renderer-crashed"), (DISAGREE, DISAGREE), ("gpu-context-lost", "gpu-context-lost"))
#: flag prefix -> the reason it gives; the number stands, with the reason beside it
_FLAGGED = ((IMPRECISE, IMPRECISE), ("thermal-status-rose", "thermal-rise"), ("thermal-throttled", "thermal-rise"),
            ("phone-never-cooled", "thermal-rise"), ("low-battery", "battery-below-min"),
            ("few-samples", "too-few-samples"), ("too-few-runs", "too-few-samples"),
            ("unstable-between-loads", "unstable-between-loads"), ("unstable-within-load", "unstable-within-load"),
            (WARMUP_NOT_CONVERGED, WARMUP_NOT_CONVERGED), (LOADS_CUT, "too-few-loads"),
            (THERMAL_UNAVAILABLE, "thermal-status-unknown"), (BATTERY_IMPLAUSIBLE, "battery-temperature-unknown"),
            ("flags-not-applied", "browser-flags-not-applied"))


def validity(flags: Sequence[str], *, measured: bool, precision: float | None = None) -> tuple[str, list[str]]:
    """The validity of a cell or a report row from its flags: `invalid` when nothing was measured
    (`measured` false: an error, unsupported, skipped) or a flag says the number cannot stand
    (hidden page, backend mismatch, crashed renderer); `flagged` for imprecise (with the precision
    reached, when given), thermal rise, battery under the minimum, too few samples, unstable,
    warm-up not converged; else `valid`.  Reasons are sorted words, e.g. `imprecise(3.1%)`."""
    bad: set[str] = set()
    warn: set[str] = set()
    for f in flags:
        for prefix, why in _INVALID:
            if f.startswith(prefix):
                bad.add(why)
        for prefix, why in _FLAGGED:
            if f.startswith(prefix):
                warn.add(f"{IMPRECISE}({100 * precision:.1f}%)" if why == IMPRECISE and precision is not None
                         else why)
    if not measured:
        bad.add("not-measured")
    if bad:
        return INVALID, sorted(bad | warn)
    return (FLAGGED, sorted(warn)) if warn else (VALID, [])


def _judged(rec: CellRecord) -> tuple[str | None, float | None]:
    """How the cell's measuring loop ended and the precision it reached: a paired cell's rounds and
    its gap's CI95 half-width (issue 21), else the median's."""
    p = rec.pairing
    if p is not None and p.paired:
        return p.stop_reason, p.gap_precision
    return rec.stop_reason, rec.precision_reached


def loop_flags(rec: CellRecord, target_precision: float) -> list[str]:
    """Flags from how the cell's loops ended: `imprecise` (a ceiling came before the precision asked:
    for a paired cell, the gap's), `warmup-not-converged`."""
    flags = []
    why, reached = _judged(rec)
    if rec.ok and why is not None and why != "precision" and target_precision > 0 \
            and (reached is None or reached > target_precision):
        flags.append(IMPRECISE)
    if rec.ok and rec.warmup_converged is False:
        flags.append(WARMUP_NOT_CONVERGED)
    return flags


def with_validity(rec: CellRecord, target_precision: float) -> CellRecord:
    """The record with its loop flags and its validity (the one rule above) stored."""
    rec = rec.with_flags(*loop_flags(rec, target_precision))
    v, why = validity(rec.flags, measured=rec.ok, precision=_judged(rec)[1])
    return dataclasses.replace(rec, validity=v, validity_reasons=tuple(why))


# ---- the time ceiling of a configuration (--max-time-per-cell), over all its repeats

def loads_affordable(walls: Sequence[float], max_time_s: float) -> int:
    """How many more page loads / native processes a configuration can start and still end within
    `max_time_s`, judged by the mean wall time of those it ran (`walls`); 1 when none has run.  A load
    that would end past the ceiling by under 5% of its own length still counts (a 20.2 s load under a
    40 s ceiling gets its second load: load times jitter by more than that)."""
    if not walls:
        return 1
    spent = sum(walls)
    mean = spent / len(walls)
    if mean <= 0:  # loads that took no time (records without wall_s): the ceiling cannot judge them
        return 1
    return max(0, int((max_time_s - spent) / mean + 0.05))


def extra_loads_worthwhile(reached: float, loads: int, affordable: int, precision: float) -> bool:
    """Whether `affordable` more loads can bring the pooled CI95 half-width (`reached`, relative,
    from `loads` loads) down to `precision`: the half-width of a median pooled over loads shrinks
    about as 1/sqrt(loads), so a configuration that cannot get there within its ceiling stops now
    (flagged imprecise, as it would be at the ceiling) instead of spending the time."""
    if affordable <= 0 or loads <= 0:
        return False
    return reached * (loads / (loads + affordable)) ** 0.5 <= precision
