"""The cool-down gate's faults that are not heat (issue 22 item 2), on the fake phone: each is told
apart in seconds, never by waiting out the bound."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from mobile_webinfer.records import Context
from mobile_webinfer.targets.android.gate import GateState, battery_gate, gate, read_thermal
from mobile_webinfer.targets.cooldown import CooldownPolicy, GateFault, GateReading, PhoneNeverCools, wait_cool

pytestmark = pytest.mark.skipif(not Path("/usr/bin/adb").exists(), reason="needs Debian's adb")


def _dev(phone):
    from mobile_webinfer.adb import Device

    return Device(phone.serial)


def test_a_sensor_at_severe_holds_the_gate_although_the_global_status_is_none(adb_server, fake_phone):
    phone = fake_phone("galaxy", in_process=True, battery_temp_c=30.0)
    phone.control.set_fault("sensor_status", {"SKIN": 3})
    r = read_thermal(_dev(phone))
    assert r.global_status == 0 and r.status == 3 and r.hot_sensors == ("SKIN=3 (SEVERE)",)
    notes: list[str | None] = []
    res = wait_cool(lambda: read_thermal(_dev(phone)), CooldownPolicy(timeout_s=0.5, first_interval_s=0.2),
                    on_wait=notes.append)
    assert not res.ok and "SKIN=3 (SEVERE)" in (res.reason or "") and "global 0" in (res.reason or "")
    assert any(n and "SKIN=3" in n for n in notes) and notes[-1] is None  # said while waiting, cleared after
    phone.control.set_fault("sensor_status", None)
    assert read_thermal(_dev(phone)).status == 0


def test_no_thermal_service_is_judged_on_the_battery_at_once_and_flagged(adb_server, fake_phone):
    phone = fake_phone("galaxy", in_process=True, battery_temp_c=30.0)
    phone.control.set_fault("no_thermal_service", True)
    t0 = time.monotonic()
    ctx, skipped = gate(_dev(phone), CooldownPolicy(timeout_s=600, min_battery_pct=0), threading.Event(), GateState())
    assert time.monotonic() - t0 < 10 and skipped is None  # not the 600 s bound
    assert "thermal-unavailable" in ctx.cooldown["thermal_unavailable"] and ctx.cooldown["ok"] is True
    from mobile_webinfer.records import CellRecord
    from mobile_webinfer.sweep.policy import cell_flags, validity
    from mobile_webinfer.vocab import Cell

    cell = Cell(target=phone.serial, browser="com.android.chrome", model="tiny_cnn", runtime="tfjs", backend="wasm",
                threads=1, repeat=1)
    rec = CellRecord(status="ok", context=ctx)
    flags = cell_flags(cell, rec)
    assert "thermal-unavailable" in flags and validity(flags, measured=True) == ("flagged", ["thermal-status-unknown"])


def test_a_profile_without_thermal_service_never_asks_for_it(adb_server, fake_phone):
    import dataclasses

    from mobile_webinfer.adb.profiles import load_profiles

    phone = fake_phone("galaxy", in_process=True, battery_temp_c=30.0)
    dev = _dev(phone)
    dev.profile = dataclasses.replace(next(iter(load_profiles())), thermal_source="battery")
    before = sum(1 for c in phone.commands if "thermalservice" in c)
    r = read_thermal(dev)
    assert r.thermal_unavailable and "thermal.source = battery" in r.thermal_unavailable and r.battery_c == 30.0
    assert sum(1 for c in phone.commands if "thermalservice" in c) == before


def test_a_hung_adb_read_is_a_gate_fault_in_seconds(adb_server, fake_phone):
    phone = fake_phone("galaxy", in_process=True, hang_on=["dumpsys thermalservice"])
    t0 = time.monotonic()
    with pytest.raises(GateFault, match="gate-fault: `dumpsys thermalservice` did not answer within 2 s"):
        gate(_dev(phone), CooldownPolicy(timeout_s=600, read_timeout_s=2), threading.Event(), GateState())
    assert time.monotonic() - t0 < 20


def test_a_phone_that_never_cools_is_given_up_after_max_bounds(adb_server, fake_phone):
    phone = fake_phone("galaxy", in_process=True, battery_temp_c=41.0)
    state, pol = GateState(), CooldownPolicy(timeout_s=0.5, first_interval_s=0.2, max_bounds=2, min_battery_pct=0)
    ctx, _ = gate(_dev(phone), pol, threading.Event(), state)  # the first bound: flagged, the cell runs
    assert ctx.never_cooled and state.bounds_in_a_row == 1
    with pytest.raises(PhoneNeverCools, match=r"phone-never-cools: .*battery 41 C > 35 C \(2 bounds in a row"):
        gate(_dev(phone), pol, threading.Event(), state)
    phone.control.set_fault("battery_temp_c", 30.0)  # a cool gate resets the count
    ctx, _ = gate(_dev(phone), pol, threading.Event(), state)
    assert not ctx.never_cooled and state.bounds_in_a_row == 0


def test_a_study_gate_is_not_waited_again_by_the_measurement(adb_server, fake_phone):
    phone = fake_phone("galaxy", in_process=True, battery_temp_c=30.0)
    state = GateState(pregated=Context(cooldown_s=1.5, cooldown={"ok": True}))
    n = len(phone.commands)
    ctx, skipped = gate(_dev(phone), CooldownPolicy(), threading.Event(), state)
    assert ctx.cooldown_s == 1.5 and skipped is None and len(phone.commands) == n and state.pregated is None


def test_low_battery_not_charging_is_skipped_at_once_as_infra(adb_server, fake_phone):
    phone = fake_phone("galaxy", in_process=True, battery_temp_c=30.0)
    phone.adb("shell", "dumpsys", "battery", "set", "level", "18")
    phone.adb("shell", "dumpsys", "battery", "unplug")
    t0 = time.monotonic()
    _ctx, rec = battery_gate(_dev(phone), CooldownPolicy(timeout_s=600), threading.Event(), Context())
    assert time.monotonic() - t0 < 10
    assert rec is not None and rec.status == "skipped" and rec.infra is True and "not charging" in (rec.error or "")
    phone.adb("shell", "dumpsys", "battery", "set", "ac", "1")  # charging: waited for (bounded), not infra
    _ctx, rec = battery_gate(_dev(phone), CooldownPolicy(timeout_s=1, first_interval_s=0.3), threading.Event(),
                             Context())
    assert rec is not None and rec.infra is None and "after waiting" in (rec.error or "")


def test_the_heartbeat_says_what_the_gate_waits_for():
    import io

    from rich.console import Console

    from mobile_webinfer.progress import SweepProgress, set_waiting
    from mobile_webinfer.vocab import Cell

    buf = io.StringIO()
    p = SweepProgress(Console(file=buf, force_terminal=False), interval_s=3600, heartbeat_s=0.05)
    cell = Cell(target="S1", browser="com.android.chrome", model="tiny_cnn", runtime="tfjs", backend="wasm",
                threads=1, repeat=1)
    p.start(total=1)
    p.on_start(cell)
    reading = GateReading(0, 41.2, global_status=0)
    set_waiting(reading.waiting_for(CooldownPolicy()))
    time.sleep(0.3)
    set_waiting(None)
    p.finish()
    assert f"running for 0:00:00: {cell.key}; waiting: battery 41.2 C > 35 C" in buf.getvalue()


@pytest.mark.parametrize(("temp_c", "flagged"), [(6553.5, True), (-5.0, False)])
def test_an_impossible_battery_temperature_is_no_reading_a_cold_one_is(adb_server, fake_phone, temp_c, flagged):
    """>= 100 C (a sentinel, an undeclared unit) is judged on the thermal status alone, at once, and the
    cell flagged; -5 C is a real cold phone: cool, unflagged."""
    phone = fake_phone("galaxy", in_process=True, battery_temp_c=temp_c)
    t0 = time.monotonic()
    ctx, skipped = gate(_dev(phone), CooldownPolicy(timeout_s=600, min_battery_pct=0), threading.Event(), GateState())
    assert time.monotonic() - t0 < 10 and skipped is None and ctx.cooldown["ok"] is True
    from mobile_webinfer.records import CellRecord
    from mobile_webinfer.sweep.policy import cell_flags
    from mobile_webinfer.targets.android.samples import summarize_samples
    from mobile_webinfer.vocab import Cell

    cell = Cell(target=phone.serial, browser="com.android.chrome", model="tiny_cnn", runtime="tfjs", backend="wasm",
                threads=1, repeat=1)
    assert ("battery-temp-implausible" in cell_flags(cell, CellRecord(status="ok", context=ctx))) is flagged
    assert (ctx.battery_temp_start_c is None) is flagged
    rows = [{"probe": "battery", "ok": True, "data": {"temperature_c": temp_c}}]
    assert summarize_samples(rows, ctx).battery_temp_max_c == (None if flagged else temp_c)


def test_a_phone_charging_too_slowly_is_waited_for_once(adb_server, fake_phone):
    phone = fake_phone("galaxy", in_process=True, battery_temp_c=30.0)
    phone.adb("shell", "dumpsys", "battery", "set", "level", "18")  # charging (AC), but never gets there
    state, pol = GateState(), CooldownPolicy(timeout_s=1, first_interval_s=0.3)
    _ctx, rec = battery_gate(_dev(phone), pol, threading.Event(), Context(), state=state)
    assert rec is not None and not rec.infra and "after waiting" in (rec.error or "")
    t0 = time.monotonic()
    _ctx, rec = battery_gate(_dev(phone), CooldownPolicy(timeout_s=600), threading.Event(), Context(), state=state)
    assert time.monotonic() - t0 < 10 and rec is not None and rec.infra is True
    assert "not waited again" in (rec.error or "")
    phone.adb("shell", "dumpsys", "battery", "set", "level", "80")
    _ctx, rec = battery_gate(_dev(phone), pol, threading.Event(), Context(), state=state)
    assert rec is None and state.charge_bounds == 0


def test_a_profiles_thermal_source_is_checked(tmp_path):
    from mobile_webinfer.adb.profiles import load_profile
    from mobile_webinfer.errors import MwiError

    src = Path(__file__).resolve().parents[2] / "device_profiles" / "default.toml"
    text = src.read_text()
    assert 'source = "thermalservice"' in text
    ok, bad = tmp_path / "ok.toml", tmp_path / "bad.toml"
    ok.write_text(text.replace('source = "thermalservice"', 'source = "battery"'))
    bad.write_text(text.replace('source = "thermalservice"', 'source = "sysfs-guess"'))
    assert load_profile(ok).thermal_source == "battery"
    with pytest.raises(MwiError, match="thermal.source must be one of thermalservice, battery"):
        load_profile(bad)
