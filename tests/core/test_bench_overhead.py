"""The overhead benchmarks' ratio helpers (benchmarks/_overhead.py): pure logic, nothing timed."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks._overhead import RangeBar, abba, paired_ratio_ci, pooled_median, ratio_ci


def _groups(rng: np.random.Generator, center: float, k: int = 6, n: int = 30) -> list[np.ndarray]:
    return [rng.normal(center, 0.02 * center, n) for _ in range(k)]


def test_ratio_of_known_medians_and_ci_covers_it():
    rng = np.random.default_rng(3)
    num, den = _groups(rng, 11.0), _groups(rng, 10.0)
    for fn in (ratio_ci, paired_ratio_ci):
        r, (lo, hi) = fn(num, den)
        assert r == pytest.approx(1.1, rel=0.01)
        assert lo < 1.1 < hi and hi - lo < 0.05
        assert fn(num, den) == (r, (lo, hi))  # seeded: the same numbers every time


def test_paired_ratio_shrugs_off_one_slow_pair():
    rng = np.random.default_rng(4)
    num, den = _groups(rng, 10.0), _groups(rng, 10.0)
    num[2] = num[2] * 1.5  # a burst of other jobs during one load
    assert paired_ratio_ci(num, den)[0] == pytest.approx(1.0, abs=0.02)
    assert pooled_median(num) > pooled_median(den)


def test_unequal_group_sizes_and_bad_input():
    rng = np.random.default_rng(5)
    num = [rng.normal(10, 0.1, 5), rng.normal(10, 0.1, 40)]
    r, (lo, hi) = ratio_ci(num, [rng.normal(10, 0.1, 30)])
    assert lo <= r <= hi
    with pytest.raises(ValueError):
        paired_ratio_ci(num, [rng.normal(10, 0.1, 30)])


def test_abba_and_range_bar():
    assert abba(4) == [("a", "b"), ("b", "a"), ("a", "b"), ("b", "a")]
    assert RangeBar("x_ratio", 1.02, 0.97, 1.03).passed
    assert not RangeBar("x_ratio", 0.96, 0.97, 1.03).passed
    line = RangeBar("x_ratio", 1.05, 0.0, 1.03, (1.01, 1.09), note="why").line()
    assert line == "x_ratio: measured 1.050 [CI95 1.010-1.090], bar <= 1.03 (FAIL)  # why"
