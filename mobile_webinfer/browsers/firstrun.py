"""Get past a browser's first-run / EULA screens with uiautomator2, where a profile says how.

The steps are data (`Profile.first_run_steps(package)`): selectors clicked when present.
Attempts are bounded; when a step is still on screen after the last one, a BrowserError
names the browser, the phone and the selector that is stuck.

    dismiss_first_run(dev, spec, profile.first_run_steps(spec.package))
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..adb.device import Device
from ..adb.profiles import FirstRunStep
from ..errors import BrowserError
from .specs import BrowserSpec


class UiDriver(Protocol):
    """The part of `uiautomator2.Device` used here: `d(**selector)` -> an element."""

    def __call__(self, **selector: str) -> Any: ...


@dataclass(frozen=True)
class FirstRunResult:
    package: str
    clicked: tuple[str, ...]       # the selectors clicked, in order
    attempts: int


def _connect_uiautomator2(serial: str) -> UiDriver:
    try:
        import uiautomator2  # the agent talks to adb through its own adbutils use
    except ImportError as exc:  # pragma: no cover - dependency of the package
        raise BrowserError("uiautomator2 is not installed (pip install uiautomator2)") from exc
    try:
        return uiautomator2.connect(serial)
    except Exception as exc:  # noqa: BLE001 - any agent failure is one clear line
        raise BrowserError(f"uiautomator2 could not attach to {serial}: {exc}") from exc


def dismiss_first_run(dev: Device, spec: BrowserSpec, steps: Sequence[FirstRunStep], *,
                      attempts: int = 4, settle_s: float = 1.0, wait_s: float = 2.0,
                      connect: Callable[[str], UiDriver] | None = None) -> FirstRunResult:
    """Click through first-run screens; each attempt clicks every step visible at that moment.

    Ends when an attempt finds none of the steps on screen.  Raises BrowserError when a
    non-optional step never appears, or steps are still visible after `attempts` rounds.
    """
    if not steps:
        return FirstRunResult(spec.package, (), 0)
    ui = (connect or _connect_uiautomator2)(dev.serial)
    clicked: list[str] = []
    seen: set[int] = set()
    def present(step: FirstRunStep, wait: float) -> Any:
        try:
            el = ui(**step.selector())
            return el if el.exists(timeout=wait) else None
        except Exception as exc:  # noqa: BLE001 - the agent died or the phone went away
            raise BrowserError(f"first-run of {spec.name} on {dev.serial}: uiautomator2 failed: "
                               f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc

    for attempt in range(1, attempts + 1):
        visible = []
        for i, step in enumerate(steps):
            el = present(step, wait_s if attempt == 1 and i == 0 else 0)
            if el is not None:
                visible.append((i, step, el))
        if not visible:
            missing = [s for i, s in enumerate(steps) if not s.optional and i not in seen]
            if missing:
                raise BrowserError(f"first-run of {spec.name} on {dev.serial}: required step "
                                   f"{missing[0].selector()} never appeared")
            return FirstRunResult(spec.package, tuple(clicked), attempt)
        for i, step, el in visible:
            try:
                el.click()
            except Exception:  # noqa: BLE001 - it vanished between the check and the click
                continue
            seen.add(i)
            clicked.append(_describe(step))
        time.sleep(settle_s)
    still = [_describe(s) for s in steps if present(s, 0) is not None]
    if not still:
        return FirstRunResult(spec.package, tuple(clicked), attempts)
    raise BrowserError(f"first-run of {spec.name} on {dev.serial} still stuck after {attempts} attempts: "
                       f"{', '.join(still)} still on screen (update the device profile's first_run steps)")


def _describe(step: FirstRunStep) -> str:
    return ",".join(f"{k}={v}" for k, v in step.selector().items())
