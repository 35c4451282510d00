"""QoE cells on any target: the page config, and the host's synthetic taps during the window.

A QoE cell (`cell.kind == "qoe"`) opens pages/qoe.html instead of the harness.  Once the page
posts its `window` event (with where its tap pad is), the host taps it every
`QoeOptions.tap_interval_s` until the result arrives: locally with CDP
`Input.dispatchMouseEvent` (`CdpTapper`), on phones with `adb shell input tap X Y`
(`AdbTapper`).  The page measures each tap itself (event timestamp to handler start, and to
the next frame); the host records how many it sent.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from ..records import CellRecord
from ..vocab import Budget, Cell, PageOptions, QoeOptions
from .contract import page_config

CDP_TAP = "cdp Input.dispatchMouseEvent"
ADB_TAP = "adb shell input tap"


def qoe_page_config(manifest: Any, cell: Cell, budget: Budget, page: PageOptions, qoe: QoeOptions) -> Any:
    """The page config of a QoE cell: the harness config plus its `qoe` section."""
    from ..web.protocol import QoeConfig

    base = page_config(manifest, cell, budget, page)
    return dataclasses.replace(base, qoe=QoeConfig(mode=cell.qoe_mode, rounds=qoe.rounds, gap_ms=qoe.gap_ms,
                                                   seed=qoe.seed, block_ms=qoe.block_ms,
                                                   tap_wait_ms=qoe.tap_wait_s * 1000.0))


@dataclasses.dataclass(frozen=True)
class TapPoint:
    """Where the page's tap pad is: CSS px of the viewport, the device pixel ratio, and the
    browser's own UI above the viewport (CSS px; 0 in headless Chromium)."""

    x: float
    y: float
    dpr: float
    chrome_top: float

    def screen_px(self) -> tuple[int, int]:
        """Physical screen pixels for `input tap` (the viewport starts under the browser's UI)."""
        return round(self.x * self.dpr), round((self.y + self.chrome_top) * self.dpr)


class Tapper(Protocol):
    source: str

    def tap(self, at: TapPoint) -> None:
        ...


def tap_point(events: Sequence[Mapping[str, Any]]) -> TapPoint | None:
    """The tap pad from the page's `window` event (None before the window opens)."""
    for ev in reversed(events):
        tap = ev.get("tap") if ev.get("stage") == "window" else None
        if isinstance(tap, Mapping):
            try:
                return TapPoint(float(tap["x"]), float(tap["y"]), float(tap.get("dpr") or 1.0),
                                float(tap.get("chrome_top") or 0.0))
            except (KeyError, TypeError, ValueError):
                return None
    return None


class TapDriver:
    """`between()` for `wait_for_page`: taps the pad every `interval_s` once the window opened."""

    def __init__(self, ticket: Any, tapper: Tapper, interval_s: float,
                 then: Callable[[], Any] | None = None):
        self.ticket = ticket
        self.tapper = tapper
        self.interval_s = interval_s
        self.then = then
        self.sent = 0
        self.window_opened: float | None = None   # monotonic
        self._next = 0.0
        self._next_then = 0.0

    def __call__(self) -> Any:
        now = time.monotonic()
        if now >= self._next:
            at = tap_point(self.ticket.events())
            if at is not None:
                if self.window_opened is None:
                    self.window_opened = now
                self.tapper.tap(at)
                self.sent += 1
                self._next = time.monotonic() + self.interval_s
        if self.then is None or time.monotonic() < self._next_then:
            return None
        self._next_then = time.monotonic() + 1.0  # the target's own checks keep their 1 s pace
        return self.then()


class CdpTapper:
    """Taps through Chromium's DevTools protocol (a Playwright CDP session of the page)."""

    source = CDP_TAP

    def __init__(self, page: Any):
        self.cdp = page.context.new_cdp_session(page)

    def tap(self, at: TapPoint) -> None:
        for kind in ("mousePressed", "mouseReleased"):
            self.cdp.send("Input.dispatchMouseEvent", {"type": kind, "x": at.x, "y": at.y, "button": "left",
                                                       "clickCount": 1})


class AdbTapper:
    """Taps the phone's screen with `adb shell input tap X Y` (physical pixels)."""

    source = ADB_TAP

    def __init__(self, dev: Any):
        self.dev = dev

    def tap(self, at: TapPoint) -> None:
        x, y = at.screen_px()
        self.dev.shell(["input", "tap", str(int(x)), str(int(y))], timeout=10.0)


def with_taps(rec: CellRecord, driver: TapDriver, gfxinfo: Mapping[str, Any] | None = None) -> CellRecord:
    """The record with the host's side of the window: taps sent, how, and (phones) gfxinfo."""
    if rec.qoe is None:
        return rec
    return dataclasses.replace(rec, qoe=dataclasses.replace(rec.qoe, taps_sent=driver.sent,
                                                            tap_source=driver.tapper.source, gfxinfo=gfxinfo))


def gfxinfo_window(rows: Sequence[Mapping[str, Any]], t_from_s: float | None) -> dict[str, Any] | None:
    """gfxinfo framestats of the browser's UI from the sampler rows taken after `t_from_s` (sampler
    time, s): frames and janky frames summed over the window."""
    frames = janky = 0
    seen = False
    for r in rows:
        if r.get("probe") != "gfxinfo" or not r.get("ok", True):
            continue
        if t_from_s is not None and float(r.get("t_s") or 0.0) < t_from_s:
            continue
        data = r.get("data") or {}
        n, j = data.get("new_frames"), data.get("new_janky")
        if isinstance(n, int) and isinstance(j, int):
            frames += n
            janky += j
            seen = True
    if not seen:
        return None
    return {"source": "dumpsys gfxinfo framestats (browser UI)", "frames": frames, "janky_frames": janky,
            "janky_share": (janky / frames) if frames else None}


__all__ = ["ADB_TAP", "CDP_TAP", "AdbTapper", "CdpTapper", "TapDriver", "TapPoint", "gfxinfo_window",
           "qoe_page_config", "tap_point", "with_taps"]
