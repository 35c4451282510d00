"""`dumpsys battery` and the sysfs `current_now` / `voltage_now` values.

::

    Current Battery Service state:
      (UPDATES STOPPED -- use 'reset' to restart)
      AC powered: false
      USB powered: true
      status: 2
      level: 94
      voltage: 4248
      temperature: 280

`temperature` is tenths of a degree C, `voltage` mV.  After `dumpsys battery set|unplug` the
`UPDATES STOPPED` line appears and the values (status especially) can lie.  Lines with one
leading space (Android 16 broadcast notes) and OEM sections after the block are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ParseError
from ._common import check_text, first_content_line, lines_of

STATUS_NAMES = {1: "unknown", 2: "charging", 3: "discharging", 4: "not charging", 5: "full"}
HEALTH_NAMES = {1: "unknown", 2: "good", 3: "overheat", 4: "dead", 5: "over voltage",
                6: "unspecified failure", 7: "cold"}


@dataclass(frozen=True)
class BatteryState:
    level: int
    scale: int
    temperature_c: float | None
    voltage_mv: int | None
    status: int | None
    health: int | None
    ac_powered: bool | None
    usb_powered: bool | None
    wireless_powered: bool | None
    dock_powered: bool | None = None
    present: bool | None = None
    charge_counter: int | None = None  # nominally uAh; not trustworthy on every phone
    max_charging_current: int | None = None
    max_charging_voltage: int | None = None
    technology: str | None = None
    updates_stopped: bool = False
    extra: dict[str, str] = field(default_factory=dict)  # other `key: value` lines of the block

    @property
    def percent(self) -> float:
        return 100.0 * self.level / self.scale if self.scale else float(self.level)

    @property
    def status_name(self) -> str | None:
        return None if self.status is None else STATUS_NAMES.get(self.status, str(self.status))

    @property
    def powered(self) -> bool:
        return bool(self.ac_powered or self.usb_powered or self.wireless_powered or self.dock_powered)

    def to_json(self) -> dict:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["extra"] = dict(self.extra)
        out["status_name"] = self.status_name
        out["health_name"] = None if self.health is None else HEALTH_NAMES.get(self.health, str(self.health))
        return out


_BOOL = {"true": True, "false": False}


def parse_battery(text: str, source: str = "") -> BatteryState:
    """Parse the `Current Battery Service state:` block of `dumpsys battery`."""
    text = check_text(text, source)
    lines = lines_of(text)
    start = next((i for i, ln in enumerate(lines) if ln.strip() == "Current Battery Service state:"), None)
    if start is None:
        raise ParseError("not dumpsys battery output: no 'Current Battery Service state:' line",
                         source=source, snippet=first_content_line(text))
    kv: dict[str, tuple[str, int]] = {}
    stopped = False
    for lineno, ln in enumerate(lines[start + 1:], start=start + 2):
        if not ln.strip():
            continue
        if not ln.startswith(" "):
            break  # an OEM section (e.g. MiuiBatteryService) or another service begins
        s = ln.strip()
        if s.startswith("(UPDATES STOPPED"):
            stopped = True
            continue
        if not ln.startswith("  "):
            continue  # single-space notes (Android 16 broadcast timestamps)
        key, sep, value = s.partition(":")
        if sep:
            kv.setdefault(key.strip().lower(), (value.strip(), lineno))

    def num(key: str, required: bool = False) -> int | None:
        if key not in kv:
            if required:
                raise ParseError(f"dumpsys battery block has no '{key}:' line", source=source,
                                 snippet=lines[start].strip(), line=start + 1)
            return None
        v, lineno = kv[key]
        if not v.lstrip("-").isdigit():
            raise ParseError(f"expected an integer for '{key}'", source=source, snippet=f"{key}: {v}", line=lineno)
        return int(v)

    def flag(key: str) -> bool | None:
        if key not in kv:
            return None
        v, lineno = kv[key]
        if v.lower() not in _BOOL:
            raise ParseError(f"expected true/false for '{key}'", source=source, snippet=f"{key}: {v}", line=lineno)
        return _BOOL[v.lower()]

    temp = num("temperature")
    known = {"ac powered", "usb powered", "wireless powered", "dock powered", "present", "charge counter",
             "max charging current", "max charging voltage", "technology", "status", "health", "level",
             "scale", "voltage", "temperature"}
    return BatteryState(
        level=num("level", required=True) or 0, scale=num("scale") or 100,
        temperature_c=None if temp is None else temp / 10.0, voltage_mv=num("voltage"),
        status=num("status"), health=num("health"), ac_powered=flag("ac powered"),
        usb_powered=flag("usb powered"), wireless_powered=flag("wireless powered"),
        dock_powered=flag("dock powered"), present=flag("present"), charge_counter=num("charge counter"),
        max_charging_current=num("max charging current"), max_charging_voltage=num("max charging voltage"),
        technology=kv["technology"][0] if "technology" in kv else None, updates_stopped=stopped,
        extra={k: v for k, (v, _) in kv.items() if k not in known},
    )


_CURRENT_SCALE = {"uA": 1e-3, "mA": 1.0, "A": 1e3}
_VOLTAGE_SCALE = {"uV": 1e-3, "mV": 1.0, "V": 1e3}


def parse_power_supply_value(text: str, *, unit: str, sign: int = 1, source: str = "") -> float:
    """Read one sysfs power_supply value (`current_now`, `voltage_now`) into mA or mV.

    `unit` is the unit the device profile says the file uses (uA/mA/A for current, uV/mV/V for
    voltage); `sign` is +1 or -1 so that discharge comes out negative whatever the vendor convention.
    """
    text = check_text(text, source)
    if unit in _CURRENT_SCALE:
        scale = _CURRENT_SCALE[unit]
    elif unit in _VOLTAGE_SCALE:
        scale = _VOLTAGE_SCALE[unit]
    else:
        raise ParseError(f"unknown unit {unit!r} (expected uA, mA, A, uV, mV or V)", source=source)
    if sign not in (1, -1):
        raise ParseError(f"sign must be 1 or -1, not {sign!r}", source=source)
    s = text.strip()
    if not s.lstrip("-").isdigit():
        raise ParseError("expected one integer from a power_supply file", source=source, snippet=s[:60])
    return sign * int(s) * scale
