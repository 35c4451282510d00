"""`--dry-run` estimates include the cool-down gate's expected waits (issue 23)."""

from __future__ import annotations

import pytest

from mobile_webinfer.sweep.spec import COOLING_C_PER_S, GATE_CHECK_S, estimate_gate_seconds
from mobile_webinfer.vocab import Budget, Cell


def _cells(target: str, n: int) -> list[Cell]:
    return [Cell(target, "com.android.chrome", "tiny_cnn", "tfjs", "wasm", 1, r) for r in range(n)]


def test_gate_estimate_from_the_battery_now_and_each_cells_warming():
    b = Budget()
    assert estimate_gate_seconds(_cells("local", 3), b, {}, {}) is None  # no gate on this computer
    cool = estimate_gate_seconds(_cells("P1", 4), b, {"max_battery_c": 35.0, "timeout_s": 600.0}, {"P1": 30.0})
    hot = estimate_gate_seconds(_cells("P1", 4), b, {"max_battery_c": 35.0, "timeout_s": 600.0}, {"P1": 41.0})
    assert cool is not None and hot is not None
    assert cool.expected_s == pytest.approx(4 * GATE_CHECK_S)  # a cool phone: the readings only
    assert hot.expected_s == pytest.approx(cool.expected_s + 6.0 / COOLING_C_PER_S + 4 * b.time_budget_s, rel=0.01)
    assert hot.worst_s == pytest.approx(4 * (GATE_CHECK_S + 600.0)) and "41 C now" in hot.how
    capped = estimate_gate_seconds(_cells("P1", 1), b, {"max_battery_c": 35.0, "timeout_s": 60.0}, {"P1": 50.0})
    assert capped is not None and capped.expected_s <= 2 * 60.0 + GATE_CHECK_S  # never past the timeout
