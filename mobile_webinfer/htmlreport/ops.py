"""The report's per-operator part (runs taken with `mwi sweep --profile-ops`): excess ms by
operator class for each browser cell against its native pairing, as a bar chart and a table,
and the configurations that have no profile with the reason."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from ..parsers.op_classes import RUNTIME_OVERHEAD
from .html import esc, figure, num, table
from .plots import Image, _png


def _pairing(r: Mapping[str, Any]) -> str:
    return (f"{r['model']} {r['runtime']}/{r['backend']} t{r['threads']} vs "
            f"{r['native_runtime']}/{r['native_backend']}")


def op_rows_by_target(run_dir: Path, records: Sequence[Any]) -> tuple[dict[str, list[dict[str, Any]]],
                                                                    dict[str, list[dict[str, Any]]]]:
    """(target -> gap rows of its profiled browser cells, target -> profiles it lacks); empty when
    the run has no profiles.  A profile that cannot be read is left out of the page, never fatal."""
    from ..errors import MwiError
    from ..sweep.op_profiles import PROFILES_DIR, op_gap_rows, profile_notes

    if not (Path(run_dir) / PROFILES_DIR).is_dir():
        return {}, {}
    try:
        rows = op_gap_rows(run_dir, records)
        notes = profile_notes(run_dir)
    except MwiError:
        return {}, {}
    by: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r["native_runtime"]:  # browser cells with a native pairing; native profiles stand alone
            by.setdefault(r["target"], []).append(r)
    missing: dict[str, list[dict[str, Any]]] = {}
    for n in notes:
        missing.setdefault(n["target"], []).append(n)
    return by, missing


def ops_chart(rows: Sequence[Mapping[str, Any]], target: str, slug: str) -> Image | None:
    """Excess ms (browser - native) per operator class, one bar per pairing; the time outside the
    operators (`runtime-overhead`) is the last class."""
    rows = [r for r in rows if r.get("excess_ms") is not None]
    if not rows:
        return None
    pairings = list(dict.fromkeys(_pairing(r) for r in rows))
    total: dict[str, float] = {}
    for r in rows:
        if r["op_class"] != RUNTIME_OVERHEAD:
            total[r["op_class"]] = total.get(r["op_class"], 0.0) + abs(float(r["excess_ms"]))
    classes = sorted(total, key=lambda c: -total[c]) + [RUNTIME_OVERHEAD]
    by = {(_pairing(r), r["op_class"]): float(r["excess_ms"]) for r in rows}
    fig, ax = plt.subplots(figsize=(8.0, max(2.6, 0.32 * len(classes) * max(1, len(pairings)) + 1.2)))
    y = np.arange(len(classes))
    h = 0.8 / len(pairings)
    cmap = plt.get_cmap("tab10")
    for i, p in enumerate(pairings):
        vals = [by.get((p, c), np.nan) for c in classes]
        ax.barh(y - 0.4 + h * (i + 0.5), vals, h, color=cmap(i % 10), label=p)
    ax.axvline(0, color="#555", lw=0.8)
    ax.set_yticks(y, classes, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("excess ms per inference (browser - native)")
    ax.set_title(f"{target}: where the gap comes from, by operator class", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return Image(f"{slug}-ops.png", _png(fig), f"excess ms by operator class on {target}",
                 "From the per-operator profiles (separate profiled runs, never the latency numbers): each class's "
                 "operator time in the browser minus natively; runtime-overhead = the unprofiled median inference "
                 "minus the operator sum (JS <-> wasm crossings, copies, read-back).")


def ops_table(rows: Sequence[Mapping[str, Any]]) -> str:
    out = [[esc(_pairing(r)), esc(r["op_class"]), str(r["count"]), num(r["browser_ms"], 3), num(r["native_ms"], 3),
            num(r["ratio"], 2), num(r["share"], 0, pct=True), num(r["excess_ms"], 3)] for r in rows]
    return table(["pairing", "op class", "n", "browser ms", "native ms", "ratio", "share", "excess ms"], out, "ops")


def missing_list(notes: Sequence[Mapping[str, Any]]) -> str:
    if not notes:
        return ""
    items = "".join(f"<li>{esc(n['model'])} {esc(n['runtime'])}/{esc(n['backend'])} t{esc(n['threads'])}: "
                    f"{esc(n['status'])}: {esc(n['error'])}</li>" for n in notes)
    return f"<p class='muted'>No per-operator profile for:</p><ul class='ops-missing'>{items}</ul>"


def ops_part(img: Image | None, rows: Sequence[Mapping[str, Any]], missing: Sequence[Mapping[str, Any]]) -> str:
    """The target section's per-operator part; "" for a run without profiles."""
    if not rows and not missing:
        return ""
    return ("<h3 id='ops'>Where the gap comes from: per-operator profiles</h3>"
            + figure(img, "no browser profile paired with a native one")
            + (ops_table(rows) if rows else "") + missing_list(missing))


__all__ = ["missing_list", "op_rows_by_target", "ops_chart", "ops_part", "ops_table"]
