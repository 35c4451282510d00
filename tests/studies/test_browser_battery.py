"""A battery study of a browser runtime on the fake phone, whose heat / charge model feels its
Chromium's CPU time (issue 23): the drain beyond idle is what the model charged for the browser's
load beyond idle; on a static fake (a charge counter that never moves) only an upper bound is given."""

from __future__ import annotations

import bisect

import pytest

from mobile_webinfer.records import CellRecord
from mobile_webinfer.studies.derive import BELOW_DETECTION_LIMIT, inferences_in, latency_points, samples_of
from mobile_webinfer.studies.run import run_study
from mobile_webinfer.studies.spec import StudySpec, parse_runs
from mobile_webinfer.studies.summary import summarize
from mobile_webinfer.store import RunStore

pytestmark = pytest.mark.browser
SCALE = 1.0  # the browser's CPU time is real; a fast clock would stretch the readings' own latency with it


def _spec(serial: str, bm, duration: float = 8.0, runs: str = "tfjs/wasm") -> StudySpec:
    return StudySpec(kind="battery", target=serial, model="tiny_cnn", runs=parse_runs(runs),
                     duration_s=duration, benchmark_model=str(bm), time_scale=SCALE, cooldown_timeout_s=5,
                     sample_interval_s=0.3)  # enough charge readings in an 8 s run for five CI slices


def _browser_uah_at(log: list[list[float]], counter: float) -> float:
    """What the model had charged for the browser when its counter read `counter` (it only falls)."""
    charges = [-c for _t, _b, c in log]
    i = min(max(1, bisect.bisect_left(charges, -counter)), len(log) - 1)
    (_, b0, c0), (_, b1, c1) = log[i - 1], log[i]
    return b0 + (b1 - b0) * ((c0 - counter) / (c0 - c1) if c0 != c1 else 0.0)


def _charged_between(log, rows, key, phase, window=None) -> tuple[float, float]:
    """(uAh charged for the browser between the first and last charge reading of a phase, within the
    study's window when given; their span s)."""
    rc = [(s.t_s, s.charge_uah) for s in samples_of(rows, key, phase=phase) if s.ok and s.charge_uah is not None
          and (window is None or window[0] <= s.t_s <= window[1])]
    return _browser_uah_at(log, rc[-1][1]) - _browser_uah_at(log, rc[0][1]), rc[-1][0] - rc[0][0]


def test_browser_battery_drain_beyond_idle_is_what_the_model_charged(fake_phone, tmp_path, monkeypatch, bm_binary):
    monkeypatch.setenv("MWI_CACHE", str(tmp_path / "cache"))
    phone = fake_phone("pixel", heat_model=True, time_scale=SCALE)
    said: list[str] = []
    out = run_study(_spec(phone.serial, bm_binary), out_root=tmp_path / "out", say=said.append)
    assert not out.partial, out.reason
    assert any("with the page open" in m for m in said), said
    (s,) = summarize(out.store.run_dir)
    log = phone.control.browser_charge_log()
    rows = RunStore.open(out.store.run_dir).samples()
    run_charged, run_span = _charged_between(log, rows, s_key(out), "run", s["charge_window_s"])
    idle_charged, idle_span = _charged_between(log, rows, "idle", "idle")
    charged_beyond_idle = run_charged - idle_charged / idle_span * run_span
    drain_beyond_idle = s["charge_drop_uah"] - s["idle_drop_uah"]
    assert charged_beyond_idle > 0.3 * s["charge_drop_uah"], (charged_beyond_idle, s)  # the browser was felt
    assert drain_beyond_idle == pytest.approx(charged_beyond_idle, rel=0.10), (drain_beyond_idle, charged_beyond_idle)
    # what is published about the energy per inference is true of what the model charged: a CI95 that
    # holds it, or (readings too noisy to tell it from idle) an upper bound above it, flagged
    (raw,) = RunStore.open(out.store.run_dir).results()
    rec = CellRecord.from_json(raw)
    study = rec.extra["study"]
    points = latency_points(rec, offset_s=float(study.get("offset_s") or 0.0), scale=SCALE)
    n_span = inferences_in(points, *s["charge_window_s"])
    implied = charged_beyond_idle * 3.6 * s["voltage_v"] / n_span
    if s["energy_mj_per_inference"] is not None:
        lo, hi = s["energy_ci95"]
        assert s["energy_flags"] == [] and 0 < lo <= implied * 1.1 and hi >= implied * 0.9, (implied, s["energy_ci95"])
    else:
        assert s["energy_flags"] == [BELOW_DETECTION_LIMIT] and s["energy_upper_bound_mj"] >= implied * 0.9, (
            implied, s["energy_upper_bound_mj"])
    assert phone.control.heat()["browser_util"] is not None


def s_key(out) -> str:
    (rec,) = RunStore.open(out.store.run_dir).results()
    return rec["key"]


def test_static_fake_gives_an_upper_bound_and_a_flag(fake_phone, tmp_path, monkeypatch, bm_binary):
    monkeypatch.setenv("MWI_CACHE", str(tmp_path / "cache"))
    phone = fake_phone("pixel")  # no heat / charge model: the counter never moves
    said: list[str] = []
    out = run_study(_spec(phone.serial, bm_binary, duration=3.0, runs="tflite-native/xnnpack"),
                    out_root=tmp_path / "out", say=said.append)
    assert not any("page open" in m for m in said) and any(m.startswith("idle baseline") for m in said), said
    (s,) = summarize(out.store.run_dir)
    assert s["energy_mj_per_inference"] is None and s["energy_ci95"] is None, s
    assert s["energy_flags"] == [BELOW_DETECTION_LIMIT] and s["energy_upper_bound_mj"] > 0, {k: s[k] for k in s if "energy" in k or "drop" in k or "window" in k or k == "inferences"}
    assert "at 95 %" in s["energy_note"]
