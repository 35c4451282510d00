"""Summaries that carry their uncertainty.

Latencies of one configuration come in *groups*: one group per page load (or native
process), many inferences each.  Page loads vary more than inferences within a page, so
confidence intervals use a hierarchical bootstrap (resample groups, then samples inside
each chosen group).  It is seeded, so a report is reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

CV_UNSTABLE = 0.10
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


def stability_flags(s: Summary | None) -> list[str]:
    """Warnings in the pyperf spirit: unstable, too few samples."""
    if s is None:
        return []
    flags = []
    if s.cv >= CV_UNSTABLE or (s.between_group_cv is not None and s.between_group_cv >= CV_UNSTABLE):
        flags.append("unstable-cv>=10%")
    if s.n < MIN_SAMPLES:
        flags.append("few-samples")
    return flags
