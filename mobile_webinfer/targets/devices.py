"""What each attached phone is, for `mwi devices` (the adb layer lists them; browsers are looked up here).

    for d in describe_all():
        d.record    # the JSON object of `mwi devices --json` (exact contract keys)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..adb.device import Device, fingerprint_from_props
from ..adb.discovery import DeviceInfo, list_devices, thermal_status_name
from ..adb.profiles import Profile, load_profiles, match_profile
from ..adb.shell import AdbSession
from ..browsers.android import installed_browsers
from ..errors import MwiError

DEVICE_KEYS = ("serial", "state", "model", "manufacturer", "android_release", "sdk", "soc", "abi",
               "fingerprint", "battery_level", "battery_temperature_c", "thermal_status", "browsers",
               "profile")



@dataclass(frozen=True)
class Description:
    """`describe()`'s result: the contract record plus the problems met while probing."""

    record: dict[str, Any]
    problems: tuple[str, ...] = field(default_factory=tuple)


def describe(info: DeviceInfo, session: AdbSession | None = None,
             profiles: list[Profile] | None = None) -> Description:
    """The `mwi devices --json` object for one phone; unusable phones get their state and nulls.

    A probe that fails leaves its fields null and adds a line to `problems`.
    """
    record: dict[str, Any] = {k: None for k in DEVICE_KEYS}
    record.update(serial=info.serial, state=info.state, browsers=[])
    if not info.usable:
        return Description(record)
    session = session or AdbSession.from_env()
    profiles = profiles if profiles is not None else load_profiles()
    dev = Device(info.serial, client=session)
    problems: list[str] = []

    def attempt(what: str, fn: Any) -> Any:
        try:
            return fn()
        except MwiError as exc:
            problems.append(f"{info.serial}: {what}: {exc.one_line()}")
            return None

    props = attempt("getprop", dev.getprop)
    profile = None
    if isinstance(props, dict):
        fp = fingerprint_from_props(props, serial=info.serial)
        for k in ("model", "manufacturer", "android_release", "sdk", "soc", "abi", "fingerprint"):
            record[k] = fp[k]
        profile = match_profile(props, profiles)
        record["profile"] = profile.name
    battery = attempt("battery", dev.battery)
    if battery is not None:
        record["battery_level"] = getattr(battery, "level", None)
        temp = getattr(battery, "temperature_c", None)
        if temp is not None and profile is not None and profile.battery_temperature_unit != "decicelsius":
            temp = round(temp * 10.0 / profile.battery_temperature_divisor, 2)
        record["battery_temperature_c"] = temp
    thermal = attempt("thermal", dev.thermal_status)
    if thermal is not None:
        record["thermal_status"] = thermal_status_name(getattr(thermal, "status", None))
    browsers = attempt("browsers", lambda: installed_browsers(dev))
    if browsers is not None:
        record["browsers"] = [b.to_json() for b in browsers]
    return Description(record, tuple(problems))


def describe_all(session: AdbSession | None = None, profiles: list[Profile] | None = None) -> list[Description]:
    session = session or AdbSession.from_env()
    profiles = profiles if profiles is not None else load_profiles()
    return [describe(i, session, profiles) for i in list_devices(session)]
