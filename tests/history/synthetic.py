"""Generated lab histories: run directories with a `manifest.json` and a `cells.parquet` in the real
schema (the columns and types `htmlreport.parquet` writes: the report's row columns, the attempt
columns and the cell columns), written by the real writer (`write_parquet`, layout-tagged).

A run is one phone (or this computer) measured once; each configuration is `repeats` cells sharing
the configuration's report row (`browser_median_ms`, `browser_ci95_ms`, `gap`, ...), as
`mwi report` writes them.  Values are whatever the caller asks for: the tests inject a step or
pure noise, the benchmark writes 15,000 runs.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from mobile_webinfer.htmlreport.parquet import ATTEMPT_COLUMNS, CELL_COLUMNS, ROW_TYPES, write_parquet
from mobile_webinfer.report import ROW_KEYS
from mobile_webinfer.vocab import NATIVE_BROWSER

CHROME = "com.android.chrome"
T0 = dt.datetime(2025, 1, 1, 2, 0, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Config:
    """One configuration measured in a run, with its report-row numbers."""

    model: str
    runtime: str
    backend: str
    threads: int
    median_ms: float
    ci: tuple[float, float] | None
    gap: float | None = None
    gap_ci: tuple[float, float] | None = None
    browser: str = CHROME
    sha256: str = "a" * 64


@dataclass(frozen=True)
class RunSpec:
    run_id: str
    at: dt.datetime
    target: str = "R58M12345"
    device_model: str = "SM-G991B"
    build_fingerprint: str = "samsung/o1sxxx/o1s:14/UP1A.231005.007/S991BXXSAFXA1:user/release-keys"
    browser_version: str = "131.0.6778.81"
    frameworks: dict[str, str] = field(default_factory=lambda: {"tfjs": "4.22.0", "onnxruntime-web": "1.30.0"})
    configs: Sequence[Config] = ()
    repeats: int = 1


def _schema_columns() -> dict[str, pa.DataType]:
    cols: dict[str, pa.DataType] = {}
    for k in ROW_KEYS:
        cols[k] = ROW_TYPES.get(k, pa.string())
    for name, typ, _ in ATTEMPT_COLUMNS:
        cols[name] = typ
    for c in CELL_COLUMNS:
        cols[c.name] = c.type
    return cols


SCHEMA_COLUMNS = _schema_columns()


def cells_table(spec: RunSpec) -> pa.Table:
    """The run's cells.parquet table: every column of the real schema, the ones a history reads filled."""
    rows: dict[str, list[Any]] = {k: [] for k in SCHEMA_COLUMNS}
    filled = {"target", "browser", "model", "runtime", "backend", "threads", "browser_median_ms", "browser_ci95_ms",
              "native_median_ms", "gap", "gap_ci95", "n", "repeats", "run_id", "attempt", "final", "key", "repeat",
              "status", "cell_median_ms", "browser_version", "model_sha256", "validity", "started_at", "finished_at"}
    stamp = spec.at.isoformat(timespec="milliseconds")
    for c in spec.configs:
        native = c.browser == NATIVE_BROWSER
        for r in range(spec.repeats):
            v = {"target": spec.target, "browser": c.browser, "model": c.model, "runtime": c.runtime,
                 "backend": c.backend, "threads": c.threads,
                 "browser_median_ms": None if native else c.median_ms,
                 "browser_ci95_ms": None if native or c.ci is None else list(c.ci),
                 "native_median_ms": c.median_ms if native else (c.median_ms / c.gap if c.gap else None),
                 "gap": c.gap, "gap_ci95": list(c.gap_ci) if c.gap_ci else None, "n": 30, "repeats": spec.repeats,
                 "run_id": spec.run_id, "attempt": 0, "final": True,
                 "key": f"{spec.target}|{c.browser}|{c.model}|{c.runtime}|{c.backend}|t{c.threads}|r{r}",
                 "repeat": r, "status": "ok", "cell_median_ms": c.median_ms,
                 "browser_version": None if native else spec.browser_version, "model_sha256": c.sha256,
                 "validity": "valid", "started_at": stamp, "finished_at": stamp}
            for k in rows:
                rows[k].append(v.get(k) if k in filled else None)
    return pa.Table.from_arrays([pa.array(vals, type=SCHEMA_COLUMNS[k]) for k, vals in rows.items()],
                                names=list(rows))


def manifest(spec: RunSpec) -> dict[str, Any]:
    local = spec.target == "local"
    tgt: dict[str, Any] = ({"target": "local", "kind": "local", "hostname": "vm", "cpu_model": spec.device_model}
                           if local else
                           {"target": spec.target, "serial": spec.target, "kind": "android",
                            "model": spec.device_model, "manufacturer": "samsung", "fingerprint":
                            spec.build_fingerprint, "browsers": [{"package": CHROME, "version": spec.browser_version}]})
    return {"schema_version": 2, "run_id": spec.run_id, "created_at": spec.at.isoformat(timespec="milliseconds"),
            "tool": "mobile-webinfer", "tool_version": "0.1.0",
            "spec": {"targets": [spec.target]}, "targets": {spec.target: tgt},
            "versions": {spec.target: {"browsers": {"chromium" if local else CHROME: spec.browser_version},
                                       "frameworks": dict(spec.frameworks)}},
            "models": {}}


def write_run(runs_dir: Path, spec: RunSpec, *, parquet: bool = True) -> Path:
    run_dir = runs_dir / spec.run_id
    run_dir.mkdir(parents=True)
    (run_dir / "manifest.json").write_text(json.dumps(manifest(spec)))
    if parquet:
        write_parquet(cells_table(spec), run_dir / "cells.parquet")
    return run_dir


def run_id(i: int, at: dt.datetime, target: str) -> str:
    return f"{at:%Y%m%d-%H%M%S}-{target}-{i:05d}"
