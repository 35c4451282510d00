"""`dumpsys thermalservice` (Android 10+; HIDL 2.0, AIDL, Samsung Sdhms, emulator variants).

::

    IsStatusOverride: false
    Thermal Status: 2
    Cached temperatures:
    \tTemperature{mValue=25.0, mType=2, mName=battery, mStatus=0}
    HAL Ready: true
    Current temperatures from HAL:
    \tTemperature{mValue=43.8, mType=2, mName=battery, mStatus=0}
    Current cooling devices from HAL:
    \tCoolingDevice{mValue=11, mType=2, mName=thermal-cpufreq-6}

Temperatures are read from the *current* HAL block; the cached block (which can be far off)
is used only when there is no current block, and the report says so (`source`).
`-99.9` marks an absent sensor (Samsung) and becomes None.  Type numbers are vendor-specific.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import ParseError
from ._common import check_text, first_content_line, lines_of, to_float

_TEMP_RE = re.compile(r"^Temperature\{(.*)\}$")
_COOL_RE = re.compile(r"^CoolingDevice\{(.*)\}$")
_FIELD_RE = re.compile(r"(mValue|mType|mName|mStatus)=(.*?)(?=, m(?:Value|Type|Name|Status)=|$)")

STATUS_NAMES = ("NONE", "LIGHT", "MODERATE", "SEVERE", "CRITICAL", "EMERGENCY", "SHUTDOWN")
ABSENT_SENSOR_C = -99.9


@dataclass(frozen=True)
class Temperature:
    name: str
    type: int
    value_c: float | None  # None for an absent sensor (-99.9)
    status: int

    def to_json(self) -> dict:
        return {"name": self.name, "type": self.type, "value_c": self.value_c, "status": self.status}


@dataclass(frozen=True)
class CoolingDevice:
    name: str
    type: int
    value: int

    def to_json(self) -> dict:
        return {"name": self.name, "type": self.type, "value": self.value}


@dataclass(frozen=True)
class ThermalReport:
    status: int  # 0 NONE .. 6 SHUTDOWN
    override: bool | None  # IsStatusOverride (absent on the emulator)
    source: str  # "current" | "cached"
    temperatures: tuple[Temperature, ...]
    cooling_devices: tuple[CoolingDevice, ...] = ()
    hal_ready: bool | None = None
    hal: str | None = None  # e.g. "ThermalHAL 2.0", "Sdhms"

    @property
    def status_name(self) -> str:
        return STATUS_NAMES[self.status] if 0 <= self.status < len(STATUS_NAMES) else str(self.status)

    @property
    def max_sensor_status(self) -> int | None:
        return max((t.status for t in self.temperatures), default=None)

    def to_json(self) -> dict:
        return {"status": self.status, "status_name": self.status_name, "override": self.override,
                "source": self.source, "temperatures": [t.to_json() for t in self.temperatures],
                "cooling_devices": [c.to_json() for c in self.cooling_devices],
                "hal_ready": self.hal_ready, "hal": self.hal, "max_sensor_status": self.max_sensor_status}


def _fields(body: str, source: str, lineno: int, raw: str) -> dict[str, str]:
    out = {k: v.strip() for k, v in _FIELD_RE.findall(body)}
    if "mValue" not in out or "mName" not in out or "mType" not in out:
        raise ParseError("expected mValue, mType and mName in a thermal entry", source=source, snippet=raw,
                         line=lineno)
    return out


def _bool(v: str) -> bool | None:
    return {"true": True, "false": False}.get(v.strip().lower())


def parse_thermalservice(text: str, source: str = "") -> ThermalReport:
    """Parse `dumpsys thermalservice` into status, override flag, temperatures and cooling devices."""
    text = check_text(text, source)
    status: int | None = None
    override: bool | None = None
    hal_ready: bool | None = None
    hal: str | None = None
    section = ""
    temps: dict[str, list[Temperature]] = {"current": [], "cached": []}
    seen = {"current": False, "cached": False}
    cooling: list[CoolingDevice] = []
    for lineno, ln in enumerate(lines_of(text), start=1):
        s = ln.strip()
        if not s:
            continue
        if s.startswith("Thermal Status:"):
            v = s.partition(":")[2].strip()
            if not v.lstrip("-").isdigit():
                raise ParseError("expected an integer after 'Thermal Status:'", source=source, snippet=s,
                                 line=lineno)
            status = int(v)
            section = ""
        elif s.startswith("IsStatusOverride:"):
            override = _bool(s.partition(":")[2])
        elif s.startswith("HAL Ready:"):
            hal_ready = _bool(s.partition(":")[2])
            section = ""
        elif s == "Cached temperatures:":
            section, seen["cached"] = "cached", True
        elif s == "Current temperatures from HAL:":
            section, seen["current"] = "current", True
        elif s == "Current cooling devices from HAL:":
            section = "cooling"
        elif s == "HAL connection:":
            section = "hal"
        elif s.endswith(":") and not s.startswith(("Temperature{", "CoolingDevice{")):
            section = "other"
        elif section == "hal" and s.endswith("connected: yes"):
            hal = " ".join(s[: -len("connected: yes")].split())
        elif section in ("cached", "current"):
            m = _TEMP_RE.match(s)
            if not m:
                if s.startswith("Temperature"):
                    raise ParseError("unreadable Temperature{...} entry", source=source, snippet=s, line=lineno)
                continue
            f = _fields(m.group(1), source, lineno, s)
            value = to_float(f["mValue"], source=source, what="mValue", line=lineno) \
                if f["mValue"] not in ("NaN", "nan") else None
            if value is not None and abs(value - ABSENT_SENSOR_C) < 1e-6:
                value = None
            try:
                temps[section].append(Temperature(f["mName"], int(f["mType"]), value, int(f.get("mStatus", "0"))))
            except ValueError:
                raise ParseError("expected integer mType/mStatus", source=source, snippet=s, line=lineno) from None
        elif section == "cooling":
            m = _COOL_RE.match(s)
            if m:
                f = _fields(m.group(1), source, lineno, s)
                try:
                    cooling.append(CoolingDevice(f["mName"], int(f["mType"]), int(f["mValue"])))
                except ValueError:
                    raise ParseError("expected integer mType/mValue in CoolingDevice", source=source,
                                     snippet=s, line=lineno) from None
    if status is None:
        raise ParseError("not dumpsys thermalservice output: no 'Thermal Status: N' line", source=source,
                         snippet=first_content_line(text))
    src = "current" if seen["current"] else "cached"
    return ThermalReport(status=status, override=override, source=src, temperatures=tuple(temps[src]),
                         cooling_devices=tuple(cooling), hal_ready=hal_ready, hal=hal)
