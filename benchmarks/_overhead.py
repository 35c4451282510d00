"""What the overhead benchmarks share: the ratio of two medians with a CI, two-sided bars,
interleaved A/B orders, and a monkeypatch that turns every periodic sampler off.

A *side* of a comparison is a list of groups: one group per page load (or native process),
the timed latencies of that load.  Its median is the median of all its latencies pooled; the
CI95 of the ratio A/B comes from a hierarchical bootstrap (pick groups with replacement, then
latencies inside each picked group), drawn independently for the two sides, seeded.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

N_BOOT = 2000


def pooled_median(groups: Sequence[Sequence[float]]) -> float:
    """Median of every latency of every group; NaN when there is none."""
    flat = [float(x) for g in groups for x in g if x is not None and math.isfinite(x)]
    return float(np.median(flat)) if flat else math.nan


def _boot_medians(groups: Sequence[Sequence[float]], rng: np.random.Generator, n_boot: int) -> np.ndarray:
    arrs = [np.asarray([x for x in g if x is not None and math.isfinite(x)], dtype=np.float64) for g in groups]
    arrs = [a for a in arrs if a.size]
    if not arrs:
        raise ValueError("no latencies to bootstrap")
    k = len(arrs)
    width = max(a.size for a in arrs)
    padded = np.full((k, width), np.nan)
    sizes = np.array([a.size for a in arrs])
    for i, a in enumerate(arrs):
        padded[i, :a.size] = a
    picks = rng.integers(0, k, size=(n_boot, k))                        # groups, with replacement
    u = rng.random((n_boot, k, width))
    idx = np.floor(u * sizes[picks][:, :, None]).astype(np.int64)       # inside each picked group
    cols = np.arange(width)[None, None, :]
    vals = padded[picks[:, :, None], idx]
    vals = np.where(cols < sizes[picks][:, :, None], vals, np.nan)      # a short group draws only its own size
    return np.nanmedian(vals.reshape(n_boot, -1), axis=1)


def ratio_ci(num: Sequence[Sequence[float]], den: Sequence[Sequence[float]], *, n_boot: int = N_BOOT,
             seed: int = 0) -> tuple[float, tuple[float, float]]:
    """(median(num) / median(den), CI95 of that ratio) by a hierarchical bootstrap of both sides."""
    rng = np.random.default_rng(seed)
    ratio = pooled_median(num) / pooled_median(den)
    boots = _boot_medians(num, rng, n_boot) / _boot_medians(den, rng, n_boot)
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return float(ratio), (float(lo), float(hi))


def paired_ratio_ci(num: Sequence[Sequence[float]], den: Sequence[Sequence[float]], *, n_boot: int = N_BOOT,
                    seed: int = 0, q: float = 0.5) -> tuple[float, tuple[float, float]]:
    """Paired loads (num[i] ran next to den[i]): the median over pairs of median(num[i]) / median(den[i]),
    and its CI95 (resample pairs, then latencies inside each load).  `q` < 0.5 compares a lower
    quantile of each load instead (e.g. 0.1: other jobs only ever add time, so a low quantile is
    the load's cost with the least interference; a diagnosis, not the bar).

    Robust to what a shared machine does: a burst of other jobs slows the two loads of one pair
    alike, or one load of one pair, and a median of pair ratios shrugs off a few such pairs, where
    a ratio of pooled medians moves with them."""
    if len(num) != len(den) or not num:
        raise ValueError("paired_ratio_ci needs the same number (>= 1) of loads on both sides")
    rng = np.random.default_rng(seed)
    a = [np.asarray(g, dtype=np.float64) for g in num]
    b = [np.asarray(g, dtype=np.float64) for g in den]
    if any(x.size == 0 for x in a + b):
        raise ValueError("a load without latencies")
    point = float(np.median([np.quantile(x, q) / np.quantile(y, q) for x, y in zip(a, b, strict=True)]))
    k = len(a)

    def boot_load_medians(g: np.ndarray) -> np.ndarray:
        return np.quantile(g[rng.integers(0, g.size, size=(n_boot, g.size))], q, axis=1)

    ratios = np.stack([boot_load_medians(x) / boot_load_medians(y) for x, y in zip(a, b, strict=True)], axis=1)
    picks = rng.integers(0, k, size=(n_boot, k))
    boots = np.median(np.take_along_axis(ratios, picks, axis=1), axis=1)
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return point, (float(lo), float(hi))


def abba(n_pairs: int) -> list[tuple[str, str]]:
    """Interleaved orders for `n_pairs` pairs: A B, B A, A B, ... (a linear drift cancels)."""
    return [("a", "b") if i % 2 == 0 else ("b", "a") for i in range(n_pairs)]


@dataclass(frozen=True)
class RangeBar:
    """A ratio that must lie within [lo, hi] (two-sided: too fast is as suspect as too slow).

    Prints like `_common.Bar` and has its `name` / `passed` / `line()`, so `Report` takes it."""

    name: str
    measured: float
    lo: float
    hi: float
    ci95: tuple[float, float] | None = None
    note: str = ""

    @property
    def passed(self) -> bool:
        return self.lo <= self.measured <= self.hi

    def line(self) -> str:
        ci = f" [CI95 {self.ci95[0]:.3f}-{self.ci95[1]:.3f}]" if self.ci95 else ""
        bar = f"{self.lo:g}-{self.hi:g}" if self.lo > 0 else f"<= {self.hi:g}"
        text = f"{self.name}: measured {self.measured:.3f}{ci}, bar {bar} ({'PASS' if self.passed else 'FAIL'})"
        return f"{text}  # {self.note}" if self.note else text


@contextlib.contextmanager
def samplers_off() -> Iterator[None]:
    """Every `Sampler` started inside the block runs no probe (benchmark-only switch).

    Targets import `Sampler` from `mobile_webinfer.probes.sampler` when a cell starts, so the
    local target's /proc memory sampler and a phone's dumpsys probes both become a sampler thread
    with nothing to run (it ends at once); the cell's code path is otherwise the same."""
    from mobile_webinfer.probes import sampler as mod

    real = mod.Sampler

    class NoProbeSampler(real):  # type: ignore[misc, valid-type]
        def __init__(self, device, probes, interval_s, sink, **kw):  # noqa: ANN001
            super().__init__(device, [], interval_s, sink, **kw)

    mod.Sampler = NoProbeSampler  # type: ignore[misc]
    try:
        yield
    finally:
        mod.Sampler = real  # type: ignore[misc]
