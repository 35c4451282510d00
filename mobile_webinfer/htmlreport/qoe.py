"""The report's QoE part: the GUI workload alone, beside main-thread and worker inference."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from ..vocab import QOE_MODES
from .html import esc, figure, num, table
from .plots import Image, _png

MODE_COLOURS = {"baseline": "#9e9e9e", "main": "#d62728", "worker": "#1f77b4"}


def _conf(r: Mapping[str, Any]) -> str:
    return f"{r['model']} {r['runtime']}/{r['backend']} t{r['threads']}"


def qoe_chart(rows: Sequence[Mapping[str, Any]], target: str, slug: str) -> Image | None:
    """Per configuration, the median GUI round time of baseline vs main thread vs worker
    (a mode that failed has no bar), with the delay over the baseline written above."""
    confs = list(dict.fromkeys(_conf(r) for r in rows))
    if not confs or not any(r.get("gui_round_median_ms") for r in rows):
        return None
    by = {(_conf(r), r["qoe_mode"]): r for r in rows}
    fig, ax = plt.subplots(figsize=(max(5.0, 1.6 * len(confs) + 2), 3.6))
    x = np.arange(len(confs))
    w = 0.27
    shown: set[str] = set()
    for i, mode in enumerate(QOE_MODES):
        for j, c in enumerate(confs):
            r = by.get((c, mode))
            if r is None:
                continue
            v = r.get("gui_round_median_ms")
            if v is None:
                ax.text(x[j] + (i - 1) * w, 0, "n/a", ha="center", va="bottom", fontsize=7, rotation=90)
                continue
            ax.bar(x[j] + (i - 1) * w, v, w, color=MODE_COLOURS[mode], label=None if mode in shown else mode)
            shown.add(mode)
            pct = r.get("gui_delay_pct")
            if mode != "baseline" and pct is not None:
                ax.text(x[j] + (i - 1) * w, v, f"{pct:+.0f}%", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x, confs, fontsize=7)
    ax.set_ylabel("GUI round time, ms (median)")
    ax.set_title(f"{target}: GUI alone vs model on the main thread vs in a worker", fontsize=9)
    ax.legend(fontsize=8)   # one label per mode (on its first bar)
    fig.tight_layout()
    return Image(f"{slug}-qoe.png", _png(fig), f"QoE chart of {target}",
                 "One round = the six UI tasks of pages/gui_workload.js, each to the frame showing it; "
                 "labels: increase over the baseline (n/a: the mode could not run, e.g. no Web Worker).")


def qoe_table(rows: Sequence[Mapping[str, Any]]) -> str:
    out = []
    for r in rows:
        ci = r.get("gui_delay_ci95")
        delay = "-" if r.get("gui_delay_pct") is None or r["qoe_mode"] == "baseline" else (
            f"{r['gui_delay_pct']:+.0f}%" + (f" <span class='ci'>[{ci[0]:.0f}, {ci[1]:.0f}]</span>" if ci else ""))
        note = ", ".join(r.get("flags") or ())
        if r.get("error"):
            note = (note + "; " if note else "") + f"<span class='failed'>{esc(r['error'][:200])}</span>"
        out.append([esc(_conf(r)), esc(r["qoe_mode"]), num(r.get("gui_task_median_ms")), num(r.get("gui_task_p90_ms")),
                    num(r.get("gui_round_median_ms")), delay, num(r.get("fps")), num(r.get("long_frame_share"), 0, True),
                    num(r.get("input_delay_ms_p50")), num(r.get("input_paint_ms_p50")), num(r.get("inferences_per_s")),
                    num(r.get("gfxinfo_janky_share"), 0, True), note])
    return table(["configuration", "mode", "task ms", "task p90", "round ms", "GUI delay [CI95]", "fps",
                  "long frames", "input delay ms", "to paint ms", "inferences/s", "gfxinfo jank", "notes"],
                 out, "qoe")


def qoe_section(rows: Sequence[Mapping[str, Any]], img: Image | None) -> str:
    """A target's QoE part of the report (empty without QoE rows)."""
    if not rows:
        return ""
    return "<h3>What the user feels (QoE)</h3>" + qoe_table(rows) + figure(img, "no GUI round time to plot")
