"""The report's figures: matplotlib on the headless Agg backend, PNG bytes out.

Colours are fixed per runtime (the same in every figure and run); native TFLite is dark grey.
Every axis says its unit.  Figures scale with the number of configurations but are capped, and
long time series are thinned to an even stride, so a 600-cell, million-sample run renders in
seconds.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ..parsers.thermal import STATUS_NAMES  # noqa: E402
from ..vocab import NATIVE_RUNTIME, NATIVE_RUNTIMES, ORT_NATIVE_RUNTIME  # noqa: E402
from .data import TargetRun  # noqa: E402

RUNTIME_COLOURS: dict[str, str] = {NATIVE_RUNTIME: "#404040", ORT_NATIVE_RUNTIME: "#7f7f7f",
                                   "tfjs": "#1f77b4", "tflite": "#ff7f0e",
                                   "ort": "#2ca02c", "litert": "#9467bd"}
_SPARE = ("#8c564b", "#e377c2", "#17becf", "#bcbd22", "#d62728")
PROCESS_COLOURS: dict[str, str] = {"browser": "#4e79a7", "renderer": "#f28e2b", "gpu": "#59a14f",
                                   "utility": "#b07aa1", "zygote": "#9c755f", "other": "#bab0ac"}
DPI = 90
MAX_BARS = 80           # rows in one bar figure; more are cut, and the caption says so (tables keep all)
MAX_LINES = 80          # cells drawn in "memory over time"
MAX_POINTS = 4000       # points per time series after thinning


def colour(runtime: str) -> str:
    if runtime in RUNTIME_COLOURS:
        return RUNTIME_COLOURS[runtime]
    return _SPARE[sum(map(ord, runtime)) % len(_SPARE)]


@dataclass(frozen=True)
class Image:
    """One rendered figure: a file name in the report folder, its bytes, alt text and a caption."""

    name: str
    png: bytes
    alt: str
    caption: str


def _hbars(ax: plt.Axes, y: np.ndarray, right: np.ndarray, colors: Sequence[str] | str,
           left: np.ndarray | float = 0.0, thickness: float = 0.8, alpha: float = 1.0) -> None:
    """Horizontal bars as one line collection (thick butt-capped segments), not one patch per bar:
    drawing a hundred bars costs one artist.  `thickness` is in y data units (row pitch 1); the line
    width in points is fitted to the final layout in `_png`.  Bars of zero width are not drawn."""
    from matplotlib.collections import LineCollection

    right = np.asarray(right, dtype=float)
    lefts = np.broadcast_to(np.asarray(left, dtype=float), right.shape)
    keep = np.isfinite(right) & np.isfinite(lefts) & (right != lefts)
    cols = np.broadcast_to(np.asarray(colors, dtype=object), right.shape)[keep]
    segs = np.stack([np.column_stack([lefts[keep], y[keep]]), np.column_stack([right[keep], y[keep]])], axis=1)
    lc = LineCollection(list(segs), colors=list(cols), linewidths=1.0, capstyle="butt", alpha=alpha, zorder=2)
    lc.set_gid(f"hbars:{thickness}")
    ax.add_collection(lc, autolim=True)
    ax.autoscale_view()


def _fit_hbars(fig: Figure) -> None:
    """Give every `_hbars` collection the line width (points) of its thickness at the final layout."""
    from matplotlib.collections import LineCollection

    for ax in fig.axes:
        lo, hi = ax.get_ylim()
        if hi == lo:
            continue
        pts_per_unit = ax.get_position().height * fig.get_figheight() * 72 / abs(hi - lo)
        for c in ax.collections:
            gid = c.get_gid() or ""
            if isinstance(c, LineCollection) and gid.startswith("hbars:"):
                c.set_linewidth(float(gid.split(":", 1)[1]) * pts_per_unit)


def _fit_log_ticks(fig: Figure) -> None:
    """Log x axes: ticks at 1-2-5 (or every digit) when the data spans few decades, so a 1x-4x
    axis is not labelled "1" alone; decades only when it spans many."""
    from matplotlib.ticker import LogLocator

    for ax in fig.axes:
        if ax.get_xscale() != "log":
            continue
        lo, hi = sorted(ax.get_xlim())
        decades = math.log10(hi / lo) if lo > 0 and hi > lo else 3.0
        subs = tuple(range(1, 10)) if decades < 0.7 else (1.0, 2.0, 5.0) if decades <= 2.2 else (1.0,)
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=subs, numticks=12))


def _png(fig: Figure) -> bytes:
    _fit_hbars(fig)
    _fit_log_ticks(fig)
    buf = io.BytesIO()
    # glyphs unhinted: a fifth less time per label (text is most of a figure's cost), no visible loss at 90 dpi
    with matplotlib.rc_context({"text.hinting": "no_hinting"}):
        fig.savefig(buf, format="png", dpi=DPI, pil_kwargs={"compress_level": 1})
    plt.close(fig)
    return buf.getvalue()


def _plain_number(v: float, _pos: object = None) -> str:
    return f"{v:g}"


def _log_x(ax: plt.Axes, fontsize: float | None = None) -> None:
    """Log x axis with plain labels (1, 10, 100: no mathtext, whose layout is most of a figure's cost)
    and no minor tick labels."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, NullLocator

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, numticks=6))
    ax.xaxis.set_major_formatter(FuncFormatter(_plain_number))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    if fontsize is not None:
        ax.tick_params(axis="x", labelsize=fontsize)


def _height(n: int) -> float:
    return min(2.0 + 0.22 * n, 40.0)


def _legend_runtimes(ax: plt.Axes, runtimes: Sequence[str]) -> None:
    from matplotlib.patches import Patch

    _legend_outside(ax, handles=[Patch(color=colour(r), label=r) for r in runtimes])


def _legend_outside(ax: plt.Axes, **kw: object) -> None:
    """The legend right of the axes, top-aligned, so it never covers a bar (leave right <= 0.83)."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False, borderaxespad=0, **kw)


def _cut(shown: int, total: int) -> str:
    return f" Shown: the first {shown} of {total} configurations; the tables below hold all." if shown < total else ""


def _log_floor(values: np.ndarray) -> float:
    """Where bars start on a log axis: the power of ten at or below the smallest positive value."""
    v = values[np.isfinite(values) & (values > 0)]
    return float(10 ** math.floor(math.log10(v.min()))) if v.size else 0.1


def _thin(n: int, limit: int = MAX_POINTS) -> slice:
    return slice(None, None, max(1, math.ceil(n / limit)))


# --- gap --------------------------------------------------------------------------------------

def gap_chart(t: TargetRun, slug: str) -> Image | None:
    every = [r for r in t.rows if not r.native and r.gap is not None]
    rows = every[:MAX_BARS]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(9, _height(len(rows))))
    y = np.arange(len(rows))
    gaps = np.array([r.gap for r in rows], dtype=float)
    lo = np.array([r.gap_ci95[0] if r.gap_ci95 else r.gap for r in rows], dtype=float)
    hi = np.array([r.gap_ci95[1] if r.gap_ci95 else r.gap for r in rows], dtype=float)
    floor = _log_floor(np.concatenate([gaps, lo]))
    _hbars(ax, y, gaps, [colour(r.runtime) for r in rows], left=floor, alpha=.85)
    ax.errorbar(gaps, y, xerr=[gaps - lo, hi - gaps], fmt="none", ecolor="black", elinewidth=1, capsize=2)
    ax.axvline(1.0, color="black", lw=.8, ls="--")
    _log_x(ax)
    ax.set_xlim(left=floor)
    ax.set_ylim(len(rows) - .5, -.5)
    ax.set_yticks(y, [f"{r.model}  {r.config_label}" + (f" [{r.browser}]" if len(t.browsers) > 1 else "")
                      for r in rows], fontsize=7)
    ax.tick_params(axis="y", length=0)
    ax.set_xlabel("browser / native median latency (x, log scale; whiskers: CI95)")
    ax.set_title(f"{t.name}: in-browser vs native gap")
    _legend_runtimes(ax, sorted({r.runtime for r in rows}))
    fig.subplots_adjust(left=0.3, right=0.85, top=1 - 0.5 / _height(len(rows)), bottom=0.7 / _height(len(rows)))
    return Image(f"{slug}-gap.png", _png(fig), f"gap chart of {t.name}",
                 "Each bar: median browser latency over the paired native median; 1x (dashed) means no gap."
                 + _cut(len(rows), len(every)))


# --- latency distributions ----------------------------------------------------------------------

_LatKey = tuple[str, str, str, int]   # browser, runtime, backend, threads


@dataclass
class _Latencies:
    timed: list[float]
    firsts: list[float]
    warmups: list[float]
    summary_only: bool = False


def _latency_label(k: _LatKey, many_browsers: bool, summary: bool) -> str:
    b, rt, be, th = k
    return (f"{rt}/{be} t{th}" + (f" [{b}]" if many_browsers and rt not in NATIVE_RUNTIMES else "")
            + (" (summary)" if summary else ""))


def latency_figures(t: TargetRun, slug: str, *, models_per_figure: int = 12) -> list[Image]:
    """One figure per target (per 12 models): a small panel per model, configurations on a shared y axis.

    Each row is drawn as three collections for all configurations at once (whisker min-max, box
    quartiles, median), so a 10-model, 200-configuration target is one figure, not ten."""
    by_model: dict[str, dict[_LatKey, _Latencies]] = {}
    for rec in t.records:
        c = rec.cell
        if c is None or not rec.ok:
            continue
        lat = by_model.setdefault(c.model, {}).setdefault((c.browser, c.runtime, c.backend, c.threads),
                                                           _Latencies([], [], []))
        if not rec.latencies_ms:
            lat.summary_only = True
        lat.timed.extend(rec.samples_ms())
        if rec.first_inference_ms is not None:
            lat.firsts.append(rec.first_inference_ms)
        lat.warmups.extend(x for x in rec.warmup_ms if x is not None)
    models = [m for m in t.models if any(v.timed for v in by_model.get(m, {}).values())]
    models += sorted(m for m in by_model if m not in models and any(v.timed for v in by_model[m].values()))
    out = []
    for part, start in enumerate(range(0, len(models), models_per_figure)):
        chunk = models[start:start + models_per_figure]
        img = _latency_panels(t, chunk, by_model, f"{slug}-latency-{part}.png")
        if img is not None:
            out.append(img)
    return out


def _latency_panels(t: TargetRun, models: Sequence[str], by_model: dict[str, dict[_LatKey, _Latencies]],
                    name: str) -> Image | None:
    keys = sorted({k for m in models for k, v in by_model[m].items() if v.timed},
                  key=lambda k: (k[1] not in NATIVE_RUNTIMES, k))
    if not keys:
        return None
    summary = {k for m in models for k, v in by_model[m].items() if v.summary_only}
    many = len({k[0] for k in keys if k[1] not in NATIVE_RUNTIMES}) > 1
    ncols = min(len(models), 5 if len(models) >= 9 else 3 if len(keys) > 6 else 4)  # fewer rows: fewer labels
    nrows = math.ceil(len(models) / ncols)
    panel_h = 0.17 * len(keys) + 0.75
    fig_h = nrows * panel_h + 0.9
    fig_w = min(12.0, 5.0 + 3.0 * ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(fig_w, fig_h), sharey=True, squeeze=False)
    row = {k: i for i, k in enumerate(keys)}
    box_lw = max(2.0, min(7.0, panel_h * 72 / (len(keys) + 1) * 0.55))
    for ax, model in zip(axes.flat, models, strict=False):
        groups = by_model[model]
        ks = [k for k in keys if k in groups and groups[k].timed]
        y = np.array([row[k] for k in ks], dtype=float)
        q = np.array([np.percentile(groups[k].timed, (0, 25, 50, 75, 100)) for k in ks])
        cols = [colour(k[1]) for k in ks]
        ax.hlines(y, q[:, 0], q[:, 4], colors=cols, lw=.9)
        ax.hlines(y, q[:, 1], np.maximum(q[:, 3], q[:, 1] * 1.0001), colors=cols, lw=box_lw, alpha=.6)
        ax.scatter(q[:, 2], y, marker="|", s=box_lw * 12, color="black", zorder=3, linewidths=1)
        wx = [x for k in ks for x in groups[k].warmups]
        wy = [row[k] + .3 for k in ks for _ in groups[k].warmups]
        fx = [x for k in ks for x in groups[k].firsts]
        fy = [row[k] for k in ks for _ in groups[k].firsts]
        if wx:
            ax.scatter(wx, wy, s=9, marker="o", facecolors="none", edgecolors="grey", lw=.6, zorder=3)
        if fx:
            ax.scatter(fx, fy, s=16, marker="x", color="#d62728", lw=.9, zorder=4)
        _log_x(ax, fontsize=7)
        ax.set_title(model, fontsize=9, pad=3)
        ax.grid(axis="x", color="#e6e6e6", lw=.6)
        ax.set_axisbelow(True)
    for ax in list(axes.flat)[len(models):]:
        ax.set_visible(False)
    axes[0, 0].set_yticks(range(len(keys)), [_latency_label(k, many, k in summary) for k in keys], fontsize=7)
    axes[0, 0].set_ylim(len(keys) - .4, -.6)
    for ax in axes[:, 0]:
        ax.tick_params(axis="y", length=0, labelsize=7)
    for col in range(ncols):  # the x label under the lowest panel of each column
        shown_axes = [ax for ax in axes[:, col] if ax.get_visible()]
        if shown_axes:
            shown_axes[-1].set_xlabel("ms per inference (log)", fontsize=8)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=colour(r), lw=5, alpha=.6, label=r)
               for r in sorted({k[1] for k in keys}, key=lambda r: (r not in NATIVE_RUNTIMES, r))]
    handles += [Line2D([], [], marker="|", ls="", color="black", ms=8, label="median"),
                Line2D([], [], marker="x", ls="", color="#d62728", label="first inference"),
                Line2D([], [], marker="o", ls="", mfc="none", mec="grey", ms=4, label="warmups")]
    fig.legend(handles=handles, loc="upper center", ncol=min(len(handles), 8), fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, 1 - 0.05 / fig_h))
    fig.suptitle(f"{t.name}: latency distributions, one panel per model", fontsize=10, y=1 - 0.3 / fig_h)
    fig.subplots_adjust(left=2.0 / fig_w, right=0.98, top=1 - 0.75 / fig_h, bottom=0.45 / fig_h,
                        wspace=.08, hspace=0.42 / panel_h + .1)
    shown = ", ".join(models)
    return Image(name, _png(fig), f"latency distributions on {t.name} ({shown})",
                 f"{shown}: per configuration, the line spans min to max of the timed inferences of every repeat "
                 "pooled, the thick bar the middle half (quartiles), | the median; x = first inference, "
                 "o = warmups (apart from the timed runs). '(summary)': benchmark_model printed a median only. "
                 "Each panel has its own x scale.")


# --- setup ------------------------------------------------------------------------------------

def setup_chart(t: TargetRun, slug: str) -> Image | None:
    every = [r for r in t.rows if r.setup_ms is not None]
    rows = every[:MAX_BARS]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(9, _height(len(rows))))
    y = np.arange(len(rows))
    setup = np.array([r.setup_ms or np.nan for r in rows], dtype=float)
    fi = np.array([np.nan if r.first_inference_ms is None else r.first_inference_ms for r in rows], dtype=float)
    floor = _log_floor(np.concatenate([setup, fi]))
    _hbars(ax, y, setup, [colour(r.runtime) for r in rows], left=floor, alpha=.85)
    ax.scatter(fi, y, marker="x", color="#d62728", s=20, label="first inference", zorder=3)
    ax.set_yticks(y, [f"{r.model}  {r.config_label}" for r in rows], fontsize=7)
    ax.tick_params(axis="y", length=0)
    ax.set_ylim(len(rows) - .5, -.5)
    _log_x(ax)
    ax.set_xlim(left=floor)
    from matplotlib.patches import Patch

    handles, _labels = ax.get_legend_handles_labels()
    runtimes = sorted({r.runtime for r in rows}, key=lambda r: (r not in NATIVE_RUNTIMES, r))
    handles += [Patch(color=colour(r), alpha=.85, label=f"setup, {r}") for r in runtimes]
    ax.set_xlabel("milliseconds (log scale; medians over repeats)")
    ax.set_title(f"{t.name}: setup time")
    _legend_outside(ax, handles=handles)
    h = _height(len(rows))
    fig.subplots_adjust(left=0.3, right=0.8, top=1 - 0.5 / h, bottom=0.7 / h)
    return Image(f"{slug}-setup.png", _png(fig), f"setup time on {t.name}",
                 "Model load and runtime set-up per configuration (bars), first inference (x)."
                 + _cut(len(rows), len(every)))


# --- memory -----------------------------------------------------------------------------------

def memory_chart(t: TargetRun, slug: str) -> Image | None:
    every = [r for r in t.rows if r.peak_memory_mb is not None]
    rows = every[:MAX_BARS]
    if not rows:
        return None
    kinds: list[str] = []
    for r in rows:
        for k in r.peak_memory_by_type_mb:
            if k not in kinds:
                kinds.append(k)
    fig, ax = plt.subplots(figsize=(9, _height(len(rows))))
    y = np.arange(len(rows))
    left = np.zeros(len(rows))
    from matplotlib.patches import Patch

    handles = []
    for k in kinds:
        vals = np.array([r.peak_memory_by_type_mb.get(k, 0.0) for r in rows])
        c = PROCESS_COLOURS.get(k, PROCESS_COLOURS["other"])
        _hbars(ax, y, left + vals, c, left=left.copy())
        handles.append(Patch(color=c, label=k))
        left += vals
    rest = np.array([0.0 if r.peak_memory_by_type_mb else (r.peak_memory_mb or 0.0) for r in rows])
    if rest.any():
        _hbars(ax, y, left + rest, "#999999", left=left.copy())
        handles.append(Patch(color="#999999", label="total (no per-process split)"))
    if len(rows) <= 60:
        for yi, r, end in zip(y, rows, left + rest, strict=True):
            if r.memory_ratio:  # right of the longer of the stack (per-type peaks) and the total peak
                ax.text(max(float(end), r.peak_memory_mb or 0.0) * 1.01 + 2, float(yi), f"{r.memory_ratio:.0f}x model",
                        va="center", fontsize=6)
    ax.set_yticks(y, [f"{r.model}  {r.config_label}" for r in rows], fontsize=7)
    ax.tick_params(axis="y", length=0)
    ax.set_ylim(len(rows) - .5, -.5)
    ax.set_xlabel("peak memory (MB; stacked by process type; each type's own peak)")
    ax.set_title(f"{t.name}: peak memory by process type")
    totals = np.maximum(left + rest, np.array([r.peak_memory_mb or 0.0 for r in rows]))
    ax.set_xlim(0, max(1.0, float(totals.max())) * (1.22 if len(rows) <= 60 else 1.05))  # room for "Nx model"
    _legend_outside(ax, handles=handles)
    h = _height(len(rows))
    fig.subplots_adjust(left=0.3, right=0.8, top=1 - 0.5 / h, bottom=0.7 / h)
    return Image(f"{slug}-memory.png", _png(fig), f"peak memory on {t.name}",
                 "Peak memory per process type, stacked; the label is the ratio of the peak to the model file."
                 + _cut(len(rows), len(every)))


@dataclass(frozen=True)
class Series:
    """Columns of one target's samples as numpy arrays (NaN where a probe did not report it); text
    columns as integer codes into their names (-1: none)."""

    key: np.ndarray
    key_names: tuple[str, ...]
    runtime: np.ndarray
    runtime_names: tuple[str, ...]
    t_s: np.ndarray
    time_s: np.ndarray
    memory_mb: np.ndarray
    thermal_status: np.ndarray
    thermal_max_c: np.ndarray
    battery_temp_c: np.ndarray
    cpu_freq_max_mhz: np.ndarray

    @property
    def size(self) -> int:
        return int(self.t_s.size)


def memory_over_time(t: TargetRun, s: Series, slug: str) -> Image | None:
    has = ~np.isnan(s.memory_mb)
    if not has.any():
        return None
    fig, ax = plt.subplots(figsize=(9, 4))
    keys = s.key[has]
    order = np.argsort(keys, kind="stable")
    keys_sorted = keys[order]
    uniq, starts = np.unique(keys_sorted, return_index=True)
    ends = np.append(starts[1:], keys_sorted.size)
    ts, mem, rts = s.t_s[has][order], s.memory_mb[has][order], s.runtime[has][order]
    shown: set[str] = set()
    for n, (a, b) in enumerate(zip(starts, ends, strict=True)):
        if n >= MAX_LINES:
            break
        sl = _thin(b - a, 500)
        rt = s.runtime_names[rts[a]] if rts[a] >= 0 else "?"
        ax.plot(ts[a:b][sl], mem[a:b][sl], color=colour(rt), lw=.9, alpha=.7,
                label=rt if rt not in shown else None)
        shown.add(rt)
    ax.set_xlabel("seconds since the cell's sampler started")
    ax.set_ylabel("memory (MB)")
    cut = f" (first {MAX_LINES} of {len(uniq)} cells)" if len(uniq) > MAX_LINES else ""
    ax.set_title(f"{t.name}: memory during each cell{cut}")
    ax.legend(fontsize=7, loc="best")
    fig.subplots_adjust(left=0.09, right=0.98, top=0.9, bottom=0.13)
    return Image(f"{slug}-memory-time.png", _png(fig), f"memory over time on {t.name}",
                 "Total memory of the browser's processes (or the native process tree) during each cell, "
                 "one line per cell, coloured by runtime.")


# --- conditions over the run ----------------------------------------------------------------------

def conditions_timeline(t: TargetRun, s: Series, spans: Sequence[tuple[float, float, bool]],
                        slug: str) -> Image | None:
    """Thermal status, temperatures, CPU frequency and memory over the whole run, cells shaded
    (red: the cell ran hot or was throttled)."""
    panels: list[tuple[str, list[tuple[np.ndarray, str, str]]]] = []

    def series(values: np.ndarray) -> np.ndarray:
        return ~np.isnan(values) & ~np.isnan(s.time_s)

    if series(s.thermal_status).any():
        panels.append(("thermal status", [(s.thermal_status, "thermal status", "#d62728")]))
    temps = [(v, lab, c) for v, lab, c in ((s.thermal_max_c, "hottest thermal sensor", "#ff7f0e"),
                                            (s.battery_temp_c, "battery", "#1f77b4")) if series(v).any()]
    if temps:
        panels.append(("temperature (C)", temps))
    if series(s.cpu_freq_max_mhz).any():
        panels.append(("CPU freq (MHz)", [(s.cpu_freq_max_mhz, "fastest core", "#2ca02c")]))
    if series(s.memory_mb).any():
        panels.append(("memory (MB)", [(s.memory_mb, "browser / process tree", "#9467bd")]))
    if not panels:
        return None
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 1.7 * len(panels) + 0.8), sharex=True, squeeze=False)
    cool = [(a / 60, (b - a) / 60) for a, b, hot in spans if not hot]
    hot_spans = [(a / 60, (b - a) / 60) for a, b, hot in spans if hot]
    for ax, (label, lines) in zip(axes[:, 0], panels, strict=True):
        lo, hi = ax.get_ylim()
        for v, name, c in lines:
            m = series(v)
            x, yv = s.time_s[m] / 60, v[m]
            order = np.argsort(x, kind="stable")
            sl = _thin(order.size)
            if label == "thermal status":
                ax.step(x[order][sl], yv[order][sl], where="post", color=c, lw=1, label=name)
                ax.set_yticks(range(0, 7), [STATUS_NAMES[i] for i in range(7)], fontsize=6)
                ax.set_ylim(-.3, max(2.3, float(np.nanmax(yv)) + .3))
            else:
                ax.plot(x[order][sl], yv[order][sl], color=c, lw=.8, label=name)
        lo, hi = ax.get_ylim()
        if cool:
            ax.broken_barh(cool, (lo, hi - lo), facecolors="#dddddd", alpha=.5, zorder=0)
        if hot_spans:
            ax.broken_barh(hot_spans, (lo, hi - lo), facecolors="#ff9999", alpha=.5, zorder=0)
        ax.set_ylim(lo, hi)
        ax.set_ylabel(label, fontsize=8)
        if len(lines) > 1:
            ax.legend(fontsize=7, loc="upper left")
    axes[-1, 0].set_xlabel("minutes since the run's first cell (grey: a cell measuring; red: a cell that ran hot)")
    axes[0, 0].set_title(f"{t.name}: conditions over the whole run")
    fig.subplots_adjust(left=0.1, right=0.98, top=1 - 0.4 / (1.7 * len(panels) + .8),
                        bottom=0.55 / (1.7 * len(panels) + .8), hspace=.15)
    return Image(f"{slug}-conditions.png", _png(fig), f"conditions over the run on {t.name}",
                 "Every sample of the run on one time axis; shaded spans are cells, so a number taken hot "
                 "can be told from one taken cool.")


# --- frames -----------------------------------------------------------------------------------

def frames_chart(t: TargetRun, frame_ms: np.ndarray, read: int, total: int, slug: str) -> Image | None:
    rows = [r for r in t.rows if not r.native and (r.janky_frame_share is not None
                                                    or r.page_long_frame_share is not None)][:MAX_BARS]
    if not rows and not frame_ms.size:
        return None
    panels = (1 if frame_ms.size else 0) + (1 if rows else 0)
    fig_h = max(3.4, min(_height(len(rows)) + 0.4, 20))
    fig, axes = plt.subplots(1, panels, figsize=(11, fig_h), squeeze=False,
                             gridspec_kw={"width_ratios": [1.0, 1.35][:panels] if panels == 2 else [1.0]})
    i = 0
    if frame_ms.size:
        ax = axes[0, i]
        i += 1
        clipped = np.clip(frame_ms, 0, 100)
        counts, edges = np.histogram(clipped, bins=50, range=(0, 100))
        ax.stairs(counts, edges, fill=True, color="#4e79a7")
        ax.axvline(16.7, color="black", ls="--", lw=.8)
        ax.set_xlabel("frame duration (ms; 100 = 100 or more; dashed: 60 Hz)")
        ax.set_ylabel("frames")
        part = f", {read} of {total} samples read" if read < total else ""
        ax.set_title(f"gfxinfo framestats: browser UI frames ({frame_ms.size} frames{part})", fontsize=9)
    if rows:
        ax = axes[0, i]
        y = np.arange(len(rows))
        j = np.array([np.nan if r.janky_frame_share is None else 100 * r.janky_frame_share for r in rows])
        p = np.array([np.nan if r.page_long_frame_share is None else 100 * r.page_long_frame_share for r in rows])
        from matplotlib.patches import Patch

        _hbars(ax, y - .2, np.nan_to_num(j), "#4e79a7", thickness=.4)
        _hbars(ax, y + .2, np.nan_to_num(p), "#f28e2b", thickness=.4)
        ax.set_ylim(len(rows) - .5, -.5)
        ax.set_yticks(y, [f"{r.model} {r.config_label}" for r in rows], fontsize=7)
        ax.tick_params(axis="y", length=0)
        top = float(np.nanmax(np.concatenate([j, p, [0.0]])))
        ax.set_xlim(0, max(1.0, top * 1.1))
        if top == 0:
            ax.text(.5, .5, "no janky UI frame and no page frame over 50 ms in any cell", transform=ax.transAxes,
                    ha="center", va="center", fontsize=8, color="#555555")
        ax.set_xlabel("share of frames (%)")
        ax.legend(handles=[Patch(color="#4e79a7", label="janky UI frames (gfxinfo)"),
                           Patch(color="#f28e2b", label="page frames > 50 ms (in-page rAF)")],
                  fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.09 - 0.5 / fig_h), ncol=2, frameon=False)
        ax.set_title("jank while the model runs, by source", fontsize=9)
    fig.subplots_adjust(left=0.06 if frame_ms.size else 0.3, right=0.98, top=1 - 0.35 / fig_h,
                        bottom=(1.0 if rows else 0.55) / fig_h, wspace=.55 if rows else .2)
    return Image(f"{slug}-frames.png", _png(fig), f"frames on {t.name}",
                 "Left: frame times of the browser's own UI (dumpsys gfxinfo framestats). Right: the share of "
                 "janky UI frames and of page frames longer than 50 ms (the page's requestAnimationFrame).")


# --- comparison -------------------------------------------------------------------------------

def comparison_chart(labels: Sequence[str], ratios: Sequence[float], cis: Sequence[tuple[float, float] | None],
                     title: str) -> Image | None:
    if not ratios:
        return None
    n = min(len(ratios), MAX_BARS)
    fig, ax = plt.subplots(figsize=(9, _height(n)))
    y = np.arange(n)
    r = np.array(ratios[:n], dtype=float)
    lo = np.array([c[0] if c else v for c, v in zip(cis[:n], r, strict=True)])
    hi = np.array([c[1] if c else v for c, v in zip(cis[:n], r, strict=True)])
    sig = [(c is not None and (c[0] > 1 or c[1] < 1)) for c in cis[:n]]
    ax.errorbar(r, y, xerr=[r - lo, hi - r], fmt="o", color="black", ecolor="grey", capsize=2, ms=4)
    ax.scatter(r[np.array(sig, dtype=bool)], y[np.array(sig, dtype=bool)], color="#d62728", zorder=3, s=25,
               label="significant (CI95 excludes 1)")
    ax.axvline(1.0, color="black", ls="--", lw=.8)
    _log_x(ax)
    ax.set_yticks(y, list(labels[:n]), fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("median B / median A (log scale; whiskers: CI95)")
    ax.set_title(title.replace(" vs ", "\nvs "), fontsize=9)
    if any(sig):
        ax.legend(fontsize=7, loc="best")
    h = _height(n)
    fig.subplots_adjust(left=0.4, right=0.97, top=1 - 0.8 / h, bottom=0.7 / h)
    return Image("compare.png", _png(fig), "ratio of medians per matched cell", title)

