"""The drifting fake phone's pieces (issue 21): its speed schedule and benchmark_model slowed by it."""

from __future__ import annotations

import re

import pytest

from mobile_webinfer.models.manifest import load_manifest
from tests.fakephone.bench import parse_args, run
from tests.fakephone.drift import parse_schedule, speed_at
from tests.fakephone.faults import Faults


def test_schedule_parses_and_steps():
    steps = parse_schedule("0.6@20, 1.0@0")
    assert steps == [(0.0, 1.0), (20.0, 0.6)]
    assert speed_at(steps, 5) == 1.0 and speed_at(steps, 20) == 0.6 and speed_at(steps, 99) == 0.6
    with pytest.raises(ValueError):
        parse_schedule("1.5@0")
    f = Faults()
    assert f.current_speed() == 1.0
    f.set("drift", "0.5@0")
    assert f.current_speed() == 0.5
    with pytest.raises(ValueError):
        f.set("drift", "fast")


def _avg_us(text: str) -> float:
    return float(re.search(r"Inference \(avg\): (\d+)", text).group(1))


def test_benchmark_model_slows_by_the_phones_speed():
    mf = load_manifest("tiny_cnn")
    if mf is None:  # built by the first test that needs it (the build imports TensorFlow: slow)
        from mobile_webinfer.models.build import ensure_built

        mf = ensure_built("tiny_cnn")
    model = mf.file("tflite")
    args = parse_args([f"--graph={model}", "--num_runs=200", "--min_secs=0", "--warmup_runs=5", "--warmup_min_secs=0"])
    f = Faults()
    steady, _ = run(args, str(model), str(model))
    f.set("drift", "0.5@0")
    slow, _ = run(args, str(model), str(model), slowdown=lambda: 1 / f.current_speed())
    assert _avg_us(slow) > 1.5 * _avg_us(steady)
