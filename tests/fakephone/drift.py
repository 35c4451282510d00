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

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
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
    """Stops and continues the phone's renderers while its speed is below 1.

    The stopping and continuing runs in a child process (`python -m tests.fakephone.drift STATE`),
    which also walks /proc for the renderers: a thread of the fake phone itself would fight the fake
    benchmark_model's inference loop for Python's GIL and slow the native side by more than the
    schedule says.  The fake's own thread only writes the state file (the speed and the browsers'
    root pids, when they change)."""

    def __init__(self, phone: Any):
        self.phone = phone
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fakephone-drift", daemon=True)
        self._dir = tempfile.mkdtemp(prefix="fakephone-drift-")
        self.state = os.path.join(self._dir, "state.json")
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> DutyCycler:
        self._thread.start()  # the child starts the first time the phone slows down
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()  # its handler continues every process it may have stopped
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        shutil.rmtree(self._dir, ignore_errors=True)

    def _write(self, speed: float, roots: list[int]) -> None:
        tmp = self.state + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"speed": speed, "roots": roots}, f)
        os.replace(tmp, self.state)

    def _run(self) -> None:
        last: tuple[float, list[int]] | None = None
        while not self._stop.wait(0.1):
            s = self.phone.faults.current_speed()
            if s < 1.0 and self._proc is None:
                self._write(1.0, [])
                self._proc = subprocess.Popen([sys.executable, "-m", "tests.fakephone.drift", self.state],
                                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL)
            if self._proc is None:
                continue
            with self.phone._lock:  # the browsers' root pids only: the child finds their renderers
                roots = sorted(inst.pid for inst in self.phone.browsers.values())
            if (s, roots) != last:
                self._write(s, roots)
                last = (s, roots)


def _signal(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _renderers(roots: list[int]) -> list[int]:
    from .browser import _process_type, descendants

    return [pid for root in roots for pid in descendants(root) if _process_type(pid) == "renderer"]


def cycle(state: str) -> int:
    """The child: read the state file, duty-cycle the browsers' renderers at its speed, until told to stop."""
    done = threading.Event()
    pids: list[int] = []
    roots: list[int] = []
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    read_at = walked_at = 0.0
    speed = 1.0
    try:
        while not done.is_set():
            now = time.monotonic()
            if now - read_at > 0.05:
                try:
                    with open(state) as f:
                        d = json.load(f)
                    speed, new_roots = float(d["speed"]), [int(p) for p in d["roots"]]
                except (OSError, ValueError, KeyError):
                    new_roots = roots
                if new_roots != roots:
                    roots, walked_at = new_roots, 0.0
                read_at = now
            if speed < 1.0 and now - walked_at > 0.5:
                pids, walked_at = _renderers(roots), now
            if speed >= 1.0 or not pids:
                time.sleep(PERIOD_S)
                continue
            time.sleep(PERIOD_S * speed)
            _signal(pids, signal.SIGSTOP)
            try:
                time.sleep(PERIOD_S * (1 - speed))
            finally:
                _signal(pids, signal.SIGCONT)
    finally:
        _signal(pids, signal.SIGCONT)
    return 0


if __name__ == "__main__":
    sys.exit(cycle(sys.argv[1]))
