"""Which phones are attached, in which state, and what they are (for `mwi devices`).

    for info in list_devices():
        print(info.serial, info.state)
    find_device(serial), verify_profile(dev)

(`mwi devices`' description of each phone, which needs its browsers too, is targets.devices.)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ..errors import DeviceNotFound, DuplicateSerial, MwiError
from .device import Device, fingerprint_from_props
from .profiles import Profile, ProfileCheck, check_profile, load_profiles, match_profile
from .shell import AdbSession, validate_serial

log = logging.getLogger(__name__)

THERMAL_STATUS_NAMES = ("NONE", "LIGHT", "MODERATE", "SEVERE", "CRITICAL", "EMERGENCY", "SHUTDOWN")

@dataclass(frozen=True)
class DeviceInfo:
    """One attached phone as the adb server sees it (no shell command run)."""

    serial: str
    state: str                      # device / unauthorized / offline / recovery / ...
    model: str | None = None        # from `adb devices -l` tags (None when unauthorized)
    product: str | None = None
    device: str | None = None
    transport_id: int | None = None

    @property
    def usable(self) -> bool:
        return self.state == "device"


def list_devices(session: AdbSession | None = None) -> list[DeviceInfo]:
    """Every phone the adb server knows, including unauthorized and offline ones."""
    session = session or AdbSession.from_env()
    out = []
    for e in session.list_devices():
        tid = e.tag("transport_id")
        out.append(DeviceInfo(e.serial, e.state, e.tag("model"), e.tag("product"), e.tag("device"),
                              int(tid) if tid and tid.isdigit() else None))
    return out


def find_device(serial: str, session: AdbSession | None = None) -> DeviceInfo:
    """The attached phone with this serial; DeviceNotFound (one line) otherwise."""
    validate_serial(serial)
    infos = list_devices(session)
    same = [i for i in infos if i.serial == serial]
    if len(same) > 1:  # adb's transport ids tell the phones apart; its -s SERIAL cannot
        ids = ", ".join(str(i.transport_id) if i.transport_id is not None else "?" for i in same)
        raise DuplicateSerial(f"{len(same)} attached phones report the serial {serial!r} (adb transport ids {ids}): "
                              f"adb cannot tell them apart, so none is measured; unplug all but one (or give "
                              f"one another serial, e.g. a network connection: adb tcpip, adb connect HOST:PORT)")
    if same:
        return same[0]
    attached = ", ".join(i.serial for i in infos) or "none"
    raise DeviceNotFound(f"no device with serial {serial!r} is attached (attached: {attached})",
                         serial=serial)


def thermal_status_name(status: Any) -> str | None:
    """`0` / `ThermalStatus.NONE` / `"NONE"` -> `"NONE"`."""
    if status is None:
        return None
    name = getattr(status, "name", None)
    if isinstance(name, str):
        return name.upper()
    if isinstance(status, bool):
        return None
    if isinstance(status, int):
        return THERMAL_STATUS_NAMES[status] if 0 <= status < len(THERMAL_STATUS_NAMES) else str(status)
    return str(status).upper()


def verify_profile(dev: Device, profiles: list[Profile] | None = None, *,
                   props: dict[str, str] | None = None) -> tuple[Profile, ProfileCheck]:
    """Match the phone's profile and check its claims against the phone (for a run's manifest).

    Thermal sensor names and the battery reading are checked when the phone gives them; a probe
    that fails leaves that claim unchecked (None) with a note.
    """
    profiles = profiles if profiles is not None else load_profiles()
    props = props if props is not None else dev.props()  # the caller's reading, else one getprop
    profile = match_profile(props, profiles)
    notes: list[str] = []
    names = raw_temp = None
    try:
        names = [t.name for t in dev.thermal_status(timeout=10.0).temperatures]  # a hung read: 10 s, not 30
    except MwiError as exc:
        notes.append(f"thermal not checked: {exc.one_line()}")
    try:
        temp_c = dev.battery().temperature_c
        raw_temp = None if temp_c is None else temp_c * 10.0     # the parser reads tenths of a degree
    except MwiError as exc:
        notes.append(f"battery not checked: {exc.one_line()}")
    check = check_profile(profile, fingerprint_from_props(props, serial=dev.serial), thermal_sensor_names=names,
                          battery_raw_temperature=raw_temp)
    if notes:
        check = ProfileCheck(check.profile, check.held, check.notes + tuple(notes))
    return profile, check
