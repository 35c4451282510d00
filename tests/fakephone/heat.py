"""The fake phone's heat and charge models (opt-in: ``heat_model=True``), on a clock that can run fast.

Phone time = real seconds x ``time_scale`` (a test facility: a study run with the same
``MWI_TEST_TIME_SCALE`` makes a "10 minute" soak take 10 min / scale).

Heat: one temperature T (C) relaxes towards ``ambient + rise x load`` with time constant ``tau_s``
(``T' = (T_eq - T) / tau``, integrated exactly between load changes).  Load is 1 while
``benchmark_model`` runs or a browser page is open.  Thermal status from T: >= 38 LIGHT(1),
>= 41 MODERATE(2), >= 44 SEVERE(3), >= 47 CRITICAL(4).  CPU frequencies step down with the
status (``FREQ_FACTOR``), and the fake benchmark_model's inferences slow down by 1 / factor.

Charge: the counter starts at ``charge_uah`` and falls by ``idle_ua`` (uA, per phone second)
plus ``uah_per_inference`` for every inference benchmark_model runs; so the energy per inference
it implies is ``uah_per_inference x 3.6 x volts`` mJ.

The browser's load: with a ``cpu_source`` (the phone's: cumulative user + system CPU seconds of every
Chromium process it launched, read from /proc), each CPU second the browser spends costs
``uah_per_cpu_s`` (per phone second: real CPU seconds x ``time_scale``), and the heat follows its
utilisation (CPU seconds per real second, at most 1) as it follows benchmark_model.  So a browser
runtime's study meets a phone that feels it, as a native one does; ``browser_uah`` in the snapshot is
what the model charged for it (``browser_log``: (phone s, cumulative uAh, counter) at every update).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

THRESHOLDS_C = (38.0, 41.0, 44.0, 47.0)
FREQ_FACTOR = (1.0, 0.8, 0.65, 0.5, 0.4)


@dataclass
class HeatModel:
    time_scale: float = 1.0
    ambient_c: float = 30.0
    rise_c: float = 20.0
    tau_s: float = 60.0
    charge_uah: float = 2_400_000.0
    idle_ua: float = 300_000.0
    uah_per_inference: float = 2.0
    uah_per_cpu_s: float = 150.0
    cpu_source: Callable[[], float] | None = None
    _t: float = 0.0
    _cpu_last: float | None = None
    _browser_uah: float = 0.0
    _browser_util: float = 0.0
    _browser_log: list[tuple[float, float, float]] = field(default_factory=list)
    _temp: float = 30.0
    _load: int = 0
    _real0: float = field(default_factory=time.monotonic)
    _last_real: float = field(default_factory=time.monotonic)
    _charge: float = 0.0
    _inferences: int = 0
    _first_throttle_s: float | None = None
    _load_began_s: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._temp = self.ambient_c
        self._charge = self.charge_uah

    def now_s(self) -> float:
        """Phone seconds since the model started."""
        return (time.monotonic() - self._real0) * self.time_scale

    def _advance(self) -> None:
        real = time.monotonic()
        real_dt = real - self._last_real
        dt = real_dt * self.time_scale
        if dt <= 0:
            return
        self._last_real = real
        if self.cpu_source is not None:  # the browser's CPU time since the last update
            cpu = self.cpu_source()
            used = max(0.0, cpu - self._cpu_last) if self._cpu_last is not None else 0.0
            self._cpu_last = cpu
            self._browser_util = min(1.0, used / real_dt)
            charged = self.uah_per_cpu_s * used * self.time_scale
            self._charge -= charged
            self._browser_uah += charged
        eq = self.ambient_c + self.rise_c * max(1.0 if self._load else 0.0, self._browser_util)
        self._temp = eq + (self._temp - eq) * math.exp(-dt / self.tau_s)
        self._charge -= self.idle_ua * dt / 3600.0
        self._t += dt
        if self.cpu_source is not None:
            self._browser_log.append((self._t, self._browser_uah, self._charge))
        if self._first_throttle_s is None and self._temp >= THRESHOLDS_C[0]:
            self._first_throttle_s = self._t

    def load(self, on: bool) -> None:
        with self._lock:
            self._advance()
            self._load = max(0, self._load + (1 if on else -1))
            if on and self._load_began_s is None:
                self._load_began_s = self._t

    def inference(self, n: int = 1) -> None:
        with self._lock:
            self._advance()
            self._inferences += n
            self._charge -= self.uah_per_inference * n

    def temperature(self) -> float:
        with self._lock:
            self._advance()
            return self._temp

    def status(self) -> int:
        t = self.temperature()
        return sum(1 for th in THRESHOLDS_C if t >= th)

    def freq_factor(self) -> float:
        return FREQ_FACTOR[self.status()]

    def charge(self) -> float:
        with self._lock:
            self._advance()
            return self._charge

    def snapshot(self) -> dict[str, float | int | None]:
        with self._lock:
            self._advance()
            return {"t_s": self._t, "temp_c": self._temp, "status": sum(1 for th in THRESHOLDS_C if self._temp >= th),
                    "charge_uah": self._charge, "inferences": self._inferences, "load": self._load,
                    "first_throttle_s": self._first_throttle_s, "load_began_s": self._load_began_s,
                    "uah_per_inference": self.uah_per_inference, "time_scale": self.time_scale,
                    "browser_uah": self._browser_uah, "browser_util": self._browser_util,
                    "uah_per_cpu_s": self.uah_per_cpu_s}

    def browser_log(self) -> list[tuple[float, float, float]]:
        """(phone s, cumulative uAh charged for the browser's CPU time, the charge counter) at every update."""
        with self._lock:
            self._advance()
            return list(self._browser_log)

    @staticmethod
    def time_to_status1(ambient_c: float, rise_c: float, tau_s: float) -> float:
        """Phone seconds of continuous load from ambient to the first threshold."""
        return -tau_s * math.log(1 - (THRESHOLDS_C[0] - ambient_c) / rise_c)
