"""Study figures from synthetic rows (pure): durations, runs, start/end medians, energy."""

import pytest

from mobile_webinfer.errors import UsageError
from mobile_webinfer.studies.derive import Point, Sample, charging_seen, energy, start_end, time_to_throttle
from mobile_webinfer.studies.spec import parse_duration, parse_runs


def test_durations_and_runs():
    assert parse_duration("60s") == 60 and parse_duration("10m") == 600 and parse_duration("90") == 90
    for bad in ("", "10x", "0s", "-1m", "25h"):
        with pytest.raises(UsageError):
            parse_duration(bad)
    runs = parse_runs("tfjs/wasm,tflite-native/xnnpack,ort/wasm@2")
    assert [r.label for r in runs] == ["tfjs/wasm", "tflite-native/xnnpack", "ort/wasm@2"]
    assert runs[1].native and runs[2].threads == 2
    for bad in ("tfjs", "tfjs/gpu", "tflite-native/webgl", "nope/wasm", "tfjs/wasm,tfjs/wasm", ""):
        with pytest.raises(UsageError):
            parse_runs(bad)


def test_start_end_fifth_and_minute():
    pts = [Point(t, 10.0 if t < 20 else 20.0) for t in range(100)]  # slower after 20 s
    start, end, window = start_end(pts)
    assert (start, end, window) == (10.0, 20.0, pytest.approx(19.8))
    long = [Point(t, 10.0 if t < 60 else 15.0) for t in range(0, 600)]
    assert start_end(long)[2] == 60.0 and start_end(long)[:2] == (10.0, 15.0)


def test_time_to_throttle():
    s = [Sample(t, "thermal", True, status=st) for t, st in ((0, 0), (5, 0), (10, 1), (15, 2))]
    assert time_to_throttle(s) == 10
    assert time_to_throttle(s[:2]) is None


def test_energy_matches_a_known_drain():
    # idle 100 uAh/s; run 100 uAh/s + 2 uAh per inference at 50 inferences/s, 4 V -> 2 uAh x 3.6 x 4 = 28.8 mJ
    run = [Sample(float(t), "battery", True, charge_uah=1e6 - 100 * t - 2 * 50 * t, voltage_mv=4000) for t in range(61)]
    idle = [Sample(float(t), "battery", True, charge_uah=2e6 - 100 * t, voltage_mv=4000) for t in range(61)]
    pts = [Point(t / 50, 5.0) for t in range(3000)]
    e = energy(run, idle, pts)
    assert e.mj_per_inference == pytest.approx(28.8, rel=1e-3)
    assert e.mah_per_1000 == pytest.approx(2.0, rel=1e-3)
    assert e.ci95 is not None and e.ci95[0] <= e.mj_per_inference <= e.ci95[1]
    assert not charging_seen(run)
    rising = [Sample(float(t), "battery", True, charge_uah=1e6 + 10 * t) for t in range(5)]
    assert charging_seen(rising)


def test_energy_ci_from_the_runs_own_slope_when_slices_are_too_sparse():
    # three charge readings over 60 s (a slow sampler): of the two 30 s slices only one holds two readings, so
    # the CI comes from the whole run's slope and its standard error; the counter's steps (jitter) give it a width
    jitter = [0.0, 30.0, -20.0]
    ts = [0.0, 25.0, 60.0]
    run = [Sample(t, "battery", True, charge_uah=1e6 - 200 * t + j, voltage_mv=4000) for t, j in zip(ts, jitter, strict=True)]
    idle = [Sample(float(t), "battery", True, charge_uah=2e6 - 100 * t, voltage_mv=4000) for t in range(61)]
    pts = [Point(t / 50, 5.0) for t in range(3000)]
    e = energy(run, idle, pts, segments=5)
    assert e.mj_per_inference == pytest.approx(28.8, rel=0.05)
    assert e.ci95 is not None and e.ci95[0] < e.mj_per_inference < e.ci95[1] and e.ci95[1] - e.ci95[0] < 10
    exact = [Sample(t, "battery", True, charge_uah=1e6 - 200 * t, voltage_mv=4000) for t in ts]
    assert energy(exact, idle, pts, segments=5).ci95 is None   # a perfect line: no width to claim
