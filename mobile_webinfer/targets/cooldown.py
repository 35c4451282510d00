"""The cool-down gate run before every cell on a phone.

A cell starts only when the thermal status is NONE (0) and the battery is at or below a
threshold (default 35.0 C).  The gate polls with backoff for a bounded time; what it waited
and what it saw are recorded with the cell.  A phone that never cools is marked, and the
user's policy decides: `skip` the cell (recorded as skipped) or `flag` (run it, flagged).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from ..errors import MwiError, device_gone

POLICIES = ("skip", "flag")


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

    def to_json(self) -> dict:
        return asdict(self)


def wait_cool(read: Callable[[], tuple[int | None, float | None]], policy: CooldownPolicy, *,
              sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
              stop: Callable[[], bool] = lambda: False) -> CooldownResult:
    """Poll `read() -> (thermal_status, battery_temp_c)` until both are at or under the limits.

    A reading that fails (None) counts as not yet cool.
    """
    t0 = clock()
    pause = policy.first_interval_s
    polls = 0
    status = temp = None
    while True:
        polls += 1
        try:
            status, temp = read()
        except MwiError as exc:
            if device_gone(exc):  # an unplugged phone is noticed now, not after the bound
                raise
            status = temp = None
        cool_t = status is not None and status <= policy.max_thermal_status
        cool_b = temp is not None and temp <= policy.max_battery_c
        if cool_t and cool_b:
            return CooldownResult(True, round(clock() - t0, 3), polls, status, temp)
        waited = clock() - t0
        if waited >= policy.timeout_s or stop():
            why = []
            if not cool_t:
                why.append(f"thermal status {status} > {policy.max_thermal_status}" if status is not None
                           else "thermal status unreadable")
            if not cool_b:
                why.append(f"battery {temp} C > {policy.max_battery_c} C" if temp is not None
                           else "battery temperature unreadable")
            return CooldownResult(False, round(waited, 3), polls, status, temp,
                                  f"did not cool within {policy.timeout_s:.0f} s: " + ", ".join(why))
        sleep(min(pause, max(0.0, policy.timeout_s - waited)))
        pause = min(pause * 1.5, policy.max_interval_s)
