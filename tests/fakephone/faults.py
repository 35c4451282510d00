"""Fault scripts of a fake phone, settable at start and at run time (thread-safe)."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class CommandFault:
    """Fire on shell command lines that contain ``pattern`` (a regex), ``times`` times (-1: always)."""

    pattern: str
    times: int = 1

    def matches(self, line: str) -> bool:
        return self.times != 0 and re.search(self.pattern, line) is not None


@dataclass
class Faults:
    """The fault state.  Every field can be given to the constructor or set later via :meth:`set`.

    - ``drop_on``: drop the whole TCP transport in the middle of a matching command's output
      (sync requests match as ``sync:SEND /path,mode`` / ``sync:RECV /path`` / ``sync:STAT /path``).
    - ``hang_on``: a matching command never answers (until the stream is closed).
    - ``unauthorized``: CNXN is answered with AUTH challenges that never succeed (adb shows
      "unauthorized"); setting it at run time drops current transports so it applies at once.
    - ``offline``: transports are dropped and new ones are held without CNXN answer;
      ``offline_for_s`` brings the phone back by itself after that many seconds.
    - ``thermal_status``: forced status (0..6) or None; ``thermal_rise_every_s``: the status
      rises by one every that many seconds from ``thermal_rise_from`` up to ``thermal_rise_max``.
    - ``battery_temp_c``: forced battery temperature; ``battery_rise_c_per_s``: it rises by that
      much per second and never falls (``dumpsys battery reset`` included).
    - ``renderer_dies_after_s``: seconds after each browser start, its renderers are SIGKILLed.
    - ``heat_model`` (start only) turns on the heat / charge model of heat.py; ``time_scale`` (start
      only) makes its clock run that much faster (test facility, matched by MWI_TEST_TIME_SCALE).
    - ``sensor_vanishes_after_s``: that many phone seconds after it is set, ``dumpsys thermalservice``
      answers "Can't find service" and ``dumpsys battery`` loses its ``Charge counter`` line.
    - ``charging_while_unplugged``: after ``dumpsys battery unplug`` USB still charges (status 2,
      the charge counter rises).
    - ``battery_level``: forced battery level (%).
    - ``devtools_socket_missing``: no browser's DevTools socket is listed in /proc/net/unix or connectable
      (remote debugging off); a refused ``adb reverse`` is
      ``reverse_port_bound``.  (A pushed ELF for another ABI is refused as Android's sh does, no switch.)
    - ``no_thermal_service``: ``dumpsys thermalservice`` answers "Can't find service: thermalservice"
      (Android <= 9 has no thermal service).
    - ``sensor_status``: ``{"SKIN": 3}``: those sensors' ``mStatus`` in the current block, the
      global ``Thermal Status`` unchanged (a Xiaomi throttles on SKIN SEVERE at global NONE).
    - ``drift``: a speed schedule ``"1.0@0,0.6@20"`` from the moment it is set (drift.py): the
      renderers are duty-cycled and benchmark_model slowed by the same factor (issue 21).
    """

    drop_on: list[CommandFault] = field(default_factory=list)
    hang_on: list[CommandFault] = field(default_factory=list)
    offline: bool = False
    unauthorized: bool = False
    offline_for_s: float | None = None
    thermal_status: int | None = None
    thermal_rise_every_s: float | None = None
    thermal_rise_from: int = 0
    thermal_rise_max: int = 4
    battery_temp_c: float | None = None
    battery_rise_c_per_s: float = 0.0
    renderer_dies_after_s: float | None = None
    heat_model: bool = False
    time_scale: float = 1.0
    sensor_vanishes_after_s: float | None = None
    charging_while_unplugged: bool = False
    battery_level: int | None = None
    _vanish_t0: float = 0.0
    reverse_dropped: bool = False   # `adb reverse` answers OKAY but maps nothing (the phone cannot reach the host)
    keyguard: bool = False          # the lock screen shows (`wm dismiss-keyguard` removes it unless secure)
    keyguard_secure: bool = False   # a PIN / pattern: no command dismisses it
    ui_dialog: str | None = None    # a system dialog in focus, e.g. "Application Not Responding: com.x"
    ui_dialog_presses: int = 1      # KEYCODE_BACK presses it takes to go away
    notification_shade: bool = False  # the shade is pulled down (focus NotificationShade, no keyguard); BACK closes it
    reverse_port_bound: bool = False  # `adb reverse` refused: the device port is bound by another process there
    reverse_dead: bool = False      # reverse mappings are listed but every connection through them is dropped
    settings_ignored: bool = False  # `settings put` answers as usual and changes nothing (an OEM guard)
    benchmark_model_hangs: int = 0  # the next N benchmark_model runs hang until killed by pid (-1: all)
    # -- preflight faults (mwi doctor --phone) ------------------------------------------------------
    devtools_socket_missing: bool = False  # browsers run, but no @..._devtools_remote socket is open
    # cool-down gate faults (issue 22 item 2): a phone without a thermal service (Android <= 9), and
    # sensors whose own mStatus is raised while the global `Thermal Status` stays as it is (Xiaomi)
    no_thermal_service: bool = False            # `dumpsys thermalservice` answers "Can't find service"
    sensor_status: dict[str, int] | None = None  # {sensor name: mStatus} in the current temperatures block
    am_start_ignored: bool = False  # `am start` answers as if it opened the URL and opens nothing
    drift: str | None = None        # speed schedule "1.0@0,0.6@20" (drift.py)
    _drift_t0: float = 0.0
    _t0: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.drop_on = [_command_fault(v) for v in self.drop_on]
        self.hang_on = [_command_fault(v) for v in self.hang_on]

    SETTABLE = ("drop_on", "hang_on", "unauthorized", "offline_for_s", "thermal_status", "thermal_rise_every_s",
                "thermal_rise_from", "thermal_rise_max", "battery_temp_c", "battery_rise_c_per_s",
                "renderer_dies_after_s", "reverse_dropped", "keyguard", "keyguard_secure", "ui_dialog",
                "ui_dialog_presses", "sensor_vanishes_after_s", "charging_while_unplugged", "battery_level",
                "benchmark_model_hangs", "notification_shade", "reverse_port_bound", "reverse_dead",
                "settings_ignored")
    SETTABLE += ("devtools_socket_missing",)  # preflight fault (mwi doctor --phone)

    SETTABLE += ("no_thermal_service", "sensor_status")  # cool-down gate faults (issue 22)
    SETTABLE += ("am_start_ignored",)  # the page never opens (issue 23)
    SETTABLE += ("drift",)  # a phone that drifts on purpose (issue 21)

    def set(self, name: str, value: Any) -> None:
        """Set one fault by name; command faults accept a pattern, a dict or a list of either."""
        if name not in self.SETTABLE:
            raise ValueError(f"unknown fault {name!r}; settable: {', '.join(self.SETTABLE)}")
        if name in ("drop_on", "hang_on"):
            value = [_command_fault(v) for v in (value if isinstance(value, list) else [value])]
        with self._lock:
            if name in ("thermal_rise_every_s", "battery_rise_c_per_s", "battery_temp_c"):
                self._t0 = time.monotonic()
            if name == "sensor_vanishes_after_s":
                self._vanish_t0 = time.monotonic()
            if name == "drift":
                from .drift import parse_schedule

                if value is not None:
                    parse_schedule(str(value))  # a bad schedule is refused here, not mid-run
                self._drift_t0 = time.monotonic()
            setattr(self, name, value)

    def take(self, kind: str, line: str) -> bool:
        """True (and one use consumed) when a ``drop_on``/``hang_on`` fault matches ``line``."""
        with self._lock:
            for fault in getattr(self, kind):
                if fault.matches(line):
                    if fault.times > 0:
                        fault.times -= 1
                    return True
        return False

    def take_benchmark_hang(self) -> bool:
        """True (and one use consumed) when this benchmark_model run is to hang."""
        with self._lock:
            if self.benchmark_model_hangs == 0:
                return False
            if self.benchmark_model_hangs > 0:
                self.benchmark_model_hangs -= 1
            return True

    def sensors_gone(self) -> bool:
        """The sensor-vanishes fault has fired (phone seconds, on the heat model's clock)."""
        with self._lock:
            after = self.sensor_vanishes_after_s
            return after is not None and (time.monotonic() - self._vanish_t0) * self.time_scale >= after

    def elapsed(self) -> float:
        return time.monotonic() - self._t0

    def current_speed(self) -> float:
        """The phone's speed now (1.0: undisturbed), from the drift schedule."""
        from .drift import parse_schedule, speed_at

        with self._lock:
            if not self.drift:
                return 1.0
            return speed_at(parse_schedule(self.drift), time.monotonic() - self._drift_t0)

    def current_thermal_status(self, base: int = 0) -> int:
        with self._lock:
            if self.thermal_status is not None:
                return self.thermal_status
            if self.thermal_rise_every_s:
                steps = int(self.elapsed() / self.thermal_rise_every_s)
                return min(self.thermal_rise_max, self.thermal_rise_from + steps)
        return base

    def current_battery_temp_c(self, base: float) -> float:
        with self._lock:
            start = self.battery_temp_c if self.battery_temp_c is not None else base
            return start + self.battery_rise_c_per_s * self.elapsed()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            out = {name: getattr(self, name) for name in self.SETTABLE}
            out["offline"] = self.offline
        out["drop_on"] = [vars(f).copy() for f in out["drop_on"]]
        out["hang_on"] = [vars(f).copy() for f in out["hang_on"]]
        return out


def _command_fault(value: Any) -> CommandFault:
    if isinstance(value, CommandFault):
        return value
    if isinstance(value, str):
        return CommandFault(value)
    if isinstance(value, dict):
        return CommandFault(str(value["pattern"]), int(value.get("times", 1)))
    raise ValueError(f"bad command fault {value!r}")
