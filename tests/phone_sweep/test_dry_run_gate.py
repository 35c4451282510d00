"""A phone's `--dry-run` estimate says what the cool-down gate will cost, from its battery now (issue 23)."""

from __future__ import annotations

import re

import pytest

from tests.sweep_helpers import run_mwi

pytestmark = pytest.mark.browser


def _estimate(serial: str) -> tuple[float, str]:
    p = run_mwi("sweep", "--target", serial, "--models", "tiny_cnn", "--runtimes", "tfjs", "--backends", "wasm",
                "--threads", "1", "--repeats", "1", "--no-native", "--browsers", "com.android.chrome", "--dry-run",
                timeout=120)
    last = p.stdout.strip().splitlines()[-1]
    return float(re.search(r"estimated ([\d.]+) min", last).group(1)), last


def test_dry_run_estimate_includes_the_cool_down_gate(fake_phone):
    cool, line = _estimate(fake_phone("pixel").serial)
    assert "cool-down gate" in line and "up to 10 min if a phone never cools" in line, line
    hot, line = _estimate(fake_phone("pixel", battery_temp_c=41.0).serial)
    assert "41 C now" in line, line
    assert hot - cool == pytest.approx(6.0, abs=0.2)  # 6 C over the 35 C limit at ~1 C/min
