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
    # issue 21: the gaps, each normalised by the native run of its own window, and what is comparable
    gap: GapComparison | None = None

    def to_json(self) -> dict[str, Any]:
        out = {"key": self.key, "run_a": self.run_a, "run_b": self.run_b, "median_a_ms": self.median_a_ms,
               "median_b_ms": self.median_b_ms, "ratio": self.ratio,
               "ratio_ci95": list(self.ratio_ci95) if self.ratio_ci95 else None,
               "significant": self.significant, "n_a": self.n_a, "n_b": self.n_b, "note": self.note}
        out.update((self.gap or GapComparison()).to_json())
        return out


def _gap_groups(run: RunData, with_target: bool) -> dict[str, list[list[float]]]:
    """Per configuration, each paired page load's round ratios (browser / native in the same round)."""
    out: dict[str, list[list[float]]] = {}
    for r in run.records:
        c = r.cell
        if c is None or not r.ok or r.pairing is None or not r.pairing.paired:
            continue
        parts = [c.browser, c.model, c.runtime, c.backend, f"t{c.threads}"]
        out.setdefault("|".join(([c.target] if with_target else []) + parts), []).append(r.pairing.ratios())
    return out


def _row_gaps(run: RunData, with_target: bool) -> dict[str, float]:
    """Per configuration, the unpaired gap of the report's row (browser median / native median)."""
    out: dict[str, float] = {}
    for d in run.row_dicts:
        if d.get("gap") is None or d.get("qoe_mode"):
            continue
        parts = [str(d.get("browser")), str(d.get("model")), str(d.get("runtime")), str(d.get("backend")),
                 f"t{d.get('threads')}"]
        out["|".join(([str(d.get("target"))] if with_target else []) + parts)] = float(d["gap"])
    return out


def _device_id(run: RunData, target: str | None) -> str | None:
    fp = (run.manifest.get("targets") or {}).get(target or "") or {}
    return fp.get("fingerprint_id") if isinstance(fp, dict) else None


def _native_build(run: RunData, target: str | None) -> str | None:
    """What the native reference ran with on `target`: its runtime versions (host LiteRT's version;
    a phone's benchmark_model as the records say), or None when the run does not say."""
    seen: set[str] = set()
    for r in run.records:
        c = r.cell
        if c is None or c.target != target or not r.ok:
            continue
        if c.is_native:
            seen.update(str(v) for v in r.eff.versions.values())
            if r.raw_output_tail and not r.eff.versions:
                seen.add("benchmark_model")
        if r.pairing is not None and r.pairing.native_version:
            seen.add(str(r.pairing.native_version))
    return ", ".join(sorted(seen)) or None


def comparable(same_device: bool | None, same_native: bool | None) -> str:
    """Which of the two comparisons holds across the runs (a phone-lab user's question): `medians and
    gaps` (same device, same native build), `gaps` (another or an unknown device: each gap is normalised
    by its own native run), `medians` (same device, but the native build changed: the gaps' reference
    moved), `neither` (both differ or are unknown)."""
    if same_device and same_native:
        return "medians and gaps"
    if same_native and not same_device:
        return "gaps"
    if same_device and same_native is False:
        return "medians"
    return "neither"


@dataclass(frozen=True)
class GapComparison:
    gap_a: float | None = None
    gap_b: float | None = None
    gap_ratio: float | None = None
    gap_ratio_ci95: tuple[float, float] | None = None
    gap_significant: bool | None = None
    gap_source: str | None = None        # paired (CI from the rounds) | unpaired (no CI) | mixed
    same_device: bool | None = None
    same_native_build: bool | None = None
    comparable: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"gap_a": self.gap_a, "gap_b": self.gap_b, "gap_ratio": self.gap_ratio,
                "gap_ratio_ci95": list(self.gap_ratio_ci95) if self.gap_ratio_ci95 else None,
                "gap_significant": self.gap_significant, "gap_source": self.gap_source,
                "same_device": self.same_device, "same_native_build": self.same_native_build,
                "comparable": self.comparable}


def _gap_comparison(key: str, a: RunData, b: RunData, pa: dict[str, list[list[float]]],
                    pb: dict[str, list[list[float]]], ua: dict[str, float], ub: dict[str, float],
                    ta: str | None, tb: str | None, seed: int) -> GapComparison:
    import numpy as np

    from ..paired_stats import paired_gap
    from ..stats import bootstrap_medians

    da, db = _device_id(a, ta), _device_id(b, tb)
    na, nb = _native_build(a, ta), _native_build(b, tb)
    same_dev = None if da is None or db is None else da == db
    same_nat = None if na is None or nb is None else na == nb
    verdict = comparable(same_dev, same_nat)
    ga, gb = pa.get(key), pb.get(key)
    if ga and gb:
        xa, xb = paired_gap(ga), paired_gap(gb)
        if xa is not None and xb is not None and xa.gap > 0:
            boots_a = bootstrap_medians(ga, seed=seed)
            boots_b = bootstrap_medians(gb, seed=seed + 1)
            ci = None
            if boots_a.size and boots_b.size and np.all(boots_a > 0):
                r = boots_b / boots_a
                ci = (float(np.percentile(r, 2.5)), float(np.percentile(r, 97.5)))
            sig = ci is not None and (ci[0] > 1.0 or ci[1] < 1.0)
            return GapComparison(gap_a=xa.gap, gap_b=xb.gap, gap_ratio=xb.gap / xa.gap, gap_ratio_ci95=ci,
                                 gap_significant=sig, gap_source="paired", same_device=same_dev,
                                 same_native_build=same_nat, comparable=verdict)
    if key in ua and key in ub and ua[key] > 0:
        src = "unpaired" if not (ga or gb) else "mixed"  # one run paired, the other not: never pooled
        return GapComparison(gap_a=ua[key], gap_b=ub[key], gap_ratio=ub[key] / ua[key], gap_source=src,
                             same_device=same_dev, same_native_build=same_nat, comparable=verdict)
    return GapComparison(same_device=same_dev, same_native_build=same_nat, comparable=verdict)


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
    pa, pb = _gap_groups(a, with_target), _gap_groups(b, with_target)
    ua, ub = _row_gaps(a, with_target), _row_gaps(b, with_target)
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
        tgt_a = key.split("|")[0] if with_target else next(iter(ta), None)
        tgt_b = key.split("|")[0] if with_target else next(iter(tb), None)
        gap = _gap_comparison(key, a, b, pa, pb, ua, ub, tgt_a, tgt_b, seed=3 * i)
        out.append(Comparison(key=key, run_a=a.run_id, run_b=b.run_id, median_a_ms=sa.median, median_b_ms=sb.median,
                              ratio=sb.median / sa.median, ratio_ci95=ci, significant=sig, n_a=sa.n, n_b=sb.n,
                              note=note, gap=gap))
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
             "<b>yes</b>" if c.significant else "no", f"{c.n_a} / {c.n_b}",
             *[esc(x) for x in _gap_texts(c.gap or GapComparison())], esc(c.note or "")] for c in comps]
    body = (f"<p>A = <b>{esc(run_ids[0])}</b>; B = {esc(', '.join(run_ids[1:]))}. Ratio = median B / median A "
            "(above 1: B slower), CI95 by hierarchical bootstrap (repeats, then inferences); significant when "
            "the CI excludes 1.</p>"
            + (f'<figure><img src="{esc(image)}" alt="ratio of medians"></figure>' if image else "")
            + "<p>Gap A -> B: each run's gap normalised by the native run of its own window (paired: the median of "
              "its rounds' ratios, CI95 of B / A from the rounds, * significant); comparable: which of the two "
              "holds across the runs: medians and gaps (same device, same native build), gaps (another device), "
              "medians (the native build changed), neither.</p>"
            + (table(["cell", "run B", "median A ms", "median B ms", "ratio B/A", "CI95", "significant",
                      "n A / B", "gap A -> B", "gap B / A", "comparable", "note"], rows) if rows else '<p class="none">no cells matched between the runs</p>'))
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


def _gap_texts(g: GapComparison) -> list[str]:
    if g.gap_ratio is None or g.gap_a is None or g.gap_b is None:
        return ["-", "-", g.comparable or "-"]
    ci = f" [{g.gap_ratio_ci95[0]:.3f}, {g.gap_ratio_ci95[1]:.3f}]" if g.gap_ratio_ci95 else " (no CI: unpaired)"
    sig = " *" if g.gap_significant else ""
    return [f"{g.gap_a:.2f}x -> {g.gap_b:.2f}x ({g.gap_source})", f"{g.gap_ratio:.3f}{ci}{sig}", g.comparable or "-"]


def render_comparison(comps: Sequence[Comparison]) -> None:
    """The comparison as a terminal table."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        console.width = max(console.width, 160)
    t = Table(title="run comparison: ratio of medians B / A (CI95; significant when it excludes 1)")
    for col in ("cell", "run B", "median A ms", "median B ms", "B / A", "CI95", "significant", "gap A -> B",
                "gap B / A [CI95]", "comparable"):
        t.add_column(col, no_wrap=col not in ("cell", "comparable"))
    for c in comps:
        ci = f"[{c.ratio_ci95[0]:.3f}, {c.ratio_ci95[1]:.3f}]" if c.ratio_ci95 else "-"
        g = c.gap or GapComparison()
        t.add_row(c.key, c.run_b, ms(c.median_a_ms), ms(c.median_b_ms), f"{c.ratio:.3f}", ci,
                  "yes" if c.significant else "no", *_gap_texts(g))
    if not comps:
        console.print("no cells matched between the runs")
    else:
        console.print(t)
        console.print("gap: each run's browser / native in its own window (paired: rounds, CI95 from them); "
                      "comparable: medians and gaps = same device and native build; gaps = another device; "
                      "medians = the native build changed", highlight=False)
