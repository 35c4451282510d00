"""The gap table: browser against native, like with like, from stored results.

Pairing follows the study: CPU backends (wasm, cpu) against native CPU (XNNPACK) at the
same thread count *in effect*; GPU backends (webgl, webgpu) against the native GPU
delegate where one was measured, otherwise against native CPU at the same thread count,
flagged `vs-native-cpu`.  Cells that differ in target, browser, model, runtime, backend
or threads are never pooled; repeats of one configuration are (hierarchically).
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .paired_stats import PAIRED_ROW_KEYS, pairing_columns
from .qoe_metrics import QOE_ROW_KEYS, qoe_rows
from .records import TIME_CEILING_SKIP, CellRecord, load_records
from .stats import ci_precision, outlier_count, ratio_ci, stability_flags, summarize
from .store import RunStore
from .sweep.policy import IMPRECISE, LOADS_CUT, validity
from .vocab import GPU_BACKENDS, NATIVE_RUNTIME, NATIVE_RUNTIMES, ORT_NATIVE_RUNTIME

ROW_KEYS = ("target", "browser", "model", "runtime", "backend", "threads", "browser_median_ms", "browser_ci95_ms",
            "native_median_ms", "native_backend", "native_runtime", "gap", "gap_ci95", "first_inference_ms", "setup_ms",
            "peak_memory_mb", "model_mb", "memory_ratio", "max_abs_diff", "top1_match", "n", "repeats", "cv",
            "thermal_status_max", "battery_temp_start_c", "battery_temp_max_c", "cooldown_s", "janky_frame_share",
            "peak_memory_by_type_mb", "page_long_frame_share", "page_max_frame_ms", "wall_s", "overhead_s",
            "backend_in_effect", "delegation", "flags", "error", "validity", "validity_reasons", "precision",
            "outliers", "warmups") + PAIRED_ROW_KEYS


def _median(xs):
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return None
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def _max(xs):
    xs = [x for x in xs if x is not None]
    return max(xs) if xs else None


def _overhead(r: CellRecord) -> float | None:
    """Wall time of a cell minus the time spent inside inference and in the cool-down gate."""
    if r.wall_s is None:
        return None
    inside = sum(r.latencies_ms or ()) + sum(x for x in r.warmup_ms if x is not None) + (r.first_inference_ms or 0)
    if not r.latencies_ms and r.latency_summary_ms:
        s = r.latency_summary_ms
        inside += (s.get("avg") or 0) * (s.get("count") or 0)
    cool = r.context.cooldown_s or 0
    return max(0.0, r.wall_s - inside / 1000.0 - cool)


def _group(records: list[CellRecord]) -> dict[tuple[Any, ...], list[CellRecord]]:
    groups: dict[tuple[Any, ...], list[CellRecord]] = defaultdict(list)
    for r in records:
        c = r.cell
        if c is None or c.is_qoe:  # QoE cells have rows of their own (qoe_metrics.qoe_rows)
            continue
        groups[(c.target, c.browser, c.model, c.runtime, c.backend, c.threads)].append(r)
    for k, recs in groups.items():  # loads of another model version (extra repeats from before a rebuild): left out
        dated = [r for r in recs if r.model_sha256]
        if len({r.model_sha256 for r in dated}) > 1:
            newest = max(dated, key=lambda r: r.finished_at or r.started_at or "").model_sha256
            groups[k] = [r for r in recs if r.model_sha256 in (None, newest)]
    return groups


DEFAULT_PRECISION = 0.02


def _target_precision(recs: list[CellRecord]) -> float | None:
    """The precision the configuration was measured for (its records' budget); None for runs made
    before adaptive run counts (schema 1 and early schema 2: no `precision` in the budget)."""
    got = [r.budget.get("precision") for r in recs if isinstance(r.budget, Mapping)]
    vals = [float(x) for x in got if isinstance(x, (int, float)) and not isinstance(x, bool)]
    return min(vals) if vals else None


def _threads_in_effect(recs: list[CellRecord], requested: int) -> int:
    vals = [r.eff.threads for r in recs if r.ok]
    ints = [v for v in vals if isinstance(v, int)]
    return ints[0] if ints else requested


def build_rows(records: Iterable[CellRecord | Mapping[str, Any]], *,
               pair_ort_with: str = NATIVE_RUNTIME) -> list[dict[str, Any]]:
    """One row per target x browser x model x runtime x backend x threads (stored dicts or typed records).
    `ort` browser cells pair with native LiteRT unless `pair_ort_with` is `ort-native` (host ONNX Runtime)."""
    typed = load_records(records)
    groups = _group(typed)
    natives: dict[str, dict[tuple[Any, ...], dict[str, list[CellRecord]]]] = {r: defaultdict(dict)
                                                                             for r in NATIVE_RUNTIMES}
    for (tgt, _b, model, runtime, backend, threads), recs in groups.items():
        if runtime in NATIVE_RUNTIMES:
            natives[runtime][(tgt, model, threads)][backend] = recs
    rows = []
    native_cache: dict[tuple[Any, ...], Any] = {}
    for (tgt, browser, model, runtime, backend, threads), planned in sorted(groups.items(), key=lambda kv: _sort(kv[0])):
        recs = [r for r in planned if r.error_kind != TIME_CEILING_SKIP]  # repeats the time ceiling left unrun:
        cut = len(planned) - len(recs)                                      # not failures, a flag on the row
        ok = [r for r in recs if r.ok and r.samples_ms()]
        errs = [r for r in recs if not r.ok]
        flags: set[str] = {f"{LOADS_CUT}({cut}-of-{len(planned)})"} if cut else set()
        for r in recs:
            flags.update(f for f in r.flags if f != IMPRECISE)  # a page load's own precision: the row's is pooled
        loads = [r.samples_ms() for r in ok]  # one group per page load / native process
        s = summarize(loads)
        target_precision = _target_precision(recs)
        flags.update(stability_flags(s, loads, precision=target_precision or DEFAULT_PRECISION))
        row_precision = ci_precision(s)
        row: dict[str, Any] = {k: None for k in ROW_KEYS}
        row.update(target=tgt, browser=browser, model=model, runtime=runtime, backend=backend, threads=threads,
                   repeats=len(recs), flags=[], error=None)
        if errs:
            row["error"] = errs[-1].error or errs[-1].status
            if len(errs) < len(recs):
                flags.add(f"{len(errs)}-of-{len(recs)}-repeats-failed")
            if any(e.status == "unsupported" for e in errs):
                flags.add("unsupported")
        eff = sorted({str(r.eff.backend) for r in ok if r.eff.backend})
        row["backend_in_effect"] = "/".join(eff) if eff else None  # e.g. gpu-partial: never shown as plain gpu
        row["delegation"] = next((d for d in (r.eff.delegation_summary() for r in ok) if d), None)
        row["first_inference_ms"] = _median([r.first_inference_ms for r in ok])
        row["setup_ms"] = _median([r.setup_ms for r in ok])
        row["peak_memory_mb"] = _max([r.mem.peak_total_mb for r in ok])
        mb = _max([r.model_bytes for r in recs])
        row["model_mb"] = round(mb / 1e6, 3) if mb else None
        if row["peak_memory_mb"] and row["model_mb"]:
            row["memory_ratio"] = round(row["peak_memory_mb"] / row["model_mb"], 1)
        agr = [r.agreement for r in ok if r.agreement is not None and r.agreement.ok]
        row["max_abs_diff"] = _max([a.max_abs_diff for a in agr])
        tops = [a.top1_match for a in agr if a.top1_match is not None]
        row["top1_match"] = all(tops) if tops else None
        ctx = [r.context for r in recs]
        row["thermal_status_max"] = _max([c.thermal_status_max for c in ctx])
        row["battery_temp_start_c"] = _median([c.battery_temp_start_c for c in ctx])
        row["battery_temp_max_c"] = _max([c.battery_temp_max_c for c in ctx])
        cool = [c.cooldown_s for c in ctx if c.cooldown_s is not None]
        row["cooldown_s"] = round(sum(cool), 3) if cool else None
        jank = [c.janky_frame_share for c in ctx if c.janky_frame_share is not None]
        row["janky_frame_share"] = max(jank) if jank else None
        by_type: dict[str, float] = {}
        for r in ok:
            for k, v in (r.mem.peak_by_type_mb or {}).items():
                if v is not None:
                    by_type[k] = max(by_type.get(k, 0.0), v)
        row["peak_memory_by_type_mb"] = by_type or None
        # responsiveness while the model runs: the page's own requestAnimationFrame intervals
        fr = [r.frames for r in ok if isinstance(r.frames, Mapping) and r.frames.get("count")]
        if fr:
            row["page_long_frame_share"] = round(sum(f.get("long_frames") or 0 for f in fr)
                                                 / sum(f["count"] for f in fr), 4)
            row["page_max_frame_ms"] = _max([f.get("max_frame_ms") for f in fr])
        walls = [r.wall_s for r in recs if r.wall_s is not None]
        row["wall_s"] = round(sum(walls), 3) if walls else None
        over = [o for o in (_overhead(r) for r in recs) if o is not None]
        row["overhead_s"] = round(_median(over), 3) if over else None
        if s is not None:
            row.update(n=s.n, cv=round(s.cv, 4))
            if runtime in NATIVE_RUNTIMES:
                if any(not r.latencies_ms for r in ok):
                    flags.add("native-summary-only")
                row["native_median_ms"] = s.median
                row["native_backend"] = backend
                row["native_runtime"] = runtime
            else:
                nat_rt = ORT_NATIVE_RUNTIME if (runtime == "ort" and pair_ort_with == ORT_NATIVE_RUNTIME) \
                    else NATIVE_RUNTIME
                native = natives[nat_rt]
                row["browser_median_ms"] = s.median
                row["browser_ci95_ms"] = list(s.ci95)
                t_eff = _threads_in_effect(ok, threads)
                nat_by_backend = native.get((tgt, model, t_eff)) or native.get((tgt, model, threads)) or {}
                pick = None
                if backend in GPU_BACKENDS:
                    if "gpu" in nat_by_backend:
                        pick = "gpu"
                    else:
                        pick = "xnnpack" if "xnnpack" in nat_by_backend else ("cpu" if "cpu" in nat_by_backend else None)
                        if pick:
                            flags.add("vs-native-cpu")
                else:
                    pick = "xnnpack" if "xnnpack" in nat_by_backend else ("cpu" if "cpu" in nat_by_backend else None)
                if pick:
                    nrecs = [r for r in nat_by_backend[pick] if r.ok and r.samples_ms()]
                    nkey = (tgt, model, nat_rt, pick, id(nat_by_backend[pick]))
                    if nkey not in native_cache:
                        native_cache[nkey] = summarize([r.samples_ms() for r in nrecs], seed=1)
                    ns = native_cache[nkey]
                    if any(not r.latencies_ms for r in nrecs):
                        flags.add("native-summary-only")
                    if ns is not None and ns.median > 0:
                        row["native_median_ms"] = ns.median
                        row["native_backend"] = pick
                        row["native_runtime"] = nat_rt
                        row["gap"] = s.median / ns.median
                        ci = ratio_ci(s, ns)
                        row["gap_ci95"] = list(ci) if ci else None
                        if t_eff != threads:
                            flags.add(f"paired-at-threads-in-effect={t_eff}")
                else:
                    flags.add("no-native-baseline")
        pcols, pflags = pairing_columns(ok, native_row=runtime in NATIVE_RUNTIMES)  # issue 21: rounds, shares
        row.update(pcols)
        flags.update(pflags)
        # a paired row is judged by its gap's precision (the number it is for), others by the median's
        judged = pcols.get("paired_precision") if pcols.get("pairing") == "paired" else row_precision
        if target_precision and judged is not None and judged > target_precision:
            flags.add(IMPRECISE)
        row["flags"] = sorted(flags)
        row["precision"] = round(row_precision, 5) if row_precision is not None else None
        row["outliers"] = sum(outlier_count(g) for g in loads) if s is not None else None
        warm = [len(r.warmup_ms) for r in ok if r.warmup_ms and r.latencies_ms]
        row["warmups"] = _median(warm)
        verdict, why = validity(row["flags"], measured=s is not None, precision=judged)
        row["validity"], row["validity_reasons"] = verdict, why
        rows.append(row)
    return _with_qoe(rows, qoe_rows(typed))


def _with_qoe(rows: list[dict[str, Any]], qrows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The gap table's GUI delay column (the main-thread QoE delay of the same configuration, where
    QoE cells ran), then the QoE rows themselves (they carry `qoe_mode`)."""
    if not qrows:
        return rows
    main = {tuple(q[k] for k in _CONF): q for q in qrows if q["qoe_mode"] == "main"}
    for r in rows:
        q = main.get(tuple(r[k] for k in _CONF))
        r["gui_delay_pct"] = q["gui_delay_pct"] if q else None
        r["gui_delay_ci95"] = q["gui_delay_ci95"] if q else None
    return rows + qrows


_CONF = ("target", "browser", "model", "runtime", "backend", "threads")


def _sort(k: tuple) -> tuple:
    tgt, browser, model, runtime, backend, threads = k
    return (tgt, model, runtime not in NATIVE_RUNTIMES, browser, runtime, backend, threads)


def load_rows(run_dir: Path, *, pair_ort_with: str = NATIVE_RUNTIME) -> list[dict]:
    store = RunStore.open(run_dir)
    from .studies.summary import is_study, summarize

    if is_study(store.manifest()):  # a thermal / battery study: one object per run
        return summarize(Path(run_dir))
    return build_rows(store.results(), pair_ort_with=pair_ort_with)


STUDY_KINDS = ("thermal", "battery")


def is_study_rows(rows: list[dict[str, Any]]) -> bool:
    return bool(rows) and rows[0].get("kind") in STUDY_KINDS


def rows_to_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    if is_study_rows(rows):  # a study: its own columns, nested values as JSON
        keys = list(rows[0])
        w0 = csv.DictWriter(buf, fieldnames=keys, extrasaction="ignore")
        w0.writeheader()
        for r in rows:
            w0.writerow({k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in r.items()})
        return buf.getvalue()
    extra = [k for k in ("gui_delay_pct", "gui_delay_ci95", *QOE_ROW_KEYS) if k not in ROW_KEYS]
    w = csv.DictWriter(buf, fieldnames=list(ROW_KEYS) + list(dict.fromkeys(extra)), extrasaction="ignore")
    w.writeheader()
    for r in rows:
        r2 = dict(r)
        for k in ("browser_ci95_ms", "gap_ci95", "gui_delay_ci95", "flags", "validity_reasons"):
            if isinstance(r2.get(k), list):
                r2[k] = json.dumps(r2[k]) if k not in ("flags", "validity_reasons") else ";".join(r2[k])
        w.writerow(r2)
    return buf.getvalue()


def _fmt(x, nd=2):
    if x is None:
        return "-"
    if isinstance(x, float):
        if x != 0 and abs(x) < 10 ** -nd:
            return f"{x:.1e}"
        return f"{x:.{nd}f}"
    return str(x)


def _ms(x):
    """Milliseconds with 3 significant digits (tiny models run in microseconds)."""
    if x is None:
        return "-"
    return f"{x:.3g}" if x < 100 else f"{x:.0f}"


def render_study_table(rows: list[dict[str, Any]], console: Any = None, title: str = "study", *,
                       wide: bool = False) -> None:
    """A thermal or battery study: one line per run (browser against native on one phone), fitted to the
    terminal like the gap table."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    width = table_width(console, wide)
    notes: list[str] = []
    battery = any(r.get("kind") == "battery" for r in rows)
    t = Table(title=title, pad_edge=False)
    cols = ["target", "run", "s", "inferences", "start ms", "end ms", "stability", "throttle at s", "max status",
            "max C"] + (["mJ / inference [CI95]", "charging"] if battery else []) + ["notes"]
    for c in cols:
        t.add_column(c, overflow="fold")
    for r in rows:
        ci = r.get("energy_ci95") or (None, None)
        err = _error_cell(str(r["error"]), notes, wide).removeprefix("ERROR: ") if r.get("error") else None
        note = "; ".join(x for x in (err, "partial" if r.get("partial") else None) if x)
        cells = [str(r.get("target")), f"{r.get('runtime')}/{r.get('backend_in_effect') or r.get('backend')}",
                 _fmt(r.get("duration_s"), 0), str(r.get("inferences")), _ms(r.get("latency_start_ms")),
                 _ms(r.get("latency_end_ms")), _fmt(r.get("stability"), 2), _fmt(r.get("time_to_throttle_s"), 0),
                 _fmt(r.get("max_thermal_status")), _fmt(r.get("max_temp_c"), 1)]
        if battery:
            e, bound = r.get("energy_mj_per_inference"), r.get("energy_upper_bound_mj")
            cells += [f"< {bound:.3g} (below detection limit)" if e is None and bound is not None
                      else "-" if e is None else f"{e:.3g} [{_fmt(ci[0], 3)}, {_fmt(ci[1], 3)}]",
                      {True: "YES", False: "no", None: "-"}[r.get("charging_detected")]]
        t.add_row(*cells, note)
    _print_fitted(console, _fit(t, width, wide), width, notes)


def render_rows(rows: list[dict[str, Any]], console: Any = None, title: str = "in-browser vs native", *,
                wide: bool = False) -> None:
    """The run's table for people: a sweep's gap table, or a study's one line per run."""
    if is_study_rows(rows):
        render_study_table(rows, console, title=title.replace("in-browser vs native", "study"), wide=wide)
    else:
        render_table(rows, console, title=title, wide=wide)


def _delay(pct: float | None, ci: Any) -> str:
    if pct is None:
        return "-"
    lo, hi = ci or (None, None)
    return f"{pct:+.0f}% [{_fmt(lo, 0)}, {_fmt(hi, 0)}]" if lo is not None else f"{pct:+.0f}%"


def render_qoe_table(rows: list[dict[str, Any]], console: Any, *, width: int | None = None, wide: bool = False) -> None:
    """What the user feels: the GUI workload alone, beside main-thread and worker inference (fitted to
    `width` like the gap table; long errors as notes under it unless `wide`)."""
    from rich.table import Table

    t = Table(title="QoE: GUI workload while the model runs", show_lines=False, pad_edge=False)
    for col in ("target / browser", "model", "runtime/backend", "thr", "mode", "GUI task ms (p90)",
                "GUI delay [CI95]", "fps", "long frames", "input delay ms", "inf/s", "flags / error"):
        t.add_column(col, overflow="fold", no_wrap=col != "flags / error")
    notes: list[str] = []
    for r in rows:
        tail = ", ".join(r["flags"])
        if r["error"]:
            tail = (tail + "; " if tail else "") + _error_cell(r["error"], notes, wide)
        task = "-" if r["gui_task_median_ms"] is None else f"{_ms(r['gui_task_median_ms'])} ({_ms(r['gui_task_p90_ms'])})"
        share = r["long_frame_share"]
        t.add_row(f"{r['target']} / {r['browser']}", r["model"], f"{r['runtime']}/{r['backend']}", str(r["threads"]),
                  r["qoe_mode"], task, "-" if r["qoe_mode"] == "baseline" else _delay(r["gui_delay_pct"], r["gui_delay_ci95"]),
                  _fmt(r["fps"], 1), "-" if share is None else f"{100 * share:.0f}%", _fmt(r["input_delay_ms_p50"], 1),
                  _fmt(r["inferences_per_s"], 1), tail)
    width = width if width is not None else table_width(console, wide)
    _print_fitted(console, _fit(t, width, wide), width, notes)


def _validity_word(r: Mapping[str, Any]) -> str:
    v = r.get("validity") or "-"
    return "INVALID" if v == "invalid" else v


def _paired_cells(r: Mapping[str, Any]) -> list[str]:
    """Issue 21: the paired gap with its CI95 from the rounds (or why unpaired), and the variance
    shares of log-latency within rounds / between rounds (drift) / between page loads, in %."""
    g = "-"
    if r.get("paired_gap") is not None:
        ci = r.get("paired_gap_ci95") or (None, None)
        g = f"{r['paired_gap']:.2f}x [{_fmt(ci[0])}, {_fmt(ci[1])}]" + (" mixed" if r.get("pairing") == "mixed" else "")
    elif r.get("pairing") == "unpaired":
        g = "unpaired"
    shares = [r.get(k) for k in ("var_within_rounds", "var_between_rounds", "var_between_loads")]
    v = "/".join(f"{100 * x:.0f}" for x in shares if x is not None) if all(x is not None for x in shares) else "-"
    return [g, v]


#: an error longer than this goes under the table as a numbered note (unless --wide)
NOTE_AFTER_CHARS = 40


def table_width(console: Any, wide: bool) -> int:
    """The width the terminal tables fit: $COLUMNS, else the terminal's, else 200 (piped); --wide: no limit."""
    import os

    if wide:
        return 100_000
    cols = os.environ.get("COLUMNS", "").strip()
    if cols.isdigit() and int(cols) >= 40:
        return int(cols)
    return int(console.width) if console.is_terminal else max(int(console.width), 200)


def _fit(table: Any, width: int, wide: bool) -> Any:
    """A table that fits `width`: without vertical rules; one model's name moves into the title; then the
    widest column is narrowed, one character at a time, down to its longest word (cells wrap between
    words), until the table fits.  A word is never cut: where the longest words alone are wider than
    `width`, so is the table.  --wide keeps every cell on one line."""
    from rich import box
    from rich.cells import cell_len

    if wide:
        for col in table.columns:
            col.no_wrap, col.overflow = True, "ignore"
        return table
    table.box, table.collapse_padding, table.pad_edge = box.SIMPLE_HEAD, True, False
    model = next((c for c in table.columns if c.header == "model"), None)
    if model is not None and model._cells and len(set(model._cells)) == 1:
        table.title = f"{table.title}: {model._cells[0]}"
        table.columns = [c for c in table.columns if c is not model]
    cols = table.columns
    texts = [[str(col.header), *map(str, col._cells)] for col in cols]
    most = [max(cell_len(line) for t in ts for line in t.splitlines() or [""]) for ts in texts]
    least = [max([cell_len(w) for t in ts for w in t.split()] or [1]) for ts in texts]
    widths = list(most)
    table.padding = (0, 0)  # one space between columns
    room = width - (len(cols) + 1)
    while sum(widths) > room:
        i = max(range(len(widths)), key=lambda k: (widths[k] > least[k], widths[k]))
        if widths[i] <= least[i]:
            break  # every column is at its longest word: wider than asked rather than words cut in two
        widths[i] -= 1
    for col, w in zip(cols, widths, strict=True):
        col.width, col.min_width, col.max_width = w, None, w
        col.no_wrap, col.overflow = False, "fold"
    return table


def _error_cell(err: str, notes: list[str], wide: bool) -> str:
    """A row's error: whole when short (or --wide), else its first words and the number of its note."""
    if wide or len(err) <= NOTE_AFTER_CHARS:
        return f"ERROR: {err}"
    if err not in notes:  # the whole reason goes under the table, once
        notes.append(err)
    words = [w for w in err.split() if len(w) <= 20]
    return f"ERROR [{notes.index(err) + 1}] {' '.join(words[:3])[:NOTE_AFTER_CHARS - 10]} ..."


def _print_fitted(console: Any, table: Any, width: int, notes: list[str]) -> None:
    """Print the table at `width` (wider content wraps inside its cells), then the long errors as notes."""
    import textwrap

    saved = console.width
    need = table.__rich_measure__(console, console.options.update_width(100_000)).maximum
    if width >= 100_000:  # --wide: as wide as the widest row
        width = max(saved, need)
    console.width = max(width, need)  # (a table of words longer than the width: wider, never cut)
    try:
        console.print(table)
        for i, text in enumerate(notes, 1):
            console.print("\n".join(textwrap.wrap(f"[{i}] {text}", width=max(width, 40), subsequent_indent="    ")),
                          highlight=False, markup=False, soft_wrap=True)
    finally:
        console.width = saved


def render_table(rows: list[dict], console=None, title: str = "in-browser vs native", *, wide: bool = False) -> None:
    """The gap table for people, fitted to the terminal ($COLUMNS): errors longer than NOTE_AFTER_CHARS are
    numbered notes under it; `wide` keeps every cell whole on one line.  `--json` / `--csv` carry every field."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    width = table_width(console, wide)
    notes: list[str] = []
    qrows = [r for r in rows if "qoe_mode" in r]
    rows = [r for r in rows if "qoe_mode" not in r]
    gui = any(r.get("gui_delay_pct") is not None for r in rows)
    many = len({(r["target"], r["browser"]) for r in rows if r["runtime"] not in NATIVE_RUNTIMES}) > 1
    phones = any(r.get("janky_frame_share") is not None or r.get("thermal_status_max") is not None for r in rows)
    paired = any(r.get("pairing") is not None or r.get("var_within_rounds") is not None for r in rows)
    t = Table(title=title, show_lines=False, pad_edge=False)
    cols = (["target / browser"] if many else []) + [
        "model", "runtime/backend", "thr", "browser ms [CI95]", "native ms", "gap [CI95]", "1st ms",
        "peak MB (x model)", "max|diff|", "top1"] + (["GUI delay (main)"] if gui else []) \
        + (["jank", "therm"] if phones else []) + (["paired gap [CI95]", "var r/d/l %"] if paired else []) \
        + ["±CI %", "validity", "flags / error"]
    for col in cols:
        t.add_column(col, overflow="fold", no_wrap=col not in ("flags / error",))
    for r in rows:
        b = "-"
        if r["browser_median_ms"] is not None:
            lo, hi = r["browser_ci95_ms"] or (None, None)
            b = f"{_ms(r['browser_median_ms'])} [{_ms(lo)}, {_ms(hi)}]"
        g = "-"
        if r["gap"] is not None:
            ci = r["gap_ci95"] or (None, None)
            g = f"{r['gap']:.1f}x [{_fmt(ci[0], 1)}, {_fmt(ci[1], 1)}]"
            if r.get("validity") == "invalid":  # never published as a clean number
                g = f"invalid ({r['gap']:.1f}x)"
        mem = "-"
        if r["peak_memory_mb"] is not None:
            mem = f"{r['peak_memory_mb']:.0f}"
            if r["memory_ratio"]:
                mem += f" ({r['memory_ratio']:.0f}x)"
        tail = ", ".join(r["flags"])
        if r["error"]:
            tail = (tail + "; " if tail else "") + _error_cell(r["error"], notes, wide)
        nat = _ms(r["native_median_ms"])
        if r["runtime"] not in NATIVE_RUNTIMES and r["native_backend"]:
            nat += f" {r['native_backend']}" + (" (ort-native)" if r.get("native_runtime") == ORT_NATIVE_RUNTIME else "")
        cells = ([f"{r['target']} / {r['browser']}"] if many else []) + [
            r["model"], f"{r['runtime']}/{r.get('backend_in_effect') or r['backend']}"
            + (f" (asked {r['backend']})" if r.get("backend_in_effect") not in (None, r["backend"]) else ""),
            str(r["threads"]), b, nat, g,
            _ms(r["first_inference_ms"]), mem, _fmt(r["max_abs_diff"], 6),
            {True: "yes", False: "NO", None: "-"}[r["top1_match"]]]
        if gui:
            cells.append(_delay(r.get("gui_delay_pct"), r.get("gui_delay_ci95")))
        if phones:
            j = r.get("janky_frame_share")
            cells += ["-" if j is None else f"{100 * j:.0f}%", _fmt(r.get("thermal_status_max"))]
        if paired:
            cells += _paired_cells(r)
        prec = r.get("precision")
        cells += ["-" if prec is None else f"{100 * prec:.1f}", _validity_word(r)]
        cells.append(tail)
        t.add_row(*cells)
    if rows:
        _print_fitted(console, _fit(t, width, wide), width, notes)
    if qrows:
        render_qoe_table(qrows, console, width=width, wide=wide)
    if any(r["runtime"] == "tflite" for r in rows):
        console.print("tflite = @tensorflow/tfjs-tflite, the study's runtime (superseded by litert, LiteRT.js: "
                      "the same .tflite file as native LiteRT)", highlight=False)
