"""Comparing runs: the same configurations across two runs (two phones, two browser versions,
before / after an update), as the ratio of medians with a bootstrap CI95.

Cells are matched on browser, model, runtime, backend and threads, and on the target too when
the runs share a target; two single-target runs on different phones are matched without it.
Configurations are never pooled across targets.  `ratio` is median B / median A (above 1: B is
slower); it is significant when its CI95 excludes 1.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..files import atomic_write_bytes, atomic_write_text, mkdir_durably
from ..records import CellRecord
from ..stats import ratio_ci, summarize
from .data import RunData, load_run
from .folder import replace_dir
from .html import esc, ms, page, table
from .plots import comparison_chart

MIN_SAMPLES_FOR_CI = 2


@dataclass(frozen=True)
class Comparison:
    key: str
    run_a: str
    run_b: str
    median_a_ms: float
    median_b_ms: float
    ratio: float
    ratio_ci95: tuple[float, float] | None
    significant: bool
    n_a: int
    n_b: int
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "run_a": self.run_a, "run_b": self.run_b, "median_a_ms": self.median_a_ms,
                "median_b_ms": self.median_b_ms, "ratio": self.ratio,
                "ratio_ci95": list(self.ratio_ci95) if self.ratio_ci95 else None,
                "significant": self.significant, "n_a": self.n_a, "n_b": self.n_b, "note": self.note}


def _groups(run: RunData, with_target: bool) -> dict[str, list[list[float]]]:
    out: dict[str, list[list[float]]] = {}
    for r in run.records:
        c = r.cell
        if c is None or not r.ok or not r.samples_ms():
            continue
        parts = [c.browser, c.model, c.runtime, c.backend, f"t{c.threads}"]
        key = "|".join(([c.target] if with_target else []) + parts)
        out.setdefault(key, []).append(r.samples_ms())
    return out


def _targets(recs: Sequence[CellRecord]) -> set[str]:
    return {r.cell.target for r in recs if r.cell is not None}


def compare_two(a: RunData, b: RunData) -> list[Comparison]:
    ta, tb = _targets(a.records), _targets(b.records)
    with_target = bool(ta & tb) or len(ta) > 1 or len(tb) > 1
    ga, gb = _groups(a, with_target), _groups(b, with_target)
    out = []
    for i, key in enumerate(sorted(set(ga) & set(gb))):
        sa, sb = summarize(ga[key], seed=2 * i), summarize(gb[key], seed=2 * i + 1)
        if sa is None or sb is None or sa.median <= 0:
            continue
        ci: tuple[float, float] | None = None
        note = None
        if sa.n >= MIN_SAMPLES_FOR_CI and sb.n >= MIN_SAMPLES_FOR_CI:
            ci = ratio_ci(sb, sa, seed=i)
        else:
            note = "too few samples for a CI (a native summary holds one median per repeat)"
        sig = ci is not None and (ci[0] > 1.0 or ci[1] < 1.0)
        out.append(Comparison(key=key, run_a=a.run_id, run_b=b.run_id, median_a_ms=sa.median, median_b_ms=sb.median,
                              ratio=sb.median / sa.median, ratio_ci95=ci, significant=sig, n_a=sa.n, n_b=sb.n,
                              note=note))
    return out


def compare_runs(run_dirs: Sequence[Path | str]) -> list[Comparison]:
    """Every run after the first against the first (A); matched cells only."""
    if len(run_dirs) < 2:
        raise UsageError("comparing needs at least two run directories")
    runs = [load_run(d, rows=False) for d in run_dirs]
    out: list[Comparison] = []
    for b in runs[1:]:
        out += compare_two(runs[0], b)
    return out


def comparison_html(comps: Sequence[Comparison], run_ids: Sequence[str], image: str | None) -> str:
    rows = [[esc(c.key), esc(c.run_b), ms(c.median_a_ms), ms(c.median_b_ms), f"{c.ratio:.3f}",
             f"[{c.ratio_ci95[0]:.3f}, {c.ratio_ci95[1]:.3f}]" if c.ratio_ci95 else "-",
             "<b>yes</b>" if c.significant else "no", f"{c.n_a} / {c.n_b}", esc(c.note or "")] for c in comps]
    body = (f"<p>A = <b>{esc(run_ids[0])}</b>; B = {esc(', '.join(run_ids[1:]))}. Ratio = median B / median A "
            "(above 1: B slower), CI95 by hierarchical bootstrap (repeats, then inferences); significant when "
            "the CI excludes 1.</p>"
            + (f'<figure><img src="{esc(image)}" alt="ratio of medians"></figure>' if image else "")
            + (table(["cell", "run B", "median A ms", "median B ms", "ratio B/A", "CI95", "significant",
                      "n A / B", "note"], rows) if rows else '<p class="none">no cells matched between the runs</p>'))
    return page("mwi comparison", f"<h1>mwi comparison: {esc(run_ids[0])} vs {esc(', '.join(run_ids[1:]))}</h1>",
                body)


def write_comparison(run_dirs: Sequence[Path | str], comps: Sequence[Comparison] | None = None) -> Path:
    """`<last run>/compare-<first run id>/index.html`; returns its path."""
    if comps is None:
        comps = compare_runs(run_dirs)
    ids = [load_run(d, rows=False).run_id for d in run_dirs]
    out = Path(run_dirs[-1]) / f"compare-{ids[0]}"
    img = comparison_chart([f"{c.key} ({c.run_b})" if len(ids) > 2 else c.key for c in comps],
                           [c.ratio for c in comps], [c.ratio_ci95 for c in comps],
                           f"{ids[0]} (A) vs {', '.join(ids[1:])} (B)")
    tmp = out.with_name(f".{out.name}.tmp.{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    mkdir_durably(tmp)
    if img is not None:
        atomic_write_bytes(tmp / img.name, img.png)
    atomic_write_text(tmp / "index.html", comparison_html(comps, ids, img.name if img else None))
    replace_dir(tmp, out)
    return out / "index.html"


def render_comparison(comps: Sequence[Comparison]) -> None:
    """The comparison as a terminal table."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        console.width = max(console.width, 160)
    t = Table(title="run comparison: ratio of medians B / A (CI95; significant when it excludes 1)")
    for col in ("cell", "run B", "median A ms", "median B ms", "B / A", "CI95", "significant"):
        t.add_column(col, no_wrap=col != "cell")
    for c in comps:
        ci = f"[{c.ratio_ci95[0]:.3f}, {c.ratio_ci95[1]:.3f}]" if c.ratio_ci95 else "-"
        t.add_row(c.key, c.run_b, ms(c.median_a_ms), ms(c.median_b_ms), f"{c.ratio:.3f}", ci,
                  "yes" if c.significant else "no")
    if not comps:
        console.print("no cells matched between the runs")
    else:
        console.print(t)
