"""The cool-down gate of a phone (its recovery after it dropped away: recovery.py).

Faults that are not heat end the gate in seconds: a reading that times out (a hung adb daemon) is a
`GateFault`; a phone without a thermal service is judged on its battery and flagged
`thermal-unavailable`; a phone under the minimum charge that is not charging is skipped at once; a
phone that fails to cool within the bound `max_bounds` times in a row raises `PhoneNeverCools`
(quarantined).  While it waits, the gate says why (`progress.set_waiting`).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable

from ...adb.device import Device
from ...errors import CommandTimeout, MwiError, device_gone
from ...parsers.thermal import STATUS_NAMES, parse_thermalservice
from ...progress import set_waiting
from ...records import CellRecord, Context
from ..contract import check_stop
from ..cooldown import (
    BATTERY_IMPLAUSIBLE,
    THERMAL_UNAVAILABLE,
    CooldownPolicy,
    CooldownResult,
    GateFault,
    GateReading,
    PhoneNeverCools,
    battery_plausible,
    wait_cool,
)

NO_SERVICE = "Can't find service"


@dataclasses.dataclass
class GateState:
    """What the gate remembers of one phone between its cells (its target keeps one)."""
    bounds_in_a_row: int = 0              # gates in a row that ended at the bound, not cool
    charge_bounds: int = 0                # waits for a charge that ended at the bound, still low
    pregated: Context | None = None       # a study's gate just passed: the measurement's gate takes this


def _timed_out(dev: Device, what: str, exc: MwiError, timeout_s: float) -> GateFault:
    return GateFault(f"gate-fault: `{what}` did not answer within {timeout_s:.0f} s on {dev.serial} (a hung adb "
                     f"daemon or phone, not heat): {exc.one_line()}")


def read_thermal(dev: Device, timeout_s: float = 10.0) -> GateReading:
    """The thermal status (the higher of the global status and every sensor's own) and the battery
    temperature (C) now.  A reading that fails is None; a phone that went away raises (device_gone)
    and one that does not answer within `timeout_s` raises GateFault, so that the gate never waits
    out its bound on either.  No thermal service ("Can't find service", Android <= 9) or a profile
    whose `thermal.source` is "battery": `thermal_unavailable` says why, the battery alone is judged."""
    status = glob = temp = None
    hot: tuple[str, ...] = ()
    unavailable: str | None = None
    prof = dev.profile
    if getattr(prof, "thermal_source", "thermalservice") == "battery":
        unavailable = f"{THERMAL_UNAVAILABLE}: the device profile {getattr(prof, 'name', '?')} reads no thermal status " \
                      "(thermal.source = battery)"
    else:
        try:
            res = dev.shell(["dumpsys", "thermalservice"], timeout=timeout_s, check=False, idempotent=True)
            if NO_SERVICE in res.stdout + res.stderr:
                unavailable = f"{THERMAL_UNAVAILABLE}: no thermal service on this phone (dumpsys thermalservice: " \
                              f"{NO_SERVICE}; Android <= 9?): judged on the battery temperature alone"
            elif res.exit_code == 0:
                rep = parse_thermalservice(res.stdout, source=f"{dev.serial}: dumpsys thermalservice")
                glob = rep.status
                hot = tuple(f"{t.name}={t.status}"
                            + (f" ({STATUS_NAMES[t.status]})" if 0 <= t.status < len(STATUS_NAMES) else "")
                            for t in rep.temperatures if t.status > rep.status)
                status = max(rep.status, rep.max_sensor_status or 0)
        except CommandTimeout as exc:
            raise _timed_out(dev, "dumpsys thermalservice", exc, timeout_s) from exc
        except MwiError as exc:
            if device_gone(exc):
                raise
    try:
        temp = getattr(dev.battery(timeout=timeout_s), "temperature_c", None)
        if temp is not None and prof is not None and getattr(prof, "battery_temperature_unit", "decicelsius") \
                != "decicelsius":
            temp = round(temp * 10.0 / prof.battery_temperature_divisor, 2)
    except CommandTimeout as exc:
        raise _timed_out(dev, "dumpsys battery", exc, timeout_s) from exc
    except MwiError as exc:
        if device_gone(exc):
            raise
    battery_bad = None
    if temp is not None and not battery_plausible(temp):
        battery_bad = (f"{BATTERY_IMPLAUSIBLE}: battery temperature {temp:g} C is no reading (a sentinel, or a unit "
                       f"the device profile does not declare: battery.temperature_unit); the thermal status alone "
                       f"is judged")
        temp = None
    return GateReading(status, temp, global_status=glob, hot_sensors=hot, thermal_unavailable=unavailable,
                       battery_unavailable=battery_bad)


def gate(dev: Device, policy: CooldownPolicy, stop: threading.Event, state: GateState | None = None, *,
         on_wait: Callable[[str | None], None] = set_waiting) -> tuple[Context, CellRecord | None]:
    """The cool-down gate before a cell: the context stored with it, and the record when the
    policy skips a phone that never cooled (the sweep flags `phone-never-cooled` from the context).
    The stop event ends the wait at once (raising `Stopped`).  With `state` (the phone's), a gate
    that a study already passed is not waited again, and the `max_bounds`-th bound in a row raises
    PhoneNeverCools."""
    if state is not None and state.pregated is not None:
        ctx, state.pregated = state.pregated, None
        return ctx, None

    def pause(seconds: float) -> None:
        stop.wait(seconds)  # a stop ends the pause at once

    res: CooldownResult = wait_cool(lambda: read_thermal(dev, policy.read_timeout_s), policy, stop=stop.is_set,
                                    sleep=pause, on_wait=on_wait)
    check_stop(stop)
    ctx = Context(cooldown_s=res.waited_s, cooldown=res.to_json(), battery_temp_start_c=res.battery_temp_c,
                  thermal_status_start=res.thermal_status)
    if state is not None:
        state.bounds_in_a_row = 0 if res.ok else state.bounds_in_a_row + 1
        if state.bounds_in_a_row >= policy.max_bounds:
            n, state.bounds_in_a_row = state.bounds_in_a_row, 0
            raise PhoneNeverCools(f"phone-never-cools: {dev.serial} {res.reason} ({n} bounds in a row, "
                                  f"{policy.timeout_s:.0f} s each); quarantined: let it cool, then "
                                  f"mwi sweep --resume")
    if not res.ok and policy.on_timeout == "skip":
        return ctx, CellRecord.failed(res.reason or "phone never cooled", "too-hot", status="skipped", context=ctx)
    return battery_gate(dev, policy, stop, ctx, on_wait=on_wait, state=state)


def read_charge(dev: Device, timeout_s: float = 10.0) -> tuple[float | None, bool | None]:
    """(battery level %, charging) now; None where the phone does not say."""
    try:
        b = dev.battery(timeout=timeout_s)
    except CommandTimeout as exc:
        raise _timed_out(dev, "dumpsys battery", exc, timeout_s) from exc
    except MwiError as exc:
        if device_gone(exc):
            raise
        return None, None
    level = b.percent if b.scale else None
    powered = [p for p in (b.ac_powered, b.usb_powered, b.wireless_powered, b.dock_powered) if p is not None]
    charging = (b.status in (2, 5)) if b.status is not None else (any(powered) if powered else None)
    return level, charging


def battery_gate(dev: Device, policy: CooldownPolicy, stop: threading.Event, ctx: Context, *,
                 on_wait: Callable[[str | None], None] = set_waiting,
                 state: GateState | None = None) -> tuple[Context, CellRecord | None]:
    """Phones under `min_battery_pct` are not measured: a phone that is charging is waited for
    (bounded), then the cell is skipped `low-battery`, or (on_low_battery = flag) run flagged.  A
    phone that is not charging, or (with `state`) one whose last wait for a charge already ended at
    the bound, is skipped at once, as an infrastructure failure (it counts toward
    --max-infra-failures): no phone waits the bound twice for a charge.  Level and charging state
    go into the context."""
    t0 = time.monotonic()
    level, charging = read_charge(dev, policy.read_timeout_s)
    pause = policy.first_interval_s
    waited_before = state is not None and state.charge_bounds > 0
    try:
        while (level is not None and level < policy.min_battery_pct and policy.on_low_battery == "wait"
               and charging is not False and not waited_before and time.monotonic() - t0 < policy.timeout_s):
            on_wait(f"battery level {level:.0f}% < {policy.min_battery_pct:.0f}% (charging)")
            stop.wait(min(pause, max(0.0, policy.timeout_s - (time.monotonic() - t0))))
            check_stop(stop)
            pause = min(pause * 1.5, policy.max_interval_s)
            level, charging = read_charge(dev, policy.read_timeout_s)
    finally:
        on_wait(None)
    low = level is not None and level < policy.min_battery_pct
    extra = {**ctx.extra, "battery_level_start": level, "charging": charging}
    if low:
        extra["low_battery_waited_s"] = round(time.monotonic() - t0, 3)
    ctx = dataclasses.replace(ctx, extra=extra)
    if state is not None:
        state.charge_bounds = state.charge_bounds + 1 if low and policy.on_low_battery == "wait" else 0
    if low and policy.on_low_battery == "wait":
        if waited_before and charging is not False:
            return ctx, CellRecord.failed(f"low-battery: {level:.0f}% < {policy.min_battery_pct:.0f}%, still, after an "
                                          f"earlier wait of {policy.timeout_s:.0f} s for a charge (charging too "
                                          f"slowly): not waited again", "low-battery", status="skipped",
                                          context=ctx, infra=True)
        if charging is False:
            return ctx, CellRecord.failed(f"low-battery: {level:.0f}% < {policy.min_battery_pct:.0f}% and not "
                                          f"charging (plug the phone in, then mwi sweep --resume)", "low-battery",
                                          status="skipped", context=ctx, infra=True)
        return ctx, CellRecord.failed(f"low-battery: {level:.0f}% < {policy.min_battery_pct:.0f}% after waiting "
                                      f"{time.monotonic() - t0:.0f} s for it to charge", "low-battery",
                                      status="skipped", context=ctx)
    return ctx, None

