"""A phone that drifts on purpose (issue 21): "the phone" slows down on a schedule, the browser's
renderers and the native benchmark_model together.

``Faults.drift`` is a schedule ``"1.0@0,0.6@20"``: speed 1.0 from the moment it is set, 0.6 from 20 s
later (real seconds).  At speed s < 1:

- every renderer of every running browser is duty-cycled with SIGSTOP / SIGCONT: it runs s x
  ``PERIOD_S``, then stands still (1 - s) x ``PERIOD_S``, so work that spans several periods takes
  about 1 / s as long (an inference much shorter than the period is hit or missed whole: drift tests
  use a model whose inference spans many periods);
- benchmark_model's inferences take 1 / s as long (the fake's own spin, as the heat model slows it).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

PERIOD_S = 0.01  # one duty cycle; a phone's DVFS / scheduler acts at about this grain


def parse_schedule(text: str) -> list[tuple[float, float]]:
    """``"1.0@0,0.6@20"`` -> [(0.0, 1.0), (20.0, 0.6)] sorted by time; ValueError on bad input."""
    steps = []
    for part in text.split(","):
        speed, _, at = part.strip().partition("@")
        s, t = float(speed), float(at or 0)
        if not 0.05 <= s <= 1.0 or t < 0:
            raise ValueError(f"drift step {part!r}: speed must be in [0.05, 1], time >= 0")
        steps.append((t, s))
    return sorted(steps)


def speed_at(steps: list[tuple[float, float]], t: float) -> float:
    s = 1.0
    for at, speed in steps:
        if t >= at:
            s = speed
    return s


class DutyCycler:
    """The thread that stops and continues the phone's renderers while its speed is below 1."""

    def __init__(self, phone: Any):
        self.phone = phone
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fakephone-drift", daemon=True)
        self._pids: list[int] = []
        self._pids_at = 0.0

    def start(self) -> DutyCycler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._signal(signal.SIGCONT)

    def _renderers(self) -> list[int]:
        now = time.monotonic()
        if now - self._pids_at > 0.5:  # /proc walks are not free: refresh twice a second
            with self.phone._lock:
                instances = list(self.phone.browsers.values())
            self._pids = [p.pid for inst in instances for p in inst.processes() if p.kind == "renderer"]
            self._pids_at = now
        return self._pids

    def _signal(self, sig: int) -> None:
        for pid in self._pids:
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass

    def _run(self) -> None:
        while not self._stop.is_set():
            s = self.phone.faults.current_speed()
            if s >= 1.0:
                self._stop.wait(PERIOD_S * 5)
                continue
            self._renderers()
            time.sleep(PERIOD_S * s)
            self._signal(signal.SIGSTOP)
            try:
                time.sleep(PERIOD_S * (1 - s))
            finally:
                self._signal(signal.SIGCONT)
