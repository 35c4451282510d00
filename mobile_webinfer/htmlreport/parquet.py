"""`cells.parquet` and `samples.parquet`: a run's results as flat tables for pandas.

Both are derived from the JSON Lines files (the source of truth), written to a temp file and
renamed, and rebuilt only when a `results*.jsonl` / `samples.jsonl` is newer than them (or
they were written by another layout version).  Column meanings are in the README.

`cells.parquet`: one row per cell attempt.  The report's JSON row columns (`report.ROW_KEYS`:
the configuration the cell belongs to, the same values `mwi report --json` prints; mappings
as JSON text) plus `run_id` and the cell's own columns (`key`, `repeat`, `attempt`, `final`,
`status`, `latencies_ms`, ... prefixed `cell_` where a configuration column has the same name).
Earlier tries of a cell (throttled and re-run, phone lost and recovered) are rows with
`final = false`.

`samples.parquet`: one row per probe sample, every sample.  `raw` is the stored JSON line
itself, so no value is lost; the columns beside it pull out what plots and pandas users need.
A million samples are parsed with Arrow's JSON reader, not line by line in Python.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
import pyarrow.parquet as pq

from ..errors import StoreError
from ..files import replace_durably
from ..records import CellRecord
from ..report import ROW_KEYS
from ..store import SCHEMA_VERSION, read_jsonl
from .data import RunData, as_mapping
from .timing import phase

#: bumped when a column is added or changes meaning: older files are rebuilt
LAYOUT_VERSION = "4"  # 4: the paired gap and variance shares (issue 21); 3: samples carry `attempt` / `final`;
# 2: text columns of samples.parquet dictionary-encoded; CPU frequency over any core count
META_KEY = b"mwi_parquet_layout"

# --- cells.parquet -----------------------------------------------------------------------------

_F, _I, _S, _B = pa.float64(), pa.int64(), pa.string(), pa.bool_()
ROW_TYPES: dict[str, pa.DataType] = {
    "target": _S, "browser": _S, "model": _S, "runtime": _S, "backend": _S, "threads": _I,
    "browser_median_ms": _F, "browser_ci95_ms": pa.list_(_F), "native_median_ms": _F, "native_backend": _S,
    "gap": _F, "gap_ci95": pa.list_(_F), "first_inference_ms": _F, "setup_ms": _F, "peak_memory_mb": _F,
    "model_mb": _F, "memory_ratio": _F, "max_abs_diff": _F, "top1_match": _B, "n": _I, "repeats": _I, "cv": _F,
    "thermal_status_max": _I, "battery_temp_start_c": _F, "battery_temp_max_c": _F, "cooldown_s": _F,
    "janky_frame_share": _F, "peak_memory_by_type_mb": _S, "page_long_frame_share": _F, "page_max_frame_ms": _F,
    "wall_s": _F, "overhead_s": _F, "backend_in_effect": _S, "delegation": _S, "flags": pa.list_(_S), "error": _S,
    "validity": _S, "validity_reasons": pa.list_(_S), "precision": _F, "outliers": _I, "warmups": _F,
    # issue 21: the paired gap and where the variance comes from
    "pairing": _S, "pairing_note": _S, "pairing_mode": _S, "paired_gap": _F, "paired_gap_ci95": pa.list_(_F),
    "paired_precision": _F, "rounds": _I, "round_s": _F, "var_within_rounds": _F, "var_between_rounds": _F,
    "var_between_loads": _F,
}
#: report row keys stored as JSON text (mappings): decode with json.loads
JSON_ROW_KEYS = ("peak_memory_by_type_mb", "delegation")


@dataclass(frozen=True)
class CellColumn:
    name: str
    type: pa.DataType
    get: Callable[[CellRecord], Any]
    doc: str


def _ctx(r: CellRecord) -> Any:
    return r.context


def _latency_stat(fn: Callable[[np.ndarray], float]) -> Callable[[CellRecord], float | None]:
    def get(r: CellRecord) -> float | None:
        xs = r.samples_ms()
        return float(fn(np.asarray(xs, dtype=np.float64))) if xs else None
    return get


CELL_COLUMNS: tuple[CellColumn, ...] = (
    CellColumn("key", _S, lambda r: r.key, "the cell's key: target|browser|model|runtime|backend|tN|rN"),
    CellColumn("repeat", _I, lambda r: r.cell.repeat if r.cell else None, "fresh page load / native process number"),
    CellColumn("status", _S, lambda r: r.status, "ok, error, unsupported, skipped (earlier tries: throttled, lost)"),
    CellColumn("cell_error", _S, lambda r: r.error, "the cell's error message"),
    CellColumn("error_kind", _S, lambda r: r.error_kind, "error class (renderer-crashed, watchdog, page-hidden, ...)"),
    CellColumn("infra", _B, lambda r: r.infra, "true when the lab failed rather than the measurement"),
    CellColumn("started_at", _S, lambda r: r.started_at, "ISO time the cell began (before any cool-down wait)"),
    CellColumn("finished_at", _S, lambda r: r.finished_at, "ISO time the cell ended"),
    CellColumn("cell_wall_s", _F, lambda r: r.wall_s, "seconds the measurement took (cool-down excluded)"),
    CellColumn("cell_flags", pa.list_(_S), lambda r: list(r.flags), "the cell's own flags"),
    CellColumn("cell_n", _I, lambda r: len(r.samples_ms()) or None, "timed latencies stored (1: a native summary)"),
    CellColumn("cell_median_ms", _F, _latency_stat(np.median), "median of the cell's timed latencies"),
    CellColumn("cell_mean_ms", _F, _latency_stat(np.mean), "mean of the cell's timed latencies"),
    CellColumn("latencies_ms", pa.list_(_F), lambda r: list(r.latencies_ms) if r.latencies_ms else None,
               "every timed latency (null for benchmark_model, which prints a summary)"),
    CellColumn("latency_summary_ms", _S, lambda r: _json(r.latency_summary_ms),
               "benchmark_model's summary {avg, std, count, p5, median, p95, min, max} as JSON"),
    CellColumn("warmup_ms", pa.list_(_F), lambda r: [x for x in r.warmup_ms if x is not None], "warmup latencies"),
    CellColumn("cell_first_inference_ms", _F, lambda r: r.first_inference_ms, "the first inference"),
    CellColumn("cell_setup_ms", _F, lambda r: r.setup_ms, "model load + runtime setup"),
    CellColumn("runtime_load_ms", _F, lambda r: r.runtime_load_ms, "loading the runtime's scripts (browser)"),
    CellColumn("cell_peak_memory_mb", _F, lambda r: r.mem.peak_total_mb, "the cell's peak memory, MB"),
    CellColumn("cell_peak_memory_by_type_mb", _S, lambda r: _json(r.mem.peak_by_type_mb),
               "the cell's peak memory per process type as JSON"),
    CellColumn("memory_source", _S, lambda r: r.mem.source, "where the memory numbers come from"),
    CellColumn("eff_backend", _S, lambda r: r.eff.backend, "backend in effect (as the runtime reported it)"),
    CellColumn("eff_threads", _I, lambda r: r.eff.threads if isinstance(r.eff.threads, int) else None,
               "threads in effect"),
    CellColumn("wasm_build", _S, lambda r: r.eff.wasm_build, "which wasm build loaded (LiteRT.js)"),
    CellColumn("cross_origin_isolated", _B, lambda r: r.eff.cross_origin_isolated, "page was cross-origin isolated"),
    CellColumn("software_gpu", _B, lambda r: r.eff.software_gpu, "GPU was a software renderer (SwiftShader)"),
    CellColumn("browser_version", _S, lambda r: r.browser_version, "browser versionName"),
    CellColumn("model_sha256", _S, lambda r: r.model_sha256, "sha256 of the model file the cell ran"),
    CellColumn("model_bytes", _I, lambda r: r.model_bytes, "size of that file"),
    CellColumn("cell_thermal_status_start", _I, lambda r: _ctx(r).thermal_status_start, "thermal status at start"),
    CellColumn("cell_thermal_status_max", _I, lambda r: _ctx(r).thermal_status_max, "highest thermal status seen"),
    CellColumn("cell_battery_temp_start_c", _F, lambda r: _ctx(r).battery_temp_start_c, "battery C at start"),
    CellColumn("cell_battery_temp_max_c", _F, lambda r: _ctx(r).battery_temp_max_c, "highest battery C seen"),
    CellColumn("cell_cooldown_s", _F, lambda r: _ctx(r).cooldown_s, "seconds waited to cool down first"),
    CellColumn("cell_janky_frame_share", _F, lambda r: _ctx(r).janky_frame_share, "gfxinfo janky-frame share"),
    CellColumn("agreement_ok", _B, lambda r: r.agreement.ok if r.agreement else None, "outputs could be compared"),
    CellColumn("cell_max_abs_diff", _F, lambda r: r.agreement.max_abs_diff if r.agreement else None,
               "largest |output - reference output|"),
    CellColumn("cell_top1_match", _B, lambda r: r.agreement.top1_match if r.agreement else None,
               "top-1 class equals the reference's"),
)
#: columns that only `cells.parquet` has (besides the report's row columns and these)
ATTEMPT_COLUMNS: tuple[tuple[str, pa.DataType, str], ...] = (
    ("run_id", _S, "the run's id (the run directory's name)"),
    ("attempt", _I, "0 for the first try of the cell; the stored result is the last"),
    ("final", _B, "true for the stored result, false for an earlier try"),
    ("attempt_note", _S, "why an earlier try was not kept"),
)


def _json(v: Any) -> str | None:
    if v is None:
        return None
    return json.dumps(v, sort_keys=True, default=_plain)


def _plain(v: Any) -> Any:
    if isinstance(v, Mapping):
        return dict(v)
    if isinstance(v, tuple):
        return list(v)
    raise TypeError(f"not JSON serialisable: {type(v).__name__}")


def _array(values: list[Any], typ: pa.DataType | None) -> pa.Array:
    """A column of `typ`; where values do not fit it, Arrow infers one (values are never coerced)."""
    if typ is not None:
        try:
            return pa.array(values, type=typ)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
            pass
    if any(isinstance(v, (Mapping, list, tuple)) for v in values):
        return pa.array([_json(v) for v in values], type=_S)
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
        return pa.array([_json(v) for v in values], type=_S)


def _row_value(key: str, v: Any) -> Any:
    if key in JSON_ROW_KEYS:
        return _json(v)
    return v


def cells_table(run: RunData) -> pa.Table:
    """One row per cell attempt (earlier tries first), with its configuration's report row."""
    by_config = {tuple(d.get(k) for k in ("target", "browser", "model", "runtime", "backend", "threads", "qoe_mode")): d
                 for d in run.row_dicts}  # qoe rows carry their mode; latency rows none
    row_keys = list(ROW_KEYS) + [k for d in run.row_dicts for k in d if k not in ROW_KEYS]
    row_keys = list(dict.fromkeys(row_keys))
    out: dict[str, list[Any]] = {k: [] for k in row_keys}
    for name, _t, _d in ATTEMPT_COLUMNS:
        out[name] = []
    for column in CELL_COLUMNS:
        out[column.name] = []
    for rec in sorted(run.records, key=lambda r: r.key):
        c = rec.cell
        conf = by_config.get((c.target, c.browser, c.model, c.runtime, c.backend, c.threads,
                              c.qoe_mode or None)) if c else None
        tries: list[tuple[int, bool, Any]] = [(i, False, a) for i, a in enumerate(rec.attempts)]
        tries.append((len(rec.attempts), True, None))
        for attempt, final, a in tries:
            for k in row_keys:
                out[k].append(_row_value(k, conf.get(k)) if conf is not None else None)
            out["run_id"].append(run.run_id)
            out["attempt"].append(attempt)
            out["final"].append(final)
            out["attempt_note"].append(a.note if a is not None else None)
            for col in CELL_COLUMNS:
                if a is None:
                    v = col.get(rec)
                elif col.name == "status":
                    v = a.status
                elif col.name in ("key", "repeat", "model_sha256", "model_bytes", "browser_version"):
                    v = col.get(rec)
                elif col.name == "finished_at":
                    v = a.at
                elif col.name == "cell_median_ms":
                    v = a.median_ms
                elif col.name == "cell_thermal_status_max":
                    v = a.thermal_status_max
                else:
                    v = None
                out[col.name].append(v)
    types: dict[str, pa.DataType | None] = {k: ROW_TYPES.get(k) for k in row_keys}
    types.update({n: t for n, t, _ in ATTEMPT_COLUMNS})
    types.update({c.name: c.type for c in CELL_COLUMNS})
    arrays = [_array(vals, types.get(name)) for name, vals in out.items()]
    return pa.Table.from_arrays(arrays, names=list(out))


# --- samples.parquet ---------------------------------------------------------------------------

SAMPLE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("run_id", "the run's id"),
    ("key", "the cell the sample belongs to (cells.parquet `key`)"),
    ("target", "phone serial or `local`"), ("browser", "browser package / `chromium` / `native`"),
    ("model", "model name"), ("runtime", "runtime"), ("backend", "backend asked for"),
    ("threads", "threads asked for"), ("repeat", "repeat number"),
    ("attempt", "which try of the cell took the sample (1, 2, ...: a throttled try re-run; null: before attempts "
                "were stored)"),
    ("final", "the sample belongs to the cell's stored (last) try; false: a discarded try (plots leave it out)"),
    ("probe", "meminfo, gfxinfo, thermal, battery, cpu (phones); procmem (this computer)"),
    ("ok", "false: the probe failed (`error` says why)"), ("error", "the probe's one-line error"),
    ("t_s", "seconds since the cell's sampler started (monotonic clock)"),
    ("time_s", "seconds since the run's first cell started (cell start + t_s): the run's time axis"),
    ("cost_s", "seconds the probe call took"),
    ("memory_mb", "total memory of the browser / process tree, MB (meminfo PSS summed over the package's "
                  "processes; procmem PSS)"),
    ("thermal_status", "Android thermal status 0 NONE .. 6 SHUTDOWN"),
    ("thermal_max_c", "hottest thermal HAL temperature in the sample, C"),
    ("battery_temp_c", "battery temperature, C"), ("battery_level", "battery level, %"),
    ("cpu_utilization", "busy share of all cores since the previous sample"),
    ("cpu_freq_max_mhz", "highest current frequency over the cores, MHz"),
    ("frames_new", "gfxinfo frames new since the previous sample"),
    ("frames_janky", "of those, janky"),
    ("raw", "the stored JSON line (every value the probe reported)"),
)

_DATA_TYPE = pa.struct([
    ("total_pss_kb", _F), ("total_pss_mb", _F), ("status", _I), ("temperature_c", _F), ("level", _F),
    ("utilization", _F), ("new_frames", _I), ("new_janky", _I),
])
_LINE_SCHEMA = pa.schema([("schema_version", _I), ("key", _S), ("probe", _S), ("ok", _B), ("error", _S),
                          ("t_s", _F), ("cost_s", _F), ("total_pss_mb", _F), ("attempt", _I), ("data", _DATA_TYPE)])
#: flat mappings of numbers whose keys differ per phone (sensor names, core names): read apart, on
#: the lines of their probe only, and reduced to their largest value
_OPEN_MAPPINGS = {"thermal": "temperatures", "cpu": "freq_khz"}


def _split_lines(data: bytes) -> pa.Array:
    """The lines of `data` (which ends in a newline) as one Arrow string array, without copying in Python.

    Each line keeps no line break: the newline (and a CR before it) is left out of the values."""
    arr = np.frombuffer(data, dtype=np.uint8)
    nl = np.flatnonzero(arr == 10)
    offsets = np.concatenate([np.zeros(1, dtype=np.int64), (nl + 1).astype(np.int64)])
    lines = pa.LargeStringArray.from_buffers(len(nl), pa.py_buffer(offsets.tobytes()), pa.py_buffer(data))
    return pc.utf8_rtrim_whitespace(lines)


def _parse_fast(data: bytes) -> pa.Table:
    return pj.read_json(io.BytesIO(data), read_options=pj.ReadOptions(block_size=1 << 24),
                        parse_options=pj.ParseOptions(explicit_schema=_LINE_SCHEMA,
                                                      unexpected_field_behavior="ignore"))


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def _parse_slow(path: Path) -> tuple[pa.Table, pa.Array]:
    """Line by line (what the store's reader does): for files Arrow's reader refuses."""
    cols: dict[str, list[Any]] = {n: [] for n in ("schema_version", "key", "probe", "ok", "error", "t_s", "cost_s",
                                                  "total_pss_mb", "attempt")}
    data_cols: dict[str, list[Any]] = {f.name: [] for f in _DATA_TYPE}
    raws: list[str] = []
    for row in read_jsonl(path):
        raws.append(json.dumps(row, separators=(",", ":")))
        for k in ("key", "probe", "error"):
            v = row.get(k)
            cols[k].append(v if isinstance(v, str) else None)
        ok, sv, at = row.get("ok"), row.get("schema_version"), row.get("attempt")
        cols["ok"].append(ok if isinstance(ok, bool) else None)
        cols["attempt"].append(at if isinstance(at, int) and not isinstance(at, bool) else None)
        cols["schema_version"].append(sv if isinstance(sv, int) and not isinstance(sv, bool) else None)
        for k in ("t_s", "cost_s", "total_pss_mb"):
            cols[k].append(_num(row.get(k)))
        d = as_mapping(row.get("data"))
        for k in data_cols:
            v = d.get(k)
            if k in ("status", "new_frames", "new_janky"):
                v = v if isinstance(v, int) and not isinstance(v, bool) else None
            else:
                v = _num(v)
            data_cols[k].append(v)
    arrays = [pa.array(cols[f.name], type=f.type) for f in _LINE_SCHEMA if f.name != "data"]
    data = pa.StructArray.from_arrays([pa.array(data_cols[f.name], type=f.type) for f in _DATA_TYPE],
                                      fields=list(_DATA_TYPE))
    table = pa.Table.from_arrays([*arrays, data], schema=_LINE_SCHEMA)
    return table, pa.array(raws, type=pa.large_string())


def _where(mask: pa.Array, values: pa.Array) -> pa.Array:
    return pc.if_else(mask, values, pa.scalar(None, type=values.type))


def _joined_lines(strings: pa.Array | pa.ChunkedArray) -> bytes:
    """The strings (no nulls) one per line, as bytes, assembled by Arrow (no Python loop)."""
    if isinstance(strings, pa.ChunkedArray):
        strings = strings.combine_chunks()
    if not len(strings):
        return b""
    with_nl = pc.binary_join_element_wise(strings, pa.scalar("\n", type=strings.type),
                                          pa.scalar("", type=strings.type))
    buffers = with_nl.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64 if pa.types.is_large_string(with_nl.type) else np.int32)
    start, end = int(offsets[with_nl.offset]), int(offsets[with_nl.offset + len(with_nl)])
    return buffers[2].to_pybytes()[start:end]


def _max_of_objects_json(objects: pa.Array) -> np.ndarray:
    """The largest number in each flat JSON object, read one by one (the slow, exact way)."""
    out = []
    for text in objects.to_pylist():
        try:
            d = json.loads(text)
        except (TypeError, ValueError):
            d = None
        vals = [v for v in map(_num, as_mapping(d).values()) if v is not None]
        out.append(max(vals) if vals else np.nan)
    return np.array(out, dtype=np.float64)


def _max_of_objects(objects: pa.Array) -> np.ndarray:
    """The largest number in each flat JSON object (`{"cpu0":2400000,"cpu1":null}`); NaN where none.

    Vectorised: members split at commas, each member's value is what follows its last colon, cast to
    a number (`null` is none); anything else (a nested value, a string) sends the lot to the exact
    JSON reading, so an odd file is slower, never wrong."""
    n = len(objects)
    if not n:
        return np.full(0, np.nan)
    body = pc.utf8_trim(objects, "{} \t\r\n")
    if pc.any(pc.or_(pc.match_substring(body, "{"), pc.match_substring(body, "["))).as_py():
        return _max_of_objects_json(objects)  # a nested value: not a flat mapping
    parts = pc.split_pattern(_where(pc.not_equal(body, ""), body), ",")
    members = pc.list_flatten(parts)
    if not len(members):
        return np.full(n, np.nan)
    kv = pc.split_pattern(members, ":", max_splits=1, reverse=True)
    if pc.min(pc.list_value_length(kv)).as_py() != 2:
        return _max_of_objects_json(objects)
    text = pc.utf8_trim_whitespace(pc.list_element(kv, 1))  # a name holding "," or a string value: no cast
    try:
        vals = pc.cast(_where(pc.not_equal(text, "null"), text), _F).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return _max_of_objects_json(objects)
    parent = np.asarray(pc.list_parent_indices(parts).to_numpy(zero_copy_only=False), dtype=np.int64)
    vals = np.asarray(vals, dtype=np.float64)
    out = np.full(n, -np.inf)
    np.fmax.at(out, parent, np.where(np.isfinite(vals), vals, -np.inf))
    out[np.isneginf(out)] = np.nan
    return out


def _open_mapping_max(raw: pa.Array, mask: pa.Array, key: str) -> pa.Array:
    """Per line where `mask`: the largest value of the flat object under `key` (sensor or core names
    differ per phone, so the object is read on those lines only, after the typed parse)."""
    n = len(raw)
    idx = np.flatnonzero(np.asarray(mask.fill_null(False)))
    out = np.full(n, np.nan)
    if idx.size:
        lines = pc.take(raw, pa.array(idx))
        found = pc.struct_field(pc.extract_regex(lines, '"' + re.escape(key) + r'"\s*:\s*(?P<o>\{[^{}]*\})'), "o")
        out[idx] = _max_of_objects(pc.fill_null(found, "{}"))
    return pa.array(out, from_pandas=True)


def samples_table(run: RunData) -> pa.Table:
    """Every probe sample of the run as flat columns (empty, with every column, when there are none)."""
    path = run.run_dir / "samples.jsonl"
    with phase("samples: read, split lines"):
        data = path.read_bytes() if path.is_file() else b""
        data = data[: data.rfind(b"\n") + 1]  # a torn last line (a crash mid-write) is not a sample
    try:
        with phase("samples: read, split lines"):
            raw = _split_lines(data)
            if pc.any(pc.equal(pc.utf8_length(raw), 0)).as_py():
                raw = raw.filter(pc.greater(pc.utf8_length(raw), 0))
        with phase("samples: parse JSON (Arrow)"):
            table = _parse_fast(data) if len(raw) else _LINE_SCHEMA.empty_table()
        if table.num_rows != len(raw):
            raise pa.ArrowInvalid("line count differs")
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        table, raw = _parse_slow(path)
    if table.num_rows:
        newest = pc.max(table.column("schema_version")).as_py()
        if isinstance(newest, int) and newest > SCHEMA_VERSION:
            raise StoreError(f"{path}: schema_version {newest} is newer than this mwi reads ({SCHEMA_VERSION}); "
                             f"upgrade mobile-webinfer")
    with phase("samples: flatten columns"):
        return _flat(run, table.combine_chunks(), raw)


def _codes(values: pa.Array) -> tuple[np.ndarray, list[Any]]:
    """Dictionary codes of a text column (-1 for null) and its distinct values."""
    enc = pc.dictionary_encode(values)
    return np.asarray(enc.indices.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int32), \
        enc.dictionary.to_pylist()


def _dictionary(codes: np.ndarray, values: Sequence[str | None]) -> pa.Array:
    """A dictionary-encoded text column: row i is `values[codes[i]]`; a code out of range or a None
    value is null (Parquet takes no null inside a dictionary)."""
    uniq = sorted({v for v in values if v is not None})
    pos = {v: i for i, v in enumerate(uniq)}
    remap = np.array([pos[v] if v is not None else -1 for v in values] + [-1], dtype=np.int32)
    idx = remap[np.where((codes >= 0) & (codes < len(values)), codes, len(values))]
    return pa.DictionaryArray.from_arrays(pa.array(idx, mask=idx < 0), pa.array(uniq, type=_S))


def _flat(run: RunData, t: pa.Table, raw: pa.Array) -> pa.Table:
    n = t.num_rows

    def col(name: str) -> pa.Array:
        return t.column(name).combine_chunks() if n else pa.array([], type=_LINE_SCHEMA.field(name).type)

    key = col("key")
    key_codes, keys = _codes(key)
    probe_codes, probes = _codes(col("probe"))
    recs = {r.key: r for r in run.records}
    per_key: dict[str, list[Any]] = {k: [] for k in ("target", "browser", "model", "runtime", "backend", "threads",
                                                     "repeat", "anchor", "last_attempt")}
    for k in [*keys, None]:  # the last entry stands for samples without a key (code -1)
        r = recs.get(k) if isinstance(k, str) else None
        c = r.cell if r is not None else None
        parts = k.split("|") if isinstance(k, str) else []
        if c is not None:
            vals: list[Any] = [c.target, c.browser, c.model, c.runtime, c.backend, c.threads, c.repeat]
        elif len(parts) == 7 and parts[5][1:].isdigit() and parts[6][1:].isdigit():
            vals = [*parts[:5], int(parts[5][1:]), int(parts[6][1:])]
        else:
            vals = [None] * 7
        last = len(r.attempts) + 1 if r is not None else None
        for name, v in zip(per_key, [*vals, run.anchor_s(r) if r is not None else None, last], strict=True):
            per_key[name].append(v)
    idx = pa.array(np.where(key_codes < 0, len(keys), key_codes).astype(np.int32))

    def take(name: str, typ: pa.DataType) -> pa.Array:
        return pc.take(pa.array(per_key[name], type=typ), idx)

    def take_text(name: str) -> pa.Array:
        """Few distinct values over a million rows: dictionary codes (pandas reads a category)."""
        return _dictionary(np.where(key_codes < 0, len(keys), key_codes), per_key[name])

    data = col("data")

    def dfield(name: str) -> pa.Array:
        return pc.struct_field(data, name) if n else pa.array([], type=_DATA_TYPE.field(name).type)

    def is_probe(name: str) -> pa.Array:
        return pa.array(probe_codes == probes.index(name) if name in probes else np.zeros(n, dtype=bool))

    def open_max(probe_name: str, scale: float = 1.0) -> pa.Array:
        out = _open_mapping_max(raw, is_probe(probe_name), _OPEN_MAPPINGS[probe_name]) if n else pa.array([], _F)
        return pc.divide(out, scale) if scale != 1.0 else out

    t_s = col("t_s")
    mem = pc.coalesce(_where(is_probe("meminfo"), pc.divide(dfield("total_pss_kb"), 1024.0)),
                      dfield("total_pss_mb"), col("total_pss_mb"))
    cols: dict[str, pa.Array] = {
        "run_id": pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), pa.array([run.run_id], _S)),
        "key": key,
        "target": take_text("target"), "browser": take_text("browser"), "model": take_text("model"),
        "runtime": take_text("runtime"), "backend": take_text("backend"), "threads": take("threads", _I),
        "repeat": take("repeat", _I),
        "attempt": col("attempt"),
        "final": pc.fill_null(pc.equal(col("attempt"), take("last_attempt", _I)), True),
        "probe": _dictionary(probe_codes, probes),
        "ok": col("ok"), "error": col("error"),
        "t_s": t_s, "time_s": pc.add(take("anchor", _F), t_s),
        "cost_s": col("cost_s"),
        "memory_mb": mem,
        "thermal_status": _where(is_probe("thermal"), dfield("status")),
        "thermal_max_c": open_max("thermal"),
        "battery_temp_c": _where(is_probe("battery"), dfield("temperature_c")),
        "battery_level": _where(is_probe("battery"), dfield("level")),
        "cpu_utilization": _where(is_probe("cpu"), dfield("utilization")),
        "cpu_freq_max_mhz": open_max("cpu", 1000.0),
        "frames_new": _where(is_probe("gfxinfo"), dfield("new_frames")),
        "frames_janky": _where(is_probe("gfxinfo"), dfield("new_janky")),
        "raw": raw,
    }
    assert list(cols) == [c for c, _ in SAMPLE_COLUMNS]
    return pa.Table.from_pydict(cols)


# --- writing, freshness ------------------------------------------------------------------------

@dataclass(frozen=True)
class ParquetFiles:
    cells: Path
    samples: Path
    rebuilt: tuple[str, ...]   # which of the two were (re)written this time


def _sources(run_dir: Path, *, samples: bool) -> list[Path]:
    out = sorted(run_dir.glob("results*.jsonl")) + [run_dir / "manifest.json"]
    if samples:
        out.append(run_dir / "samples.jsonl")
    return [p for p in out if p.exists()]


def is_fresh(path: Path, sources: Iterable[Path]) -> bool:
    """`path` exists, was written by this layout, and is newer than every source."""
    if not path.is_file():
        return False
    try:
        meta = pq.read_schema(path).metadata or {}
    except (OSError, pa.ArrowInvalid):
        return False
    if meta.get(META_KEY) != LAYOUT_VERSION.encode():
        return False
    mine = path.stat().st_mtime_ns
    return all(s.stat().st_mtime_ns <= mine for s in sources)


def write_parquet(table: pa.Table, path: Path) -> None:
    """Write atomically (temp file + durable rename), tagged with the layout version."""
    meta = dict(table.schema.metadata or {})
    meta[META_KEY] = LAYOUT_VERSION.encode()
    table = table.replace_schema_metadata(meta)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        # `raw` (every line unique) gets neither a dictionary nor min/max statistics: both cost time, gain nothing
        plain = [n for n in table.column_names if n != "raw"]
        pq.write_table(table, tmp, compression="zstd", row_group_size=256 * 1024, use_dictionary=plain,
                       write_statistics=plain)
        replace_durably(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def ensure_cells(run: RunData) -> tuple[Path, bool]:
    path = run.run_dir / "cells.parquet"
    if is_fresh(path, _sources(run.run_dir, samples=False)):
        return path, False
    with phase("cells: table + write Parquet"):
        write_parquet(cells_table(run), path)
    return path, True


def ensure_samples(run: RunData) -> tuple[Path, bool, pa.Table | None]:
    """samples.parquet, rebuilt when stale; returns the table when it was just built (else None)."""
    path = run.run_dir / "samples.parquet"
    if is_fresh(path, _sources(run.run_dir, samples=True)):
        return path, False, None
    table = samples_table(run)
    with phase("samples: write Parquet"):
        write_parquet(table, path)
    return path, True, table


PLOT_SAMPLE_COLUMNS = ("key", "final", "target", "runtime", "probe", "t_s", "time_s", "memory_mb", "thermal_status",
                       "thermal_max_c", "battery_temp_c", "cpu_freq_max_mhz")


def read_samples(path: Path, columns: Sequence[str] = PLOT_SAMPLE_COLUMNS) -> pa.Table:
    return pq.read_table(path, columns=list(columns))


_FRAME = re.compile(rb"\[\s*-?\d+\s*,\s*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*,\s*(?:true|false)\s*\]")


def gfx_frame_times(samples: pa.Table | Path, target: str, *, max_rows: int = 50_000) -> tuple[np.ndarray, int, int]:
    """Frame durations (ms) of a target's gfxinfo samples: (durations, rows read, rows in all).

    Past `max_rows` samples an even stride of them is read (the caller says so in its label)."""
    if isinstance(samples, Path):
        samples = pq.read_table(samples, columns=["target", "probe", "raw"],
                                filters=[("probe", "=", "gfxinfo"), ("target", "=", target)])
    else:
        if "raw" not in samples.column_names:
            return np.array([]), 0, 0
        mask = pc.and_(pc.equal(samples.column("probe"), "gfxinfo"), pc.equal(samples.column("target"), target))
        samples = samples.select(["raw"]).filter(mask)
    total = samples.num_rows
    if not total:
        return np.array([]), 0, 0
    raw = samples.column("raw")
    step = max(1, math.ceil(total / max_rows))
    if step > 1:
        raw = pc.take(raw, pa.array(np.arange(0, total, step)))
    text = _joined_lines(raw.drop_null())
    found = _FRAME.findall(text)
    vals = np.array(found, dtype="S").astype(np.float64) if found else np.zeros(0)
    return vals, len(raw), total
