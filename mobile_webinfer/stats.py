"""Summaries that carry their uncertainty.

Latencies of one configuration come in *groups*: one group per page load (or native
process), many inferences each.  Page loads vary more than inferences within a page, so
confidence intervals use a hierarchical bootstrap (resample groups, then samples inside
each chosen group).  It is seeded, so a report is reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .vocab import Budget

MIN_SAMPLES = 10
N_BOOT = 2000


@dataclass(frozen=True)
class Summary:
    n: int
    groups: int
    median: float
    mean: float
    stdev: float
    cv: float
    p5: float
    p95: float
    min: float
    max: float
    ci95: tuple[float, float]
    between_group_cv: float | None
    boots: np.ndarray | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict:
        return {
            "n": self.n, "groups": self.groups, "median": self.median, "mean": self.mean,
            "stdev": self.stdev, "cv": self.cv, "p5": self.p5, "p95": self.p95,
            "min": self.min, "max": self.max, "ci95": list(self.ci95),
            "between_group_cv": self.between_group_cv,
        }


def _clean(groups: Sequence[Sequence[float] | np.ndarray]) -> list[np.ndarray]:
    out = []
    for g in groups:
        a = np.asarray([x for x in g if x is not None and math.isfinite(x)], dtype=np.float64)
        if a.size:
            out.append(a)
    return out


def bootstrap_medians(groups: Sequence[Sequence[float] | np.ndarray], *, n_boot: int = N_BOOT, seed: int = 0) -> np.ndarray:
    """Medians of `n_boot` hierarchical bootstrap resamples of `groups` (vectorised, seeded).

    Each resample picks len(groups) groups with replacement, then resamples the elements of
    every picked group; groups of unequal size are padded with NaN and skipped by nanmedian.
    """
    gs = _clean(groups)
    if not gs:
        return np.array([], dtype=np.float64)
    rng = np.random.default_rng(seed)
    k = len(gs)
    sizes = np.array([g.size for g in gs])
    nmax = int(sizes.max())
    table = np.full((k, nmax), np.nan)
    for i, g in enumerate(gs):
        table[i, : g.size] = g
    equal = bool((sizes == nmax).all())
    out = np.empty(n_boot, dtype=np.float64)
    chunk = max(1, int(2_000_000 // max(1, k * nmax)))
    for lo in range(0, n_boot, chunk):
        b = min(chunk, n_boot - lo)
        picks = rng.integers(0, k, size=(b, k)) if k > 1 else np.zeros((b, 1), dtype=np.int64)
        u = rng.random((b, k, nmax))
        idx = np.floor(u * sizes[picks][:, :, None]).astype(np.int64)
        vals = table[picks[:, :, None], idx]
        if not equal:  # slots beyond a picked group's own size stay empty
            vals = np.where(np.arange(nmax)[None, None, :] < sizes[picks][:, :, None], vals, np.nan)
        flat = vals.reshape(b, k * nmax)
        out[lo:lo + b] = np.median(flat, axis=1) if equal else np.nanmedian(flat, axis=1)
    return out


def summarize(groups: Sequence[Sequence[float]], *, seed: int = 0) -> Summary | None:
    """Summary of pooled samples with a hierarchical-bootstrap CI95 of the median."""
    gs = _clean(groups)
    if not gs:
        return None
    pooled = np.concatenate(gs)
    median = float(np.median(pooled))
    mean = float(pooled.mean())
    stdev = float(pooled.std(ddof=1)) if pooled.size > 1 else 0.0
    boots = bootstrap_medians(gs, seed=seed)
    ci = (float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5)))
    between = None
    if len(gs) > 1:
        meds = np.array([np.median(g) for g in gs])
        between = float(meds.std(ddof=1) / meds.mean()) if meds.mean() > 0 else None
    return Summary(
        n=int(pooled.size), groups=len(gs), median=median, mean=mean, stdev=stdev,
        cv=(stdev / mean) if mean > 0 else 0.0,
        p5=float(np.percentile(pooled, 5)), p95=float(np.percentile(pooled, 95)),
        min=float(pooled.min()), max=float(pooled.max()), ci95=ci, between_group_cv=between, boots=boots,
    )


def ratio_ci(num_groups, den_groups, *, seed: int = 0) -> tuple[float, float] | None:
    """CI95 of median(num) / median(den), bootstrapping both sides independently.

    Either side may be a Summary already computed (its bootstrap medians are reused)."""
    a = num_groups.boots if isinstance(num_groups, Summary) else bootstrap_medians(num_groups, seed=seed)
    b = den_groups.boots if isinstance(den_groups, Summary) else bootstrap_medians(den_groups, seed=seed + 1)
    if a is None or b is None:
        return None
    if isinstance(den_groups, Summary) and isinstance(num_groups, Summary):
        b = np.random.default_rng(seed + 1).permutation(b)  # the two sides independent
    if a.size == 0 or b.size == 0 or np.any(b <= 0):
        return None
    r = a / b
    return float(np.percentile(r, 2.5)), float(np.percentile(r, 97.5))


def stability_flags(s: Summary | None, groups: Sequence[Sequence[float]] = (), *,
                    precision: float = 0.02) -> list[str]:
    """Warnings in the pyperf spirit, calibrated: `unstable-between-loads` / `unstable-within-load`
    (see calibrated_flags: not every CV >= 10%, which the hierarchical CI already carries),
    `few-samples`."""
    if s is None:
        return []
    flags = calibrated_flags(groups, precision=precision) if groups else []
    if s.n < MIN_SAMPLES:
        flags.append("few-samples")
    return flags


# ---- adaptive run counts: the stopping rule (mirrored in pages/stopping.js) -----------------
#
# Within one page load (or native process) the timed loop stops once the CI95 of the median is
# tight enough.  The CI is the distribution-free order-statistic interval of the median: with n
# sorted samples, X(j) .. X(k) (1-based) with j = floor(n/2 - z*sqrt(n)/2), k = ceil(1 + n/2 +
# z*sqrt(n)/2) (the normal approximation to Binomial(n, 1/2)), clamped to 1..n.  It costs a sort,
# so the loop checks it at geometric checkpoints (every 5% more samples), not after every run.
# Warm-up ends when the moving median of the last `window` warm-up latencies differs from that
# of the `window` before by at most `drift` (relative).

Z95 = 1.959963984540054
CHECK_GROWTH = 1.05     # precision is checked when the sample count has grown by 5% (at least 1)
STOP_PRECISION = "precision"
STOP_COUNT = "count-ceiling"
STOP_TIME = "time-ceiling"
STOP_REASONS = (STOP_PRECISION, STOP_COUNT, STOP_TIME)


def median_ci_ranks(n: int) -> tuple[int, int]:
    """0-based indices (lo, hi) into n sorted samples of the order-statistic CI95 of the median."""
    if n <= 0:
        raise ValueError("no samples")
    half = Z95 * math.sqrt(n) / 2
    j = max(1, math.floor(n / 2 - half))
    k = min(n, math.ceil(1 + n / 2 + half))
    return j - 1, k - 1


def median_halfwidth_rel(xs: Sequence[float]) -> float | None:
    """Half the width of the order-statistic CI95 of the median, over the median (None: < 2 samples
    or a median of 0)."""
    ys = sorted(xs)
    n = len(ys)
    if n < 2:
        return None
    med = ys[n // 2] if n % 2 else (ys[n // 2 - 1] + ys[n // 2]) / 2
    if med <= 0:
        return None
    lo, hi = median_ci_ranks(n)
    return (ys[hi] - ys[lo]) / 2 / med


def next_check(n: int) -> int:
    """The sample count at which the precision is looked at next, after looking at `n`."""
    return max(n + 1, math.ceil(n * CHECK_GROWTH))


SLOW_FLOOR = 3  # timed runs a load keeps when its time ceiling came first (StopRule, pages/stopping.js)


@dataclass(frozen=True)
class StopRule:
    """When one page load / native process stops its timed loop.  `precision` 0: no early stop
    (the loop runs to a ceiling, as a fixed budget)."""

    precision: float = 0.02
    min_iterations: int = 10
    max_iterations: int = 2000
    min_time_s: float = 0.0
    max_time_s: float = 5.0

    def stop(self, xs: Sequence[float], elapsed_s: float, *, check: bool = True) -> str | None:
        """Why to stop now with the timed latencies `xs` after `elapsed_s`, or None to go on.
        `check`: look at the precision (the caller's checkpoint has come)."""
        n = len(xs)
        if n >= self.max_iterations:
            return STOP_COUNT
        if n < self.min_iterations:
            # A run slower than the time ceiling allows stops at SLOW_FLOOR (a median needs 3),
            # so `--max-time-per-cell` holds for multi-second inferences (software GPU); a fixed
            # budget (precision 0: studies, --precision 0) keeps its floor.
            if not (self.precision > 0 and n >= min(SLOW_FLOOR, self.min_iterations)
                    and elapsed_s >= self.max_time_s):
                return None
        if elapsed_s >= self.max_time_s:
            return STOP_TIME
        if check and self.precision > 0 and elapsed_s >= self.min_time_s:
            h = median_halfwidth_rel(xs)
            if h is not None and h <= self.precision:
                return STOP_PRECISION
        return None


def run_until(sample, rule: StopRule, clock) -> tuple[list[float], str, float | None]:
    """Draw latencies from `sample()` until `rule` says stop (`clock()` gives seconds).  Returns
    (latencies, stop reason, precision reached).  The one loop that host-native runs and the
    tests share; the page runs the same steps in pages/stopping.js."""
    xs: list[float] = []
    t0 = clock()
    due = rule.min_iterations
    while True:
        check = len(xs) >= due
        why = rule.stop(xs, clock() - t0, check=check)
        if why is not None:
            return xs, why, median_halfwidth_rel(xs)
        if check:
            due = next_check(len(xs))
        xs.append(sample())


def warmup_converged(ws: Sequence[float], window: int, drift: float) -> bool:
    """The moving median of the last `window` warm-ups moved by at most `drift` (relative) from
    that of the `window` before."""
    if window < 1 or len(ws) < 2 * window:
        return False
    a = float(np.median(ws[-window:]))
    b = float(np.median(ws[-2 * window:-window]))
    return b > 0 and abs(a - b) <= drift * b


@dataclass(frozen=True)
class WarmupRule:
    """Warm-up: at least `min_runs`, then until converged (see warmup_converged), at most
    `max_runs` or `max_time_s` (the time ceiling ends warm-up even below the floor, after one run).
    `max_runs == min_runs`: a fixed count, no time ceiling (converged is then not judged: None)."""

    min_runs: int = 10
    max_runs: int = 50
    window: int = 5
    drift: float = 0.05
    max_time_s: float = 10.0

    @property
    def adaptive(self) -> bool:
        return self.max_runs > self.min_runs

    def done(self, ws: Sequence[float], elapsed_s: float) -> bool:
        n = len(ws)
        if n >= self.max_runs or (self.adaptive and n >= 1 and elapsed_s >= self.max_time_s):
            return True
        if n < self.min_runs:
            return False
        return not self.adaptive or warmup_converged(ws, self.window, self.drift)

    def converged(self, ws: Sequence[float]) -> bool | None:
        return warmup_converged(ws, self.window, self.drift) if self.adaptive else None


def warm_up(call, rule: WarmupRule, clock) -> tuple[list[float], bool | None]:
    """Run `call()` as warm-up under `rule`; (warm-up latencies ms, converged)."""
    ws: list[float] = []
    t0 = clock()
    while not rule.done(ws, clock() - t0):
        t = clock()
        call()
        ws.append((clock() - t) * 1000)
    return ws, rule.converged(ws)


# ---- calibrated stability, outliers -------------------------------------------------------

OUTLIER_IQR = 3.0   # a latency above Q3 + 3 x IQR is an outlier: counted and shown, never dropped


def outlier_count(xs: Sequence[float]) -> int:
    """Latencies above Q3 + 3 x IQR (kept in every number; the report shows how many)."""
    a = np.asarray([x for x in xs if x is not None and math.isfinite(x)], dtype=np.float64)
    if a.size < 4:
        return 0
    q1, q3 = np.percentile(a, [25, 75])
    return int((a > q3 + OUTLIER_IQR * (q3 - q1)).sum())


def ci_precision(s: Summary | None) -> float | None:
    """Half the width of the summary's CI95 of the median, over the median."""
    if s is None or s.median <= 0:
        return None
    return (s.ci95[1] - s.ci95[0]) / 2 / s.median


@dataclass(frozen=True)
class Noise:
    """Spread of one configuration at its two levels: within a page load (the median's own
    sampling error there) and between page loads (the spread of their medians)."""

    groups: int
    between_cv: float | None     # CV of the per-load medians
    expected_cv: float | None    # what within-load sampling error alone would give them
    within_cv: float | None      # pooled CV of the latencies inside the loads


def _robust_cv(g: np.ndarray) -> float | None:
    """IQR / 1.349 over the median: the CV of the bulk, which outliers (kept) do not inflate."""
    med = float(np.median(g))
    if g.size < 4 or med <= 0:
        return None
    q1, q3 = np.percentile(g, [25, 75])
    return float(q3 - q1) / 1.349 / med


def noise_levels(groups: Sequence[Sequence[float]]) -> Noise:
    """Robust spreads (IQR-based): a few outliers, counted and kept, do not make a level noisy."""
    gs = _clean(groups)
    if not gs:
        return Noise(0, None, None, None)
    meds = np.array([float(np.median(g)) for g in gs])
    within = [c for c in (_robust_cv(g) for g in gs) if c is not None]
    within_cv = float(np.sqrt(np.mean(np.square(within)))) if within else None
    if len(gs) < 2 or meds.mean() <= 0:
        return Noise(len(gs), None, None, within_cv)
    # standard error of a median from n samples ~ 1.2533 x sd / sqrt(n) (normal approximation)
    se = [1.2533 * c / math.sqrt(g.size) for g in gs if (c := _robust_cv(g)) is not None]
    expected = float(np.sqrt(np.mean(np.square(se)))) if se else None
    return Noise(len(gs), float(meds.std(ddof=1) / meds.mean()), expected, within_cv)


#: between-load CV this many times what within-load sampling explains, and above 2 x precision
BETWEEN_RATIO = 3.0
WITHIN_CV_UNSTABLE = 0.25


def calibrated_flags(groups: Sequence[Sequence[float]], *, precision: float = 0.02) -> list[str]:
    """Flags only where the noise is beyond what the hierarchical CI covers, naming the level:
    `unstable-between-loads` when the spread of per-load medians is both > 2 x precision and
    > BETWEEN_RATIO x what within-load sampling error explains (the loads disagree: drift, JIT,
    heat); `unstable-within-load` when latencies inside the loads scatter with a robust CV
    (IQR / 1.349 / median) >= 25% (a bimodal or jittery run: the median means little)."""
    nz = noise_levels(groups)
    flags = []
    if nz.between_cv is not None and nz.expected_cv is not None and nz.between_cv > 2 * precision \
            and nz.between_cv > BETWEEN_RATIO * max(nz.expected_cv, 1e-9):
        flags.append("unstable-between-loads")
    if nz.within_cv is not None and nz.within_cv >= WITHIN_CV_UNSTABLE:
        flags.append("unstable-within-load")
    return flags


def stop_rule(budget: Budget, *, native: bool = False) -> StopRule:
    """A cell's timed-loop rule from its budget (natively the floor is also >= native_min runs and
    seconds, as TFLite's benchmark_model does; both ceilings still win)."""
    floor = max(budget.min_iterations, budget.native_min_iterations) if native else budget.min_iterations
    floor = min(floor, budget.iterations)
    return StopRule(precision=max(0.0, budget.precision), min_iterations=floor, max_iterations=budget.iterations,
                    min_time_s=min(budget.native_min_time_s, budget.time_budget_s) if native else 0.0,
                    max_time_s=budget.time_budget_s)


def warmup_rule(budget: Budget) -> WarmupRule:
    return WarmupRule(min_runs=budget.warmups, max_runs=max(budget.warmups, budget.max_warmups),
                      window=budget.warmup_window, drift=budget.warmup_drift, max_time_s=budget.time_budget_s)


def summary_precision(summary: Mapping[str, Any] | None) -> float | None:
    """benchmark_model prints {count, std, median|avg}, not its runs: the median's CI95 half-width
    over the median from the normal approximation (1.96 x 1.2533 x std / sqrt(count) / median)."""
    s = summary or {}
    n, sd, med = s.get("count"), s.get("std"), s.get("median") or s.get("avg")
    if not isinstance(n, int) or n < 2 or not isinstance(sd, (int, float)) or not isinstance(med, (int, float)) \
            or med <= 0:
        return None
    return Z95 * 1.2533 * float(sd) / math.sqrt(n) / float(med)
