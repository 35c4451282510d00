"""What a report reads from a run directory, as typed records.

`load_run(run_dir)` opens the run with `RunStore`, types its cell records (`records.CellRecord`),
builds the gap table's rows with `report.build_rows` (the JSON rows of `mwi report --json`,
the stable contract) and types each row as a `GapRow`.  Nothing here writes.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import StoreError
from ..records import CellRecord, load_records
from ..report import build_rows
from ..store import RunStore
from ..vocab import GPU_BACKENDS, NATIVE_RUNTIMES

CPU_BACKENDS = ("wasm", "cpu")


def _f(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _i(v: Any) -> int | None:
    return int(v) if isinstance(v, int) and not isinstance(v, bool) else None


def _pair(v: Any) -> tuple[float, float] | None:
    if isinstance(v, (list, tuple)) and len(v) == 2 and all(_f(x) is not None for x in v):
        return (float(v[0]), float(v[1]))
    return None


def _s(v: Any) -> str | None:
    return None if v is None else str(v)


def as_mapping(v: object) -> Mapping[str, Any]:
    """`v` when it is a mapping (a JSON object), else an empty one: manifests are read, never trusted."""
    return v if isinstance(v, Mapping) else {}


def _shares(d: Mapping[str, Any]) -> tuple[float, float, float] | None:
    vals = [_f(d.get(k)) for k in ("var_within_rounds", "var_between_rounds", "var_between_loads")]
    return None if any(v is None for v in vals) else (vals[0] or 0.0, vals[1] or 0.0, vals[2] or 0.0)


@dataclass(frozen=True)
class GapRow:
    """One configuration (target x browser x model x runtime x backend x threads) of the gap table."""

    target: str
    browser: str
    model: str
    runtime: str
    backend: str
    threads: int
    browser_median_ms: float | None = None
    browser_ci95_ms: tuple[float, float] | None = None
    native_median_ms: float | None = None
    native_backend: str | None = None
    gap: float | None = None
    gap_ci95: tuple[float, float] | None = None
    first_inference_ms: float | None = None
    setup_ms: float | None = None
    peak_memory_mb: float | None = None
    model_mb: float | None = None
    memory_ratio: float | None = None
    max_abs_diff: float | None = None
    top1_match: bool | None = None
    n: int | None = None
    repeats: int | None = None
    cv: float | None = None
    thermal_status_max: int | None = None
    battery_temp_max_c: float | None = None
    janky_frame_share: float | None = None
    peak_memory_by_type_mb: Mapping[str, float] = field(default_factory=dict)
    page_long_frame_share: float | None = None
    page_max_frame_ms: float | None = None
    backend_in_effect: str | None = None
    flags: tuple[str, ...] = ()
    error: str | None = None
    validity: str | None = None                 # valid | flagged | invalid (sweep.policy.validity)
    validity_reasons: tuple[str, ...] = ()
    precision: float | None = None              # CI95 half-width of the median / median
    outliers: int | None = None                 # latencies > Q3 + 3 x IQR (kept, counted)
    warmups: float | None = None                # warm-up runs used (median over the repeats)
    pairing: str | None = None                  # paired | unpaired | mixed (issue 21; None: native rows)
    pairing_note: str | None = None
    paired_gap: float | None = None             # median of the rounds' browser/native ratios
    paired_gap_ci95: tuple[float, float] | None = None
    var_shares: tuple[float, float, float] | None = None  # within rounds, between rounds, between loads

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> GapRow:
        """From one `build_rows` dict; keys it lacks stay None."""
        by_type = d.get("peak_memory_by_type_mb")
        top1 = d.get("top1_match")
        return cls(
            target=str(d.get("target")), browser=str(d.get("browser")), model=str(d.get("model")),
            runtime=str(d.get("runtime")), backend=str(d.get("backend")), threads=_i(d.get("threads")) or 0,
            browser_median_ms=_f(d.get("browser_median_ms")), browser_ci95_ms=_pair(d.get("browser_ci95_ms")),
            native_median_ms=_f(d.get("native_median_ms")), native_backend=_s(d.get("native_backend")),
            gap=_f(d.get("gap")), gap_ci95=_pair(d.get("gap_ci95")),
            first_inference_ms=_f(d.get("first_inference_ms")), setup_ms=_f(d.get("setup_ms")),
            peak_memory_mb=_f(d.get("peak_memory_mb")), model_mb=_f(d.get("model_mb")),
            memory_ratio=_f(d.get("memory_ratio")), max_abs_diff=_f(d.get("max_abs_diff")),
            top1_match=top1 if isinstance(top1, bool) else None, n=_i(d.get("n")), repeats=_i(d.get("repeats")),
            cv=_f(d.get("cv")), thermal_status_max=_i(d.get("thermal_status_max")),
            battery_temp_max_c=_f(d.get("battery_temp_max_c")), janky_frame_share=_f(d.get("janky_frame_share")),
            peak_memory_by_type_mb={str(k): float(v) for k, v in by_type.items() if _f(v) is not None}
            if isinstance(by_type, Mapping) else {},
            page_long_frame_share=_f(d.get("page_long_frame_share")), page_max_frame_ms=_f(d.get("page_max_frame_ms")),
            backend_in_effect=_s(d.get("backend_in_effect")),
            flags=tuple(str(x) for x in d.get("flags") or ()), error=_s(d.get("error")),
            validity=_s(d.get("validity")), validity_reasons=tuple(str(x) for x in d.get("validity_reasons") or ()),
            precision=_f(d.get("precision")), outliers=_i(d.get("outliers")), warmups=_f(d.get("warmups")),
            pairing=_s(d.get("pairing")), pairing_note=_s(d.get("pairing_note")), paired_gap=_f(d.get("paired_gap")),
            paired_gap_ci95=_pair(d.get("paired_gap_ci95")), var_shares=_shares(d))

    @property
    def native(self) -> bool:
        return self.runtime in NATIVE_RUNTIMES

    @property
    def kind(self) -> str:
        """`cpu` or `gpu` (the study's two gap families), `other` for webnn and native rows."""
        if self.native:
            return "other"
        if self.backend in GPU_BACKENDS:
            return "gpu"
        return "cpu" if self.backend in CPU_BACKENDS else "other"

    @property
    def config_label(self) -> str:
        """`runtime/backend tN` (the backend in effect where it differs from the one asked)."""
        be = self.backend_in_effect if self.backend_in_effect and self.backend_in_effect != self.backend else None
        shown = f"{self.backend}->{be}" if be else self.backend
        return f"{self.runtime}/{shown} t{self.threads}"


@dataclass(frozen=True)
class TargetRun:
    """One target's part of a run: its records, rows and manifest entries."""

    name: str
    kind: str                      # android | local
    fingerprint: Mapping[str, Any]
    versions: Mapping[str, Any]
    records: tuple[CellRecord, ...]
    rows: tuple[GapRow, ...]

    @property
    def browsers(self) -> tuple[str, ...]:
        return tuple(sorted({r.browser for r in self.rows if not r.native}))

    @property
    def models(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for r in self.rows:
            seen.setdefault(r.model, None)
        return tuple(seen)


@dataclass(frozen=True)
class RunData:
    """A run directory read for a report."""

    run_dir: Path
    run_id: str
    manifest: Mapping[str, Any]
    records: tuple[CellRecord, ...]
    row_dicts: tuple[Mapping[str, Any], ...]   # exactly what `mwi report --json` prints
    targets: tuple[TargetRun, ...]
    start: _dt.datetime | None                 # the earliest cell start: time 0 of the run's time axis

    def anchor_s(self, rec: CellRecord) -> float | None:
        """Seconds from the run's start to when the cell's sampler started (finished_at - wall_s)."""
        span = cell_span(rec)
        if span is None or self.start is None:
            return None
        return (span[0] - self.start).total_seconds()


def parse_time(text: Any) -> _dt.datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        t = _dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return t if t.tzinfo is not None else t.replace(tzinfo=_dt.UTC)


def cell_span(rec: CellRecord) -> tuple[_dt.datetime, _dt.datetime] | None:
    """When the cell's measurement ran: (finished_at - wall_s, finished_at); the cool-down wait
    before it is not part of `wall_s`.  Falls back to started_at when wall_s is missing."""
    end = parse_time(rec.finished_at)
    start = parse_time(rec.started_at)
    if end is not None and rec.wall_s is not None:
        return end - _dt.timedelta(seconds=float(rec.wall_s)), end
    if start is not None and end is not None:
        return start, end
    return None


def load_run(run_dir: Path | str, *, rows: bool = True) -> RunData:
    """Read a run directory; a directory that is not a run is a one-line `StoreError`.

    `rows=False` skips the gap table (its bootstraps are the slow part): records only."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise StoreError(f"{run_dir} is not a directory (expected a run directory, out/runs/<run-id>)")
    store = RunStore.open(run_dir)
    manifest = store.manifest()
    raw = store.results()
    records = tuple(load_records(raw))
    row_dicts = tuple(build_rows(records)) if rows else ()
    typed = tuple(GapRow.from_json(d) for d in row_dicts if "qoe_mode" not in d)  # QoE rows: their own section
    starts = [s[0] for s in (cell_span(r) for r in records) if s is not None]
    names: dict[str, None] = {}
    spec = manifest.get("spec")
    for t in (spec.get("targets") if isinstance(spec, Mapping) else None) or ():
        names.setdefault(str(t), None)
    for r in records:
        if r.cell is not None:
            names.setdefault(r.cell.target, None)
    targets_m = as_mapping(manifest.get("targets"))
    versions_m = as_mapping(manifest.get("versions"))
    targets = []
    for name in names:
        fp = as_mapping(targets_m.get(name))
        kind = str(fp.get("kind") or ("local" if name == "local" else "android"))
        ver = as_mapping(versions_m.get(name))
        recs = tuple(r for r in records if r.cell is not None and r.cell.target == name)
        targets.append(TargetRun(name=name, kind=kind, fingerprint=fp, versions=ver, records=recs,
                                 rows=tuple(r for r in typed if r.target == name)))
    return RunData(run_dir=run_dir, run_id=str(manifest.get("run_id") or run_dir.name), manifest=manifest,
                   records=records, row_dicts=row_dicts, targets=tuple(targets),
                   start=min(starts) if starts else None)


def mean(xs: Sequence[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None
