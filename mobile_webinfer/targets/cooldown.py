"""The cool-down gate run before every cell on a phone.

A cell starts only when the thermal status is NONE (0) and the battery is at or below a
threshold (default 35.0 C).  The gate polls with backoff for a bounded time; what it waited
and what it saw are recorded with the cell.  A phone that never cools is marked, and the
user's policy decides: `skip` the cell (recorded as skipped) or `flag` (run it, flagged).

The status judged is the higher of the global `Thermal Status` and every sensor's own `mStatus`
(a Xiaomi throttles on SKIN mStatus=3 while the global status stays NONE).  A phone without a
thermal service (Android <= 9, or a profile whose `thermal.source` is "battery") is judged on its
battery temperature alone and its cells are flagged `thermal-unavailable`: it never waits a bound
for a status that cannot come.  Faults that are not heat end the gate in seconds (see gate.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from ..errors import InfraError, MwiError, device_gone

POLICIES = ("skip", "flag")
THERMAL_UNAVAILABLE = "thermal-unavailable"
BATTERY_IMPLAUSIBLE = "battery-temp-implausible"
#: a battery temperature outside this range (C) is no reading: a sentinel (6553.5, -273.1) or a unit the
#: device profile does not declare.  Below 0 C down to -40 C is a real cold phone and is kept.
BATTERY_PHYSICAL_C = (-40.0, 100.0)


def battery_plausible(temp_c: float) -> bool:
    return BATTERY_PHYSICAL_C[0] <= temp_c < BATTERY_PHYSICAL_C[1]


class GateFault(InfraError):
    """The gate cannot read the phone (a hung adb daemon, a command that times out): not heat, so
    the cell fails at once as an infrastructure failure (it counts toward --max-infra-failures)."""


class PhoneNeverCools(InfraError):
    """The phone did not cool within the bound `max_bounds` times in a row: it is quarantined."""


@dataclass(frozen=True)
class GateReading:
    """One look at the phone: the thermal status judged (the higher of the global status and every
    sensor's own), the battery temperature, and why no thermal status can be read (None: it can)."""
    status: int | None
    battery_c: float | None
    global_status: int | None = None
    hot_sensors: tuple[str, ...] = ()      # "SKIN=3", sensors over the limit
    thermal_unavailable: str | None = None
    battery_unavailable: str | None = None  # an implausible battery temperature: the thermal status alone is judged

    def waiting_for(self, policy: CooldownPolicy) -> str:
        """Why the gate waits, in a few words: `battery 41.2 C > 35 C`, `sensor SKIN=3 > 0`."""
        why = []
        if self.thermal_unavailable is None:
            if self.status is None:
                why.append("thermal status unreadable")
            elif self.status > policy.max_thermal_status:
                sensors = [s for s in self.hot_sensors]
                why.append(f"thermal status {self.status} > {policy.max_thermal_status}"
                           + (f" (sensor {', '.join(sensors)}; global {self.global_status})"
                              if sensors and (self.global_status or 0) <= policy.max_thermal_status else ""))
        if self.battery_unavailable is not None:
            pass
        elif self.battery_c is None:
            why.append("battery temperature unreadable")
        elif self.battery_c > policy.max_battery_c:
            why.append(f"battery {self.battery_c:g} C > {policy.max_battery_c:g} C")
        return ", ".join(why)


@dataclass(frozen=True)
class CooldownPolicy:
    max_battery_c: float = 35.0
    max_thermal_status: int = 0
    timeout_s: float = 600.0
    first_interval_s: float = 2.0
    max_interval_s: float = 30.0
    on_timeout: str = "flag"
    min_battery_pct: float = 25.0      # phones below this charge are not measured
    on_low_battery: str = "wait"       # "wait" (to charge, within timeout_s; then skip) or "flag" (run, flagged)
    max_bounds: int = 2                # bounds in a row a phone may fail to cool before it is quarantined
    read_timeout_s: float = 10.0       # one gate reading; longer is a hung adb (GateFault), not heat

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class CooldownResult:
    ok: bool
    waited_s: float
    polls: int
    thermal_status: int | None
    battery_temp_c: float | None
    reason: str | None = None
    thermal_unavailable: str | None = None   # judged on the battery alone: why (cells flagged)
    hot_sensors: tuple[str, ...] = ()
    battery_unavailable: str | None = None   # judged on the thermal status alone: why (cells flagged)

    def to_json(self) -> dict:
        return asdict(self)


def _reading(r: GateReading | tuple[int | None, float | None]) -> GateReading:
    return r if isinstance(r, GateReading) else GateReading(r[0], r[1], global_status=r[0])


def wait_cool(read: Callable[[], GateReading | tuple[int | None, float | None]], policy: CooldownPolicy, *,
              sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
              stop: Callable[[], bool] = lambda: False,
              on_wait: Callable[[str | None], None] | None = None) -> CooldownResult:
    """Poll `read()` (a GateReading, or `(thermal_status, battery_temp_c)`) until both are at or
    under the limits.  `on_wait` hears why the gate waits (`battery 41.2 C > 35 C`) after each
    reading that is not cool, and None when it ends.

    A reading that fails (None) counts as not yet cool; a phone gone or a GateFault raises at once.
    """
    t0 = clock()
    pause = policy.first_interval_s
    polls = 0
    r = GateReading(None, None)
    try:
        while True:
            polls += 1
            try:
                r = _reading(read())
            except MwiError as exc:
                if device_gone(exc) or isinstance(exc, GateFault):  # noticed now, not after the bound
                    raise
                r = GateReading(None, None)
            cool_t = r.thermal_unavailable is not None or (r.status is not None
                                                            and r.status <= policy.max_thermal_status)
            cool_b = r.battery_unavailable is not None or (r.battery_c is not None
                                                            and r.battery_c <= policy.max_battery_c)
            if cool_t and cool_b:
                return CooldownResult(True, round(clock() - t0, 3), polls, r.status, r.battery_c,
                                      thermal_unavailable=r.thermal_unavailable, hot_sensors=r.hot_sensors,
                                      battery_unavailable=r.battery_unavailable)
            if on_wait is not None:
                on_wait(r.waiting_for(policy))
            waited = clock() - t0
            if waited >= policy.timeout_s or stop():
                return CooldownResult(False, round(waited, 3), polls, r.status, r.battery_c,
                                      f"did not cool within {policy.timeout_s:.0f} s: " + r.waiting_for(policy),
                                      thermal_unavailable=r.thermal_unavailable, hot_sensors=r.hot_sensors,
                                      battery_unavailable=r.battery_unavailable)
            sleep(min(pause, max(0.0, policy.timeout_s - waited)))
            pause = min(pause * 1.5, policy.max_interval_s)
    finally:
        if on_wait is not None:
            on_wait(None)
