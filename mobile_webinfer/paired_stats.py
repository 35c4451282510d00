"""The paired gap: browser and native taking turns in short rounds, and where variance comes from.

A paired cell (one page load) is a series of rounds; each round is a block of browser
inferences followed by a block of native inferences, so both see the same state of the
machine (or phone).  The round's ratio is median(browser block) / median(native block); the
gap is the median of the per-round ratios, and its CI95 comes from a two-level bootstrap:
resample page loads, then rounds inside each chosen load (the same scheme as
`stats.bootstrap_medians`, one level up).

Variance shares split the variance of log-latency (multiplicative noise) three ways, by the law
of total variance, so the shares add up to one: within rounds (inference to inference), between
rounds of one load (drift over seconds) and between page loads (a fresh page / process).  A cell
measured without rounds (unpaired) is cut into consecutive blocks of the same length in time,
so the shares of paired and unpaired rows mean the same thing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .stats import bootstrap_medians, median_halfwidth_rel

#: rounds a paired cell takes before its gap's precision is looked at (a CI of a median needs a few)
MIN_ROUNDS = 5
#: the default round length (seconds of browser inference, then as long natively): see benchmarks/bench_pairing.py
DEFAULT_ROUND_S = 0.5


def _median(xs: Sequence[float]) -> float:
    return float(np.median(np.asarray(xs, dtype=np.float64)))


def round_ratio(browser_ms: Sequence[float], native_ms: Sequence[float]) -> float | None:
    """median(browser block) / median(native block), None where either block is empty."""
    if not browser_ms or not native_ms:
        return None
    n = _median(native_ms)
    return _median(browser_ms) / n if n > 0 else None


def gap_precision(ratios: Sequence[float]) -> float | None:
    """CI95 half-width of the median of one load's round ratios, relative (order statistics, as the
    page's own stopping rule): what a paired cell's `--precision` stops on."""
    return median_halfwidth_rel([r for r in ratios if r is not None and math.isfinite(r)])


@dataclass(frozen=True)
class PairedGap:
    """The gap of one configuration from its loads' rounds."""

    gap: float
    ci95: tuple[float, float] | None
    precision: float | None      # CI95 half-width / gap
    rounds: int
    loads: int


def paired_gap(loads: Sequence[Sequence[float]], *, seed: int = 0) -> PairedGap | None:
    """The median of every round ratio (all loads pooled) with a hierarchical bootstrap CI95 (loads,
    then rounds within them).  `loads`: per page load, its rounds' ratios."""
    groups = [[r for r in g if r is not None and math.isfinite(r) and r > 0] for g in loads]
    groups = [g for g in groups if g]
    if not groups:
        return None
    pooled = [r for g in groups for r in g]
    gap = _median(pooled)
    ci: tuple[float, float] | None = None
    if len(pooled) >= 2:
        boots = bootstrap_medians(groups, seed=seed)
        ci = (float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5)))
    prec = (ci[1] - ci[0]) / 2 / gap if ci is not None and gap > 0 else None
    return PairedGap(gap=gap, ci95=ci, precision=prec, rounds=len(pooled), loads=len(groups))


@dataclass(frozen=True)
class VarianceShares:
    """Shares of the variance of log-latency; they add up to 1 (None where there is nothing to split)."""

    within_rounds: float
    between_rounds: float
    between_loads: float

    def to_json(self) -> dict[str, float]:
        return {"within_rounds": round(self.within_rounds, 4), "between_rounds": round(self.between_rounds, 4),
                "between_loads": round(self.between_loads, 4)}


def variance_shares(loads: Sequence[Sequence[Sequence[float]]]) -> VarianceShares | None:
    """Law of total variance on log-latency over loads -> rounds -> inferences (population
    variances, each level weighted by its sample count, so the three parts sum to the total)."""
    rows: list[tuple[int, int, float]] = []
    for li, rounds in enumerate(loads):
        for ri, block in enumerate(rounds):
            for x in block:
                if x is not None and math.isfinite(x) and x > 0:
                    rows.append((li, ri, math.log(x)))
    if len(rows) < 3:
        return None
    a = np.array(rows)
    load, rnd, y = a[:, 0].astype(int), a[:, 1].astype(int), a[:, 2]
    total = float(y.var())
    if total <= 0:
        return None
    grand = y.mean()
    within = between_r = between_l = 0.0
    for li in np.unique(load):
        ly = y[load == li]
        lr = rnd[load == li]
        lmean = ly.mean()
        between_l += ly.size * (lmean - grand) ** 2
        for ri in np.unique(lr):
            ry = ly[lr == ri]
            rmean = ry.mean()
            between_r += ry.size * (rmean - lmean) ** 2
            within += float(((ry - rmean) ** 2).sum())
    n = y.size
    parts = np.array([within, between_r, between_l]) / n
    s = parts.sum()
    if s <= 0:
        return None
    parts = parts / s
    return VarianceShares(float(parts[0]), float(parts[1]), float(parts[2]))


def blocks_by_time(latencies_ms: Sequence[float], block_s: float) -> list[list[float]]:
    """Consecutive latencies cut into blocks of about `block_s` seconds of inference (an unpaired
    load's pseudo-rounds, for its variance shares)."""
    out: list[list[float]] = []
    cur: list[float] = []
    acc = 0.0
    for x in latencies_ms:
        cur.append(x)
        acc += x
        if acc >= block_s * 1000:
            out.append(cur)
            cur, acc = [], 0.0
    if cur:
        if out and len(cur) < max(2, len(out[-1]) // 2):
            out[-1].extend(cur)   # a short tail joins the block before it
        else:
            out.append(cur)
    return out


#: the report's per-row columns of pairing and variance shares (issue 21)
PAIRED_ROW_KEYS = ("pairing", "pairing_note", "pairing_mode", "paired_gap", "paired_gap_ci95", "paired_precision",
                   "rounds", "round_s", "var_within_rounds", "var_between_rounds", "var_between_loads")
PAIRING_MIXED = "pairing-mixed"


def load_blocks(rec: Any, block_s: float) -> list[list[float]]:
    """One load's latencies in rounds: a paired load's own (the page's latencies in order, cut by each
    round's browser count), else consecutive blocks of `block_s` seconds of inference."""
    lat = list(rec.latencies_ms or ())
    p = rec.pairing
    if p is not None and p.rounds and sum(r.browser_n for r in p.rounds) == len(lat):
        out, i = [], 0
        for r in p.rounds:
            out.append(lat[i:i + r.browser_n])
            i += r.browser_n
        return [b for b in out if b]
    return blocks_by_time(lat, block_s)


def all_paired(ok: Sequence[Any]) -> bool:
    """Whether every one of a configuration's ok loads (`records.CellRecord`) was measured paired."""
    return bool(ok) and all(r.pairing is not None and r.pairing.paired for r in ok)


def config_gap_precision(ok: Sequence[Any], *, seed: int = 0) -> float | None:
    """A paired configuration's precision: the CI95 half-width of its paired gap / the gap (loads,
    then rounds), where every ok load was paired; None otherwise.  Its validity (`imprecise`) and its
    extra repeats go by this, not by the browser median's precision (issue 21)."""
    if not all_paired(ok):
        return None
    g = paired_gap([r.pairing.ratios() for r in ok], seed=seed)
    return g.precision if g is not None else None


def pairing_columns(ok: Sequence[Any], *, native_row: bool, block_s: float = DEFAULT_ROUND_S,
                    seed: int = 0) -> tuple[dict[str, Any], list[str]]:
    """The row's pairing and variance-share columns from its ok loads (`records.CellRecord`), and its
    flags.  Only paired loads feed `paired_gap`; a row whose loads are partly unpaired says so
    (`pairing-mixed(k-of-n)`) and its note says why the others were not paired."""
    cols: dict[str, Any] = {k: None for k in PAIRED_ROW_KEYS}
    flags: list[str] = []
    round_lens = [r.pairing.round_s for r in ok if r.pairing is not None and r.pairing.round_s]
    bs = round_lens[0] if round_lens else block_s
    shares = variance_shares([load_blocks(r, bs) for r in ok if r.latencies_ms])
    if shares is not None:
        cols.update(var_within_rounds=round(shares.within_rounds, 4), var_between_rounds=round(shares.between_rounds, 4),
                    var_between_loads=round(shares.between_loads, 4))
    if native_row or not ok:
        return cols, flags
    paired_recs = [r for r in ok if r.pairing is not None and r.pairing.paired]
    others = [r for r in ok if not (r.pairing is not None and r.pairing.paired)]
    reasons = sorted({(r.pairing.unpaired_reason if r.pairing is not None and r.pairing.unpaired_reason
                       else "measured unpaired (a run before issue 21)") for r in others})
    if not paired_recs:
        cols.update(pairing="unpaired", pairing_note="; ".join(reasons))
        return cols, flags
    modes = sorted({r.pairing.mode for r in paired_recs})
    cols.update(pairing="paired" if not others else "mixed", pairing_mode="/".join(modes), round_s=bs)
    if others:
        flags.append(f"{PAIRING_MIXED}({len(paired_recs)}-of-{len(ok)})")
        cols["pairing_note"] = f"{len(others)} load(s) unpaired, left out of paired_gap: " + "; ".join(reasons)
    g = paired_gap([r.pairing.ratios() for r in paired_recs], seed=seed)
    if g is not None:
        cols.update(paired_gap=g.gap, paired_gap_ci95=list(g.ci95) if g.ci95 else None,
                    paired_precision=round(g.precision, 5) if g.precision is not None else None, rounds=g.rounds)
    return cols, flags


__all__ = ["PAIRED_ROW_KEYS", "PAIRING_MIXED", "all_paired", "config_gap_precision", "load_blocks", "pairing_columns", "DEFAULT_ROUND_S", "MIN_ROUNDS", "PairedGap", "VarianceShares", "blocks_by_time", "gap_precision",
           "paired_gap", "round_ratio", "variance_shares"]
