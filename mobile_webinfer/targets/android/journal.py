"""The restore journal: a phone's original settings on disk while a run holds them changed.

`conditions()` writes it before changing anything and deletes it only once the originals were
read back from the phone; a run killed hard (SIGKILL, power loss), or a phone that went away
before it could be restored, leaves it behind, and the next contact with that phone (`describe()`
of a later run, or of a `--resume`) undoes what it lists first (settings, the reverse mapping),
checks they took, and says so in its manifest (`restored_from_journal`).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ...adb.device import Device
from ...errors import DeviceError, MwiError
from ...files import atomic_write_json, now_iso, safe_name
from ...paths import cache_dir


def journal_path(serial: str) -> Path:
    return cache_dir() / "restore" / f"{safe_name(serial)}.json"


def write_journal(serial: str, settings: Mapping[str, str | None], reverse_device_port: int) -> Path:
    path = journal_path(serial)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, {"serial": serial, "created_at": now_iso(), "settings": dict(settings),
                             "reverse_device_port": reverse_device_port})
    return path


def mark_battery_unplugged(serial: str, unplugged: bool) -> None:
    """Studies: note in the journal that `dumpsys battery unplug` is in force (the next run on this
    phone resets it after a hard kill); cleared once `dumpsys battery reset` ran."""
    path = journal_path(serial)
    data: dict[str, Any] = {"serial": serial, "created_at": now_iso(), "settings": {}, "reverse_device_port": 0}
    if path.is_file():
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(path.read_text())
    if unplugged:
        data["battery_unplugged"] = True
    else:
        data.pop("battery_unplugged", None)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, data)


def restore_from_journal(dev: Device) -> dict[str, Any] | None:
    """Undo what a run killed hard left changed on this phone.  Returns what was restored."""
    path = journal_path(dev.serial)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        path.unlink(missing_ok=True)
        return None
    restored: dict[str, Any] = {}
    for key, value in (data.get("settings") or {}).items():
        ns, _, name = key.partition("/")
        dev.put_setting(ns, name, value)
        restored[key] = value
    if data.get("battery_unplugged"):
        dev.shell(["dumpsys", "battery", "reset"])
        restored["battery"] = "reset"
    back = {key: dev.get_setting(*key.split("/", 1)) for key in (data.get("settings") or {})}
    wrong = [key for key, value in (data.get("settings") or {}).items() if back[key] != value]
    if wrong:  # the journal stays: the next contact tries again
        raise DeviceError(f"restoring from the journal {path}: {', '.join(wrong)} did not take "
                          f"(read back {', '.join(str(back[k]) for k in wrong)})", serial=dev.serial)
    port = data.get("reverse_device_port")
    if port:
        with contextlib.suppress(MwiError):
            if any(e.remote == f"tcp:{port}" for e in dev.list_reverse()):
                dev.session.reverse_remove(dev.serial, f"tcp:{port}")
                restored["reverse"] = f"tcp:{port}"
    path.unlink(missing_ok=True)
    return {"journal_from": data.get("created_at"), "restored": restored}
