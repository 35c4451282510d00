"""The cool-down gate of a phone and its recovery after it dropped away."""

from __future__ import annotations

import contextlib
import threading

from ...adb.device import Device
from ...errors import MwiError
from ...records import CellRecord, Context
from ..contract import check_stop
from ..cooldown import CooldownPolicy, CooldownResult, wait_cool


def read_thermal(dev: Device) -> tuple[int | None, float | None]:
    """(thermal status, battery temperature C) now; a reading that fails is None."""
    status = temp = None
    with contextlib.suppress(MwiError):
        status = getattr(dev.thermal_status(), "status", None)
    with contextlib.suppress(MwiError):
        temp = getattr(dev.battery(), "temperature_c", None)
        prof = dev.profile
        if temp is not None and prof is not None and getattr(prof, "battery_temperature_unit", "decicelsius") \
                != "decicelsius":
            temp = round(temp * 10.0 / prof.battery_temperature_divisor, 2)
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
    return ctx, None


def recover(dev: Device, timeout_s: float = 20.0) -> bool:
    """After the phone dropped away: restart the adb server if it is gone, reconnect a network
    phone (HOST:PORT serials are forgotten by a restarted server), wait until it is `device`."""
    try:
        dev.session.ensure_server()
        dev.wait_until_ready(timeout_s, reconnect=True)
        return True
    except MwiError:
        return False
