"""The history page: open regressions first, then one small multiple per series (median and CI band
over run date, steps marked with their cause, version changes marked), in the report's style
(the same CSS, PNG figures beside one self-contained `index.html`, no script, no network)."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from pathlib import Path

import matplotlib.dates as mdates
import numpy as np

from ..htmlreport.folder import write_report_folder
from ..htmlreport.html import esc, page, table
from ..htmlreport.plots import DPI, Image, _png, colour, plt
from .changes import History, SeriesResult, parse_time

PANELS_PER_FIGURE = 6
MAX_SERIES_DRAWN = 60


def _pct(x: float) -> str:
    return f"{100 * x:+.1f}%"


def _panel(ax: plt.Axes, s: SeriesResult) -> None:
    t = mdates.date2num([parse_time(p.at) for p in s.points])
    y = np.array([p.median_ms for p in s.points])
    c = colour(s.key.runtime)
    lo = np.array([p.ci95_ms[0] if p.ci95_ms else np.nan for p in s.points])
    hi = np.array([p.ci95_ms[1] if p.ci95_ms else np.nan for p in s.points])
    if np.any(np.isfinite(lo)):
        ax.fill_between(t, lo, hi, color=c, alpha=0.25, linewidth=0, label="CI95")
    ax.plot(t, y, "-o", color=c, markersize=2.5, linewidth=1, label="median")
    top = float(np.nanmax(np.where(np.isfinite(hi), hi, y)))
    bottom = float(np.nanmin(np.where(np.isfinite(lo), lo, y)))
    span = max(top - bottom, top * 0.05)
    for e in s.events:
        ax.axvline(t[e.index], color="#888", linestyle=":", linewidth=0.9)
        ax.annotate(_short_event(e.what, e.new), (t[e.index], bottom - 0.02 * span), fontsize=6, color="#555",
                    rotation=90, va="bottom", ha="right")
    at: dict[int, list] = {}
    for st in s.steps:
        at.setdefault(st.index, []).append(st)
    for index, steps in at.items():
        worse = any(x.worse for x in steps if x.metric == "median_ms") or all(x.worse for x in steps)
        col = "#c62828" if worse else "#2e7d32"
        ax.axvline(t[index], color=col, linewidth=1.4, alpha=0.9)
        sizes = ", ".join(f"{_pct(x.size)} {x.metric.replace('median_ms', 'median')}" for x in steps)
        right = index > len(t) / 2
        ax.annotate(f"{sizes}\n{steps[0].cause_text[:48]}", (t[index], top), fontsize=6.5, color=col, va="top",
                    ha="right" if right else "left", xytext=(-3 if right else 3, -2), textcoords="offset points")
    ax.set_ylim(bottom - 0.08 * span, top + 0.12 * span)
    ax.set_title(f"{s.key.label}\n{s.status}", fontsize=7.5, loc="left")
    ax.set_ylabel("median, ms", fontsize=7)
    ax.tick_params(labelsize=6.5)
    ax.grid(alpha=0.25)
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(maxticks=6))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
    for lab in ax.get_xticklabels():
        lab.set_rotation(20)


def _short_event(what: str, new: str | None) -> str:
    v = new or ""
    if len(v) == 64:
        v = v[:8]
    return f"{what} {v[:24]}"


def series_figures(series: Sequence[SeriesResult]) -> list[Image]:
    images = []
    for n0 in range(0, len(series), PANELS_PER_FIGURE):
        chunk = series[n0:n0 + PANELS_PER_FIGURE]
        rows = (len(chunk) + 1) // 2
        fig, axes = plt.subplots(rows, 2, figsize=(12, 2.9 * rows), squeeze=False)
        for ax, s in zip(axes.flat, chunk, strict=False):
            _panel(ax, s)
        for ax in list(axes.flat)[len(chunk):]:
            ax.set_visible(False)
        fig.tight_layout()
        images.append(Image(name=f"series-{n0 // PANELS_PER_FIGURE + 1:03d}.png", png=_png(fig),
                            alt="; ".join(s.key.label for s in chunk),
                            caption="median per run (line) with its CI95 (band); solid lines: steps (red worse, "
                                    "green better) with what changed at that run; dotted: version changes"))
    return images


def _open_table(h: History) -> str:
    rows = []
    for s in h.series:
        st = s.open_regression
        if st is None:
            continue
        rows.append([esc(s.key.label), f'<span class="pill bad">{esc(_pct(st.size))}</span>',
                     f"[{esc(_pct(st.ci95[0]))}, {esc(_pct(st.ci95[1]))}]",
                     f"{st.before:.3g} → {st.after:.3g}" + (" ms" if st.metric == "median_ms" else "x gap"),
                     esc(st.run_id), esc(st.at[:16]), esc(st.cause_text)])
    if not rows:
        return '<p class="none">no open regressions</p>'
    return table(["series", "step", "CI95", "before → after", "first run after", "date", "cause"], rows)


def _summary_table(h: History) -> str:
    rows = []
    for s in h.series:
        cls = {"regressed": "bad", "improved": "ok", "noisy": "warn"}.get(s.status, "")
        last = s.points[-1]
        rows.append([esc(s.key.label), f'<span class="pill {cls}">{esc(s.status)}</span>',
                     f'<span class="num">{len(s.points)}</span>', f"{last.median_ms:.3g} ms",
                     f"{100 * s.noise:.1f}%", esc("; ".join(f"{_pct(x.size)} {'median' if x.metric == 'median_ms' else x.metric} at {x.run_id}"
                               for x in s.steps) or "-"),
                     esc("; ".join(e.text for e in s.events[-3:]) or "-")])
    return table(["series", "status", "runs", "last median", "noise", "steps", "recent version changes"], rows)


def history_page(h: History, images: Sequence[Image], drawn: int) -> str:
    counts = h.counts()
    first = parse_time(h.runs[0].created_at) if h.runs else None
    last = parse_time(h.runs[-1].created_at) if h.runs else None
    span = f"{first:%Y-%m-%d} to {last:%Y-%m-%d}" if first and last else "no runs"
    header = (f"<h1>mwi history: {len(h.runs)} runs, {len(h.series)} series</h1>"
              f'<p class="muted">{esc(span)}; ' + ", ".join(f"{v} {k}" for k, v in counts.items()) +
              (f"; {esc(h.notes[0])}" if h.notes else "") + "</p>")
    body = ["<h2 id=\"open\">Open regressions</h2>", _open_table(h)]
    if h.unreadable:
        body.append("<h2>Runs not read</h2>")
        body.append(table(["run", "reason"], [[esc(u.run_dir), esc(u.reason)] for u in h.unreadable]))
    body.append("<h2>Series</h2>")
    body.append(_summary_table(h))
    body.append("<h2>Over time</h2>")
    if drawn < len(h.series):
        body.append(f'<p class="muted">the first {drawn} of {len(h.series)} series are drawn (regressed, noisy and '
                    f"improved first); `mwi history --series ID --html` draws any one</p>")
    for img in images:
        body.append(f'<figure><img src="{esc(img.name)}" alt="{esc(img.alt)}">'
                    f"<figcaption>{esc(img.caption)}</figcaption></figure>")
    body.append(f'<p class="muted">made {_dt.datetime.now(_dt.UTC):%Y-%m-%d %H:%M} UTC by mwi history; figures at '
                f"{DPI} dpi</p>")
    return page("mwi history", header, "".join(body))


def write_history_page(h: History, folder: Path) -> Path:
    """`folder/report/index.html` and its PNGs (swapped in whole); returns the page's path."""
    drawn = list(h.series[:MAX_SERIES_DRAWN])
    images = series_figures(drawn)
    folder.mkdir(parents=True, exist_ok=True)
    return write_report_folder(folder, images, history_page(h, images, len(drawn)))
