"""The screen before a browser cell: awake, unlocked, no system dialog in focus.

A page on a dark or locked screen is hidden (timers throttled) and a dialog over the browser
steals its input: either would publish wrong numbers, so a cell starts only on a usable screen.
What this did is stored with the cell (`context.ui`); what it could not fix fails the cell
`ui-blocked` with the reason.
"""

from __future__ import annotations

import time
from typing import Any

from ...adb.device import Device
from ...errors import MeasurementError
from ...parsers.screen import PowerState, WindowState, parse_power_state, parse_window_state

UI_BLOCKED = "ui-blocked"
#: activity-name fragments of browsers' first-run / terms / sign-in screens (Chrome: FirstRunActivity,
#: LightweightFirstRunActivity, SigninFirstRunActivity; Samsung Internet: ...Eula / ...Welcome)
FIRST_RUN_HINTS = ("FirstRun", "Fre", "Eula", "Welcome", "Onboarding", "Terms")
MAX_DISMISSALS = 10
SETTLE_S = 0.3


class UiBlocked(MeasurementError):
    """The screen cannot be made usable for a page (secure lock screen, a dialog that stays)."""


def read_ui(dev: Device) -> tuple[PowerState, WindowState]:
    return (parse_power_state(dev.read(["dumpsys", "power"]), source=f"{dev.serial}: dumpsys power"),
            parse_window_state(dev.read(["dumpsys", "window"]), source=f"{dev.serial}: dumpsys window"))


def dismiss_dialogs(dev: Device, done: list[str]) -> WindowState:
    """Press BACK while a system dialog (ANR, crash) has focus, up to MAX_DISMISSALS times."""
    _power, win = read_ui(dev)
    for _ in range(MAX_DISMISSALS):
        if win.dialog is None:
            return win
        dev.shell(["input", "keyevent", "KEYCODE_BACK"])
        done.append(f"dismissed {win.dialog}")
        time.sleep(SETTLE_S)
        _power, win = read_ui(dev)
    if win.dialog is not None:
        raise UiBlocked(f"{UI_BLOCKED}: {win.dialog!r} still has focus after {MAX_DISMISSALS} dismissals")
    return win


def check_not_first_run(dev: Device, package: str) -> None:
    """A page that never loaded: is the browser showing a first-run screen instead?"""
    _power, win = read_ui(dev)
    if win.focus_package == package and win.focus and any(h in win.focus.split("/", 1)[1] for h in FIRST_RUN_HINTS):
        raise UiBlocked(f"{UI_BLOCKED}: {win.focus} is in focus, not the page (a first-run screen: run once with "
                        f"--first-run, or set the browser up by hand)")


def ensure_screen_ready(dev: Device) -> dict[str, Any]:
    """Wake the screen, dismiss an insecure lock screen, close a pulled-down notification shade and
    any system dialog; UiBlocked if it stays
    unusable.  Returns what was found and done (for the cell's context)."""
    done: list[str] = []
    power, win = read_ui(dev)
    if not power.awake or win.screen_off:
        dev.shell(["input", "keyevent", "KEYCODE_WAKEUP"])
        done.append("woke the screen")
        time.sleep(SETTLE_S)
        power, win = read_ui(dev)
        if not power.awake:
            raise UiBlocked(f"{UI_BLOCKED}: the screen stays off (wakefulness {power.wakefulness})")
    if win.keyguard_showing:
        dev.shell(["wm", "dismiss-keyguard"])
        done.append("dismissed the lock screen")
        time.sleep(SETTLE_S)
        power, win = read_ui(dev)
        if win.keyguard_showing:
            raise UiBlocked(f"{UI_BLOCKED}: the lock screen stays (a PIN, pattern or password cannot be dismissed "
                            f"from the host: remove it, or unlock the phone)")
    if win.shade_open:  # a pulled-down notification shade is not a lock screen: BACK closes it
        dev.shell(["input", "keyevent", "KEYCODE_BACK"])
        done.append("closed the notification shade")
        time.sleep(SETTLE_S)
        power, win = read_ui(dev)
        if win.shade_open:
            raise UiBlocked(f"{UI_BLOCKED}: the notification shade stays open over the browser (KEYCODE_BACK did "
                            f"not close it)")
    win = dismiss_dialogs(dev, done)
    return {"wakefulness": power.wakefulness, "focus": win.focus, "done": done}
