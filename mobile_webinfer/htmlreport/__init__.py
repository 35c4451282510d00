"""Per-run reports: `RUN_DIR/report/index.html` with plots, `cells.parquet`, `samples.parquet`,
and the comparison of runs.

    write_report(run_dir) -> Path          # the HTML report (and the Parquet files), its path
    write_parquet_files(run_dir)           # only the Parquet files
    compare_runs([run_a, run_b]) -> list[Comparison]
    write_comparison([run_a, run_b]) -> Path

The report folder is written beside the run's data and replaced whole, so it can be zipped and
mailed: `index.html` (inline CSS, no script, no network) and its PNG figures.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from ..files import safe_name
from .compare import Comparison, compare_runs, write_comparison
from .data import RunData, TargetRun, cell_span, load_run
from .folder import REPORT_DIR, write_report_folder
from .html import TargetFigures, report_page
from .ops import op_rows_by_target, ops_chart, ops_part
from .parquet import (
    PLOT_SAMPLE_COLUMNS,
    ParquetFiles,
    ensure_cells,
    ensure_samples,
    gfx_frame_times,
    read_samples,
)
from .plots import (
    Image,
    Series,
    conditions_timeline,
    frames_chart,
    gap_chart,
    latency_figures,
    memory_chart,
    memory_over_time,
    setup_chart,
)
from .qoe import qoe_chart, qoe_section
from .timing import phase

__all__ = ["Comparison", "ParquetFiles", "compare_runs", "write_comparison", "write_parquet_files", "write_report"]



def write_parquet_files(run_dir: Path | str) -> ParquetFiles:
    """`cells.parquet` and `samples.parquet` of a run, rebuilt only when the JSON Lines are newer."""
    run = load_run(run_dir)
    cells, c_new = ensure_cells(run)
    samples, s_new, _ = ensure_samples(run)
    return ParquetFiles(cells, samples, tuple(n for n, new in (("cells", c_new), ("samples", s_new)) if new))


def _series(table: pa.Table, target: str) -> Series:
    import pyarrow.compute as pc

    t = table.select([c for c in PLOT_SAMPLE_COLUMNS if c in table.column_names])
    if t.num_rows:
        t = t.filter(pc.equal(t.column("target"), target))
    if t.num_rows and "final" in t.column_names:  # a discarded (throttled) try is not drawn over its re-run
        t = t.filter(pc.fill_null(t.column("final"), True))

    def f(name: str) -> np.ndarray:
        return np.asarray(t.column(name).to_numpy(zero_copy_only=False), dtype=np.float64)

    def codes(name: str) -> tuple[np.ndarray, tuple[str, ...]]:
        enc = pc.dictionary_encode(t.column(name).combine_chunks()) if t.num_rows else None
        if enc is None:
            return np.zeros(0, dtype=np.int32), ()
        if pa.types.is_dictionary(enc.type.value_type):  # already a dictionary column
            enc = enc.cast(pa.string()).dictionary_encode()
        idx = np.asarray(enc.indices.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int32)
        return idx, tuple("" if v is None else str(v) for v in enc.dictionary.to_pylist())

    key, key_names = codes("key")
    runtime, runtime_names = codes("runtime")
    return Series(key=key, key_names=key_names, runtime=runtime, runtime_names=runtime_names, t_s=f("t_s"),
                  time_s=f("time_s"), memory_mb=f("memory_mb"), thermal_status=f("thermal_status"),
                  thermal_max_c=f("thermal_max_c"), battery_temp_c=f("battery_temp_c"),
                  cpu_freq_max_mhz=f("cpu_freq_max_mhz"))


def _spans(run: RunData, t: TargetRun) -> list[tuple[float, float, bool]]:
    out = []
    for r in t.records:
        span = cell_span(r)
        if span is None or run.start is None:
            continue
        a, b = ((x - run.start).total_seconds() for x in span)
        hot = any(f.startswith(("thermal", "phone-never-cooled")) for f in r.flags) or \
            (r.context.thermal_status_max or 0) > 0 or bool(r.attempts)
        out.append((a, b, hot))
    return out


@dataclass(frozen=True)
class _RowFigures:
    """The figures drawn from the gap rows and records alone (no samples needed)."""

    gap: Image | None
    latency: tuple[Image, ...]
    setup: Image | None
    memory: Image | None


def _row_figures(t: TargetRun, slug: str) -> _RowFigures:
    with phase("figures: gap"):
        gap = gap_chart(t, slug)
    with phase("figures: latency"):
        latency = tuple(latency_figures(t, slug))
    with phase("figures: setup"):
        setup = setup_chart(t, slug)
    with phase("figures: memory"):
        memory = memory_chart(t, slug)
    return _RowFigures(gap, latency, setup, memory)


def _figures(run: RunData, t: TargetRun, slug: str, rows: _RowFigures, samples: pa.Table,
             samples_path: Path, ops_by_target: Mapping[str, list[dict[str, Any]]] | None = None,
             ops_missing: Mapping[str, list[dict[str, Any]]] | None = None) -> TargetFigures:
    ops_by_target, ops_missing = ops_by_target or {}, ops_missing or {}
    with phase("figures: sample series"):
        series = _series(samples, t.name)
        if "raw" in samples.column_names:
            frame_ms, read, total = gfx_frame_times(samples, t.name)
        else:
            frame_ms, read, total = gfx_frame_times(samples_path, t.name)
    with phase("figures: memory over time"):
        memory_time = memory_over_time(t, series, slug)
    with phase("figures: conditions"):
        conditions = conditions_timeline(t, series, _spans(run, t), slug)
    with phase("figures: frames"):
        frames = frames_chart(t, frame_ms, read, total, slug)
    qoe_rows = tuple(d for d in run.row_dicts if "qoe_mode" in d and d["target"] == t.name)
    with phase("figures: qoe"):
        qoe = qoe_chart(qoe_rows, t.name, slug) if qoe_rows else None
    with phase("figures: per-operator"):
        op_rows, op_missing = ops_by_target.get(t.name, []), ops_missing.get(t.name, [])
        ops = ops_chart(op_rows, t.name, slug) if op_rows else None
    return TargetFigures(gap=rows.gap, latency=rows.latency, setup=rows.setup, memory=rows.memory,
                         memory_time=memory_time, conditions=conditions, frames=frames, qoe=qoe,
                         qoe_html=qoe_section(qoe_rows, qoe),
                         ops=ops, ops_html=ops_part(ops, op_rows, op_missing))


def _images(figs: TargetFigures) -> list[Image]:
    out = [*figs.latency]
    out += [i for i in (figs.gap, figs.setup, figs.memory, figs.memory_time, figs.conditions, figs.frames,
                        figs.qoe, figs.ops) if i]
    return out


def write_report(run_dir: Path | str) -> Path:
    """Write `RUN_DIR/report/index.html` (and bring the Parquet files up to date); returns its path.

    Bad input (not a directory, not a run) raises a one-line `StoreError`.  A thermal or battery
    study gets its own page (latency over time, sensors, energy)."""
    from ..store import RunStore
    from ..studies.summary import is_study

    run_dir = Path(run_dir)
    if (run_dir / "manifest.json").is_file() and is_study(RunStore.open(run_dir).manifest()):
        from .study import write_study_report

        return write_study_report(run_dir)
    light = load_run(run_dir, rows=False)   # records only: enough to build samples.parquet meanwhile
    result: dict[str, tuple[Path, bool, pa.Table | None]] = {}
    failure: list[BaseException] = []

    def samples_job() -> None:
        try:
            result["samples"] = ensure_samples(light)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread below
            failure.append(exc)

    worker = threading.Thread(target=samples_job, name="mwi-samples-parquet")
    worker.start()
    slugs: list[str] = []
    row_figs: list[_RowFigures] = []
    try:
        with phase("records + gap rows (build_rows)"):
            run = load_run(run_dir)
        ensure_cells(run)
        # drawn while samples.parquet is built: Arrow's parsing runs without the GIL, so on two
        # cores these figures cost no wall time
        for t in run.targets:
            slug = safe_name(t.name)
            while slug in slugs:
                slug += "_"
            slugs.append(slug)
            row_figs.append(_row_figures(t, slug))
    finally:
        with phase("waiting for samples.parquet"):
            worker.join()
    if failure:
        raise failure[0]
    samples_path, _new, table = result["samples"]
    with phase("samples: read Parquet (fresh file)"):
        samples = table if table is not None else read_samples(samples_path)
    sections = []
    images: list[Image] = []
    with phase("per-operator profiles"):
        ops_by_target, ops_missing = op_rows_by_target(run_dir, run.records)
    for t, slug, rows in zip(run.targets, slugs, row_figs, strict=True):
        figs = _figures(run, t, slug, rows, samples, samples_path, ops_by_target, ops_missing)
        images += _images(figs)
        sections.append((t, slug, figs))
    with phase("page + write files"):
        text = report_page(run, sections)
        write_report_folder(run_dir, images, text)
    return run_dir / REPORT_DIR / "index.html"

