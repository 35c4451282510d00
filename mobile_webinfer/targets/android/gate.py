"""The cool-down gate of a phone (its recovery after it dropped away: recovery.py)."""

from __future__ import annotations

import dataclasses
import threading
import time

from ...adb.device import Device
from ...errors import MwiError, device_gone
from ...records import CellRecord, Context
from ..contract import check_stop
from ..cooldown import CooldownPolicy, CooldownResult, wait_cool


def read_thermal(dev: Device) -> tuple[int | None, float | None]:
    """(thermal status, battery temperature C) now; a reading that fails is None, but a phone
    that went away raises (device_gone) so that the gate never waits out its bound on it."""
    status = temp = None
    try:
        status = getattr(dev.thermal_status(), "status", None)
    except MwiError as exc:
        if device_gone(exc):
            raise
    try:
        temp = getattr(dev.battery(), "temperature_c", None)
        prof = dev.profile
        if temp is not None and prof is not None and getattr(prof, "battery_temperature_unit", "decicelsius") \
                != "decicelsius":
            temp = round(temp * 10.0 / prof.battery_temperature_divisor, 2)
    except MwiError as exc:
        if device_gone(exc):
            raise
    return status, temp


def gate(dev: Device, policy: CooldownPolicy, stop: threading.Event) -> tuple[Context, CellRecord | None]:
    """The cool-down gate before a cell: the context stored with it, and the record when the
    policy skips a phone that never cooled (the sweep flags `phone-never-cooled` from the context).
    The stop event ends the wait at once (raising `Stopped`)."""
    def pause(seconds: float) -> None:
        stop.wait(seconds)  # a stop ends the pause at once

    res: CooldownResult = wait_cool(lambda: read_thermal(dev), policy, stop=stop.is_set, sleep=pause)
    check_stop(stop)
    ctx = Context(cooldown_s=res.waited_s, cooldown=res.to_json(), battery_temp_start_c=res.battery_temp_c,
                  thermal_status_start=res.thermal_status)
    if not res.ok and policy.on_timeout == "skip":
        return ctx, CellRecord.failed(res.reason or "phone never cooled", "too-hot", status="skipped", context=ctx)
    return battery_gate(dev, policy, stop, ctx)


def read_charge(dev: Device) -> tuple[float | None, bool | None]:
    """(battery level %, charging) now; None where the phone does not say."""
    try:
        b = dev.battery()
    except MwiError as exc:
        if device_gone(exc):
            raise
        return None, None
    level = b.percent if b.scale else None
    powered = [p for p in (b.ac_powered, b.usb_powered, b.wireless_powered, b.dock_powered) if p is not None]
    charging = (b.status == 2) if b.status is not None else (any(powered) if powered else None)
    return level, charging


def battery_gate(dev: Device, policy: CooldownPolicy, stop: threading.Event,
                 ctx: Context) -> tuple[Context, CellRecord | None]:
    """Phones under `min_battery_pct` are not measured: wait for the charge (bounded), then skip the
    cell `low-battery`, or (on_low_battery = flag) run it flagged.  Level and charging state go
    into the cell's context."""
    t0 = time.monotonic()
    level, charging = read_charge(dev)
    pause = policy.first_interval_s
    while (level is not None and level < policy.min_battery_pct and policy.on_low_battery == "wait"
           and time.monotonic() - t0 < policy.timeout_s):
        stop.wait(min(pause, max(0.0, policy.timeout_s - (time.monotonic() - t0))))
        check_stop(stop)
        pause = min(pause * 1.5, policy.max_interval_s)
        level, charging = read_charge(dev)
    low = level is not None and level < policy.min_battery_pct
    extra = {**ctx.extra, "battery_level_start": level, "charging": charging}
    if low:
        extra["low_battery_waited_s"] = round(time.monotonic() - t0, 3)
    ctx = dataclasses.replace(ctx, extra=extra)
    if low and policy.on_low_battery == "wait":
        return ctx, CellRecord.failed(f"low-battery: {level:.0f}% < {policy.min_battery_pct:.0f}% after waiting "
                                      f"{time.monotonic() - t0:.0f} s for it to charge", "low-battery",
                                      status="skipped", context=ctx)
    return ctx, None

