"""Finding a lab's runs and reading their configurations through DuckDB, in place.

A lab folder holds run directories (`out/runs/<run-id>/`, or the folder given holds them itself).
Each run's `cells.parquet` is queried where it lies; a run whose Parquet is missing or older than
its `results*.jsonl` has its cells table built in memory by the report's own code
(`htmlreport.parquet.cells_table`) and nothing is written into the run directory.  A run that cannot
be read (no manifest, a broken manifest, a Parquet file DuckDB cannot open, nothing measured) is
listed with its reason.

The history's own files live in a `history/` folder beside the runs (`out/history/` for
`out/runs/`): `index.json` (per run: the manifest facts the history needs and the Parquet file's
columns, keyed by the files' mtimes, so 15,000 manifests and Parquet footers are read once, not on
every call) and `pins.json` (named baselines).  Neither holds a measurement.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..errors import StoreError, UsageError
from ..files import atomic_write_text

#: bump when what an index entry holds changes (older entries are read again)
INDEX_VERSION = 3
STATE_DIR = "history"

#: report-row and cell columns a history reads (by name; any may be missing in an older run)
WANTED = ("target", "browser", "model", "runtime", "backend", "threads", "browser_median_ms", "browser_ci95_ms",
          "native_median_ms", "gap", "gap_ci95", "model_sha256", "browser_version", "final", "status", "qoe_mode")
_NEEDED = ("target", "browser", "model", "runtime", "backend", "threads")


@dataclass(frozen=True)
class TargetInfo:
    """What a run's manifest says about one target: the device and the versions that ran on it."""

    target: str
    device_model: str
    build: str | None                          # Android build fingerprint (phones)
    browsers: tuple[tuple[str, str], ...]       # (package, version)
    frameworks: tuple[tuple[str, str], ...]     # (name, version) as the pages reported them

    def browser_version(self, browser: str) -> str | None:
        return dict(self.browsers).get(browser)


@dataclass(frozen=True)
class RunInfo:
    run_dir: Path
    run_id: str
    created_at: str                 # ISO time the run was created (the history's time axis)
    tool_version: str | None
    targets: tuple[TargetInfo, ...]
    parquet: bool                   # cells.parquet is read in place (else built in memory from results*.jsonl)
    columns: tuple[str, ...]        # the Parquet file's columns (empty when built in memory)

    @property
    def cells(self) -> Path | None:
        return self.run_dir / "cells.parquet" if self.parquet else None

    def target(self, name: str) -> TargetInfo | None:
        return next((t for t in self.targets if t.target == name), None)

    @property
    def at(self) -> _dt.datetime:
        return _parse_time(self.created_at)


@dataclass(frozen=True)
class Unreadable:
    run_dir: Path
    reason: str


@dataclass(frozen=True)
class Lab:
    runs: tuple[RunInfo, ...]               # oldest first
    unreadable: tuple[Unreadable, ...]
    state_dir: Path | None                  # where index.json / pins.json live (None: run directories given)
    selected: tuple[RunInfo, ...] = ()      # the runs a query reads (open_lab's window and targets)
    window: int = 0


def _parse_time(text: str) -> _dt.datetime:
    try:
        t = _dt.datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
    return t if t.tzinfo else t.replace(tzinfo=_dt.UTC)


def is_run_like(p: Path) -> bool:
    return (p / "manifest.json").is_file() or any(p.glob("results*.jsonl")) or (p / "cells.parquet").is_file()


def state_dir_for(folder: Path) -> Path:
    """The history folder of a lab: beside `runs/` (out/history for out/runs), else inside the folder."""
    folder = folder.resolve()
    if folder.name == "runs":
        return folder.parent / STATE_DIR
    return folder / STATE_DIR


def runs_folder(folder: Path) -> Path:
    return folder / "runs" if (folder / "runs").is_dir() else folder


def expand(paths: Sequence[Path]) -> tuple[list[Path], Path | None]:
    """Run directories named by `paths` (run directories, or one lab folder) and the lab's state folder."""
    if not paths:
        paths = [Path("out")]
    missing = [p for p in paths if not p.is_dir()]
    if missing:
        raise UsageError(f"{missing[0]} is not a directory (give run directories or a lab folder such as out/)")
    if len(paths) == 1 and not is_run_like(paths[0]):
        folder = runs_folder(paths[0])
        with os.scandir(folder) as it:  # the folder's listing says which entries are folders (no stat each)
            dirs = [folder / n for n in sorted(e.name for e in it if e.is_dir() and e.name != STATE_DIR)]
        if not dirs:
            raise UsageError(f"{paths[0]} holds no run directories (expected out/ or out/runs/<run-id>/)")
        return dirs, state_dir_for(folder)
    return list(paths), None


# -- one run's facts ------------------------------------------------------------------------------

def _pairs(m: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(m, Mapping):
        return ()
    return tuple(sorted((str(k), str(v)) for k, v in m.items() if v is not None and not isinstance(v, Mapping)))


def _targets(manifest: Mapping[str, Any]) -> tuple[TargetInfo, ...]:
    tm = manifest.get("targets") if isinstance(manifest.get("targets"), Mapping) else {}
    vm = manifest.get("versions") if isinstance(manifest.get("versions"), Mapping) else {}
    assert isinstance(tm, Mapping) and isinstance(vm, Mapping)
    out = []
    for name in sorted(set(tm) | set(vm)):
        fp = tm.get(name) if isinstance(tm.get(name), Mapping) else {}
        ver = vm.get(name) if isinstance(vm.get(name), Mapping) else {}
        assert isinstance(fp, Mapping) and isinstance(ver, Mapping)
        browsers = dict(_pairs(ver.get("browsers")))
        for b in fp.get("browsers") or ():  # phones: the packages found when the run started
            if isinstance(b, Mapping) and b.get("package") and b.get("version"):
                browsers.setdefault(str(b["package"]), str(b["version"]))
        model = fp.get("model") or fp.get("cpu_model") or fp.get("hostname") or fp.get("kind") or name
        out.append(TargetInfo(target=str(name), device_model=str(model),
                              build=str(fp["fingerprint"]) if fp.get("fingerprint") else None,
                              browsers=tuple(sorted(browsers.items())), frameworks=_pairs(ver.get("frameworks"))))
    return tuple(out)


def _stamp(run_dir: Path) -> dict[str, Any]:
    """mtimes of the files a history reads (one directory listing)."""
    m = c = r = None
    try:
        with os.scandir(run_dir) as it:
            for e in it:
                n = e.name
                if n == "manifest.json":
                    m = e.stat().st_mtime_ns
                elif n == "cells.parquet":
                    c = e.stat().st_mtime_ns
                elif n.startswith("results") and n.endswith(".jsonl"):
                    t = e.stat().st_mtime_ns
                    r = t if r is None else max(r, t)
    except OSError:
        pass
    return {"manifest": m, "cells": c, "results": r}


def _read_run(run_dir: Path, stamp: Mapping[str, Any]) -> RunInfo:
    """A run's facts (raises StoreError with the reason when it cannot be read)."""
    mpath = run_dir / "manifest.json"
    if stamp["manifest"] is None:
        raise StoreError("no manifest.json")
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StoreError(f"manifest.json unreadable: {exc}") from None
    if not isinstance(manifest, Mapping):
        raise StoreError("manifest.json is not a JSON object")
    cells: Path | None = run_dir / "cells.parquet"
    columns: tuple[str, ...] = ()
    fresh = stamp["cells"] is not None and (stamp["results"] is None or stamp["results"] <= stamp["cells"])
    if fresh:
        import pyarrow.parquet as pq

        try:
            columns = tuple(pq.read_schema(run_dir / "cells.parquet").names)
        except (OSError, pa.ArrowInvalid) as exc:
            if stamp["results"] is None:
                raise StoreError(f"cells.parquet unreadable ({str(exc).splitlines()[0]}) "
                                 f"and no results*.jsonl to build it from") from None
            cells = None
        else:
            lacking = [c for c in _NEEDED if c not in columns]
            if lacking:
                if stamp["results"] is None:
                    raise StoreError(f"cells.parquet lacks {', '.join(lacking)} and there is no results*.jsonl")
                cells, columns = None, ()
    elif stamp["results"] is None:
        raise StoreError("nothing measured (no cells.parquet, no results*.jsonl)")
    else:
        cells = None
    if cells is None:
        columns = ()
    return RunInfo(run_dir=run_dir, run_id=str(manifest.get("run_id") or run_dir.name),
                   created_at=str(manifest.get("created_at") or ""),
                   tool_version=str(manifest["tool_version"]) if manifest.get("tool_version") else None,
                   targets=_targets(manifest), parquet=cells is not None, columns=columns)


def _entry(info: RunInfo, stamp: Mapping[str, Any]) -> dict[str, Any]:
    """A run's index entry in memory (`_save_index` stores its columns and targets once per distinct value)."""
    return {"stamp": dict(stamp), "run_id": info.run_id, "created_at": info.created_at,
            "tool_version": info.tool_version, "cells": info.parquet, "columns": info.columns,
            "targets": info.targets}


def _target_json(t: TargetInfo) -> dict[str, Any]:
    return {"target": t.target, "device_model": t.device_model, "build": t.build,
            "browsers": [list(p) for p in t.browsers], "frameworks": [list(p) for p in t.frameworks]}


def _target_from_json(t: Mapping[str, Any]) -> TargetInfo:
    return TargetInfo(target=t["target"], device_model=t["device_model"], build=t["build"],
                      browsers=tuple((a, b) for a, b in t["browsers"]),
                      frameworks=tuple((a, b) for a, b in t["frameworks"]))


def _from_entry(run_dir: Path, e: Mapping[str, Any]) -> RunInfo:
    targets = e["targets"]
    if not all(isinstance(t, TargetInfo) for t in targets):
        raise ValueError("index entry without its targets")
    return RunInfo(run_dir=run_dir, run_id=e["run_id"], created_at=e["created_at"], tool_version=e["tool_version"],
                   targets=tuple(targets), parquet=bool(e["cells"]), columns=tuple(e["columns"]))


def _load_index(state: Path | None) -> dict[str, Any]:
    """The lab's index: run key -> entry, with each entry's columns and targets resolved."""
    if state is None:
        return {}
    try:
        data = json.loads((state / "index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, Mapping) or data.get("version") != INDEX_VERSION or not isinstance(data.get("runs"), dict):
        return {}
    try:
        schemas = [tuple(x) for x in data["schemas"]]
        targets = [_target_from_json(t) for t in data["targets"]]
        runs = data["runs"]
        for e in runs.values():
            e["columns"] = schemas[e["columns"]]
            e["targets"] = tuple(targets[i] for i in e["targets"])
    except (KeyError, IndexError, TypeError, ValueError):
        return {}
    return runs


def _save_index(state: Path, runs: Mapping[str, Any]) -> None:
    """Columns and targets are stored once per distinct value (15,000 runs share a handful)."""
    schemas: dict[tuple[str, ...], int] = {}
    targets: dict[TargetInfo, int] = {}
    out = {}
    for key, e in runs.items():
        out[key] = {**e, "columns": schemas.setdefault(tuple(e["columns"]), len(schemas)),
                    "targets": [targets.setdefault(t, len(targets)) for t in e["targets"]]}
    data = {"version": INDEX_VERSION, "schemas": [list(c) for c in schemas],
            "targets": [_target_json(t) for t in targets], "runs": out}
    state.mkdir(parents=True, exist_ok=True)
    atomic_write_text(state / "index.json", json.dumps(data, separators=(",", ":")))


def select_runs(runs: Sequence[RunInfo], *, window: int = 0, targets: set[str] | None = None) -> list[RunInfo]:
    """The runs a query reads: those measuring one of `targets` (all when None), and of those the runs
    holding each target's last `window` runs (0: every run).  `runs` is oldest first."""
    keep: list[RunInfo] = []
    seen: dict[str, int] = {}
    for r in reversed(runs):
        names = [t.target for t in r.targets] or [r.run_id]
        if targets is not None and r.targets and not any(n in targets for n in names):
            continue
        if window <= 0 or any(seen.get(n, 0) < window for n in names):
            keep.append(r)
        for n in names:
            seen[n] = seen.get(n, 0) + 1
    keep.reverse()
    return keep


def _order(r: RunInfo) -> tuple[_dt.datetime, str]:
    return (r.at, r.run_id)


def open_lab(paths: Sequence[Path], *, write_index: bool = True, window: int = 0,
             targets: set[str] | None = None) -> Lab:
    """Every run named by `paths` (run directories or one lab folder), oldest first; the unreadable apart.

    `selected` are the runs a query will read (`select_runs(window, targets)`); with `targets`, runs the
    index knows to be of other targets are left out of `runs` as well.  A run the index knows
    is taken from it; the selected ones are checked against their files' mtimes (and read again when
    changed), so a lab of 15,000 runs is not listed file by file for a query that reads 750 of them."""
    dirs, state = expand(list(paths))
    index = _load_index(state)
    entries: dict[str, Any] = {}
    infos: dict[str, RunInfo] = {}
    from_index: set[str] = set()
    bad: list[Unreadable] = []
    changed = False

    def read(d: Path, key: str) -> None:
        stamp = _stamp(d)
        try:
            info = _read_run(d, stamp)
        except StoreError as exc:
            bad.append(Unreadable(d, str(exc)))
            infos.pop(key, None)
            entries.pop(key, None)
            return
        infos[key] = info
        entries[key] = _entry(info, stamp)

    def key_of(d: Path) -> str:
        return d.name if state is not None else str(d)

    for d in dirs:
        key = key_of(d)
        e = index.get(key)
        if isinstance(e, Mapping) and isinstance(e.get("stamp"), Mapping):
            ts = e.get("targets")
            if targets is not None and ts and isinstance(ts, tuple) and \
                    not any(isinstance(t, TargetInfo) and t.target in targets for t in ts):
                entries[key] = e  # another target's run: kept in the index, not read for this query
                continue
            try:
                infos[key] = _from_entry(d, e)
            except (KeyError, TypeError, ValueError, AttributeError):
                pass
            else:
                entries[key] = e
                from_index.add(key)
                continue
        if state is not None and not is_run_like(d):
            continue  # a folder beside the runs that is none (no manifest, no results): not a run
        changed = True
        read(d, key)
    runs = sorted(infos.values(), key=_order)
    for r in select_runs(runs, window=window, targets=targets):
        key = key_of(r.run_dir)
        if key in from_index and _stamp(r.run_dir) != entries[key]["stamp"]:
            changed = True
            read(r.run_dir, key)
    runs = sorted(infos.values(), key=_order)
    selected = select_runs(runs, window=window, targets=targets)
    if state is not None and write_index and (changed or set(entries) != set(index)):
        try:
            _save_index(state, entries)
        except OSError:
            pass  # a read-only lab is still read; the index is only a shortcut
    return Lab(runs=tuple(runs), unreadable=tuple(bad), state_dir=state, selected=tuple(selected),
               window=window)


# -- the configurations of many runs, through DuckDB ---------------------------------------------

def _select(columns: Iterable[str]) -> str:
    have = set(columns)
    typed = {"browser_ci95_ms": "DOUBLE[]", "gap_ci95": "DOUBLE[]", "threads": "BIGINT", "final": "BOOLEAN",
             "browser_median_ms": "DOUBLE", "native_median_ms": "DOUBLE", "gap": "DOUBLE"}
    parts = []
    for c in WANTED:
        if c in have:
            parts.append(f'"{c}"')
        else:
            parts.append(f'CAST(NULL AS {typed.get(c, "VARCHAR")}) AS "{c}"')
    return ", ".join(parts)


_AGG = ('SELECT {src} AS src, target, browser, model, runtime, backend, threads, '
        'any_value(browser_median_ms) AS browser_median_ms, '
        'any_value(browser_ci95_ms[1]) AS ci_lo, any_value(browser_ci95_ms[2]) AS ci_hi, '
        'any_value(native_median_ms) AS native_median_ms, any_value(gap) AS gap, '
        'any_value(gap_ci95[1]) AS gap_lo, any_value(gap_ci95[2]) AS gap_hi, '
        'max(model_sha256) AS model_sha256, max(browser_version) AS browser_version '
        'FROM ({inner}) WHERE coalesce(final, true) AND qoe_mode IS NULL '
        'AND (browser_median_ms IS NOT NULL OR native_median_ms IS NOT NULL) '
        'GROUP BY {src}, target, browser, model, runtime, backend, threads')


def config_rows(runs: Sequence[RunInfo], *, targets: set[str] | None = None) -> tuple[pa.Table, list[Unreadable]]:
    """One row per (run, configuration): the report row's latency, CI, gap and the cell facts.

    `src` is the run's position in `runs`.  Parquet files are read in place, grouped by their
    columns (a missing optional column reads as null); a run without a fresh Parquet has its cells
    table built in memory.  Runs DuckDB cannot read come back as Unreadable."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads TO {max(1, min(4, os.cpu_count() or 1))}")
    parts: list[pa.Table] = []
    bad: list[Unreadable] = []
    groups: dict[tuple[str, ...], list[int]] = {}
    built: list[int] = []
    for i, r in enumerate(runs):
        if targets is not None and not any(t.target in targets for t in r.targets) and r.targets:
            continue
        if r.cells is None:
            built.append(i)
        else:
            groups.setdefault(r.columns, []).append(i)

    def run_query(sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        rel = con.sql(sql, params=dict(params)) if params else con.sql(sql)
        return rel.to_arrow_table()

    for cols, idxs in groups.items():
        files = [str(runs[i].cells) for i in idxs]
        src_of = {f: i for f, i in zip(files, idxs, strict=True)}
        inner = (f"SELECT filename, {_select(cols)} FROM read_parquet($files, filename=true)")
        try:
            t = run_query(_AGG.format(src="filename", inner=inner), {"files": files})
        except duckdb.Error:
            # one bad file fails the lot: read the group's files one by one to name it
            t = None
            good = []
            for f in files:
                try:
                    good.append(run_query(_AGG.format(src="filename", inner=inner),
                                          {"files": [f]}))
                except duckdb.Error as exc:
                    bad.append(Unreadable(runs[src_of[f]].run_dir,
                                          f"cells.parquet unreadable: {str(exc).splitlines()[0]}"))
            if good:
                t = pa.concat_tables(good)
        if t is not None and t.num_rows:
            names = t.column("src").to_pylist()
            t = t.set_column(0, "src", pa.array([src_of[n] for n in names], type=pa.int64()))
            parts.append(t)
    for i in built:
        r = runs[i]
        try:
            table = _built_cells(r.run_dir)
        except StoreError as exc:
            bad.append(Unreadable(r.run_dir, exc.one_line()))
            continue
        con.register("built", table)
        inner = f"SELECT CAST({i} AS BIGINT) AS src, {_select(table.column_names)} FROM built"
        parts.append(run_query(_AGG.format(src="src", inner=inner)))
        con.unregister("built")
    if not parts:
        return _empty(), bad
    table = pa.concat_tables([p.cast(parts[0].schema) for p in parts])
    if targets is not None:
        import pyarrow.compute as pc

        table = table.filter(pc.is_in(table.column("target"), pa.array(sorted(targets))))
    return table, bad


def _empty() -> pa.Table:
    f, s = pa.float64(), pa.string()
    return pa.table({"src": pa.array([], pa.int64()), "target": pa.array([], s), "browser": pa.array([], s),
                     "model": pa.array([], s), "runtime": pa.array([], s), "backend": pa.array([], s),
                     "threads": pa.array([], pa.int64()), "browser_median_ms": pa.array([], f),
                     "ci_lo": pa.array([], f), "ci_hi": pa.array([], f), "native_median_ms": pa.array([], f),
                     "gap": pa.array([], f), "gap_lo": pa.array([], f), "gap_hi": pa.array([], f),
                     "model_sha256": pa.array([], s), "browser_version": pa.array([], s)})


def _built_cells(run_dir: Path) -> pa.Table:
    """The run's cells table from its JSON Lines, by the report's own code, in memory (nothing written)."""
    from ..htmlreport.data import load_run
    from ..htmlreport.parquet import cells_table

    return cells_table(load_run(run_dir))
