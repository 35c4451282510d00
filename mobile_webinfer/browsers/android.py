"""Drive a browser on a phone: open a URL, force-stop, clear data (opt-in), read its version.

Every function takes a `Device` and a `BrowserSpec`; nothing here imports adbutils.

    open_url(dev, get_spec("chrome"), "http://127.0.0.1:8123/harness.html")
    force_stop(dev, get_spec("chrome"))
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..adb.device import Device
from ..adb.shell import validate_activity, validate_package, validate_url
from ..errors import BrowserError, DeviceError
from .specs import SPECS, VIEW_ACTION, BrowserSpec

_VERSION_RE = re.compile(r"^\s*versionName=(\S+)\s*$", re.MULTILINE)
_COMPONENT_RE = re.compile(r"^([A-Za-z][\w.]*)/([\w.$]+)$")


@dataclass(frozen=True)
class InstalledBrowser:
    spec: BrowserSpec
    version: str | None

    def to_json(self) -> dict[str, str | None]:
        return {"package": self.spec.package, "name": self.spec.name, "version": self.version}


def installed_packages(dev: Device) -> set[str]:
    """Every package on the phone (`pm list packages`)."""
    out = dev.read(["pm", "list", "packages"])
    pkgs = set()
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("package:"):
            pkgs.add(line[len("package:"):].strip())
    return pkgs


def version_name(dev: Device, package: str) -> str | None:
    """versionName from `dumpsys package PKG` (the first one: the installed, active version)."""
    validate_package(package)
    m = _VERSION_RE.search(dev.read(["dumpsys", "package", package]))
    return m.group(1) if m else None


def installed_browsers(dev: Device, specs: tuple[BrowserSpec, ...] = SPECS) -> list[InstalledBrowser]:
    """The known browsers installed on the phone, each with its versionName."""
    pkgs = installed_packages(dev)
    return [InstalledBrowser(s, version_name(dev, s.package)) for s in specs if s.package in pkgs]


def resolve_activity(dev: Device, spec: BrowserSpec, url: str) -> str:
    """`PKG/ACTIVITY` that handles a VIEW intent for url; the spec's activity when that fails."""
    validate_url(url)
    validate_package(spec.package)
    res = dev.shell(["cmd", "package", "resolve-activity", "--brief", "-a", VIEW_ACTION, "-d", url,
                     spec.package], check=False, idempotent=True)
    for line in reversed(res.stdout.strip().splitlines()):
        m = _COMPONENT_RE.match(line.strip())
        if m and m.group(1) == spec.package:
            return f"{m.group(1)}/{m.group(2)}"
    if spec.activity:
        return spec.component()
    raise BrowserError(f"cannot resolve an activity of {spec.package} for VIEW {url} "
                       f"(is the browser installed?): {res.stdout.strip()[-200:]!r}")


def open_url(dev: Device, spec: BrowserSpec, url: str, *, activity: str | None = None) -> str:
    """Open url in the browser with a VIEW intent; returns the component started.

    `am start` exits 0 even when it fails, so stdout/stderr are checked for `Error`.
    """
    validate_url(url)
    component = f"{spec.package}/{validate_activity(activity)}" if activity else resolve_activity(dev, spec, url)
    res = dev.shell(["am", "start", "-a", VIEW_ACTION, "-d", url, "-n", component], check=False)
    text = f"{res.stdout}\n{res.stderr}"
    if res.exit_code != 0 or re.search(r"^\s*Error", text, re.MULTILINE) or "Exception" in text:
        raise BrowserError(f"could not open {url} in {spec.name} ({component}) on {dev.serial}: "
                           f"exit={res.exit_code} {' | '.join(text.strip().splitlines()[-2:])}")
    return component


def force_stop(dev: Device, spec: BrowserSpec) -> None:
    """`am force-stop PKG`."""
    dev.shell(["am", "force-stop", validate_package(spec.package)])


def clear_data(dev: Device, spec: BrowserSpec) -> None:
    """`pm clear PKG` (opt-in: wipes the browser's profile, first-run dialogs come back)."""
    res = dev.shell(["pm", "clear", validate_package(spec.package)], check=False)
    if res.exit_code != 0 or "Success" not in res.stdout:
        raise DeviceError(f"could not clear data of {spec.package}", serial=dev.serial, command=res.command,
                          status=res.exit_code, output=res.stdout + res.stderr)


def pids(dev: Device, spec: BrowserSpec) -> dict[str, int]:
    """Process name -> pid for every process of the browser package (`ps -A -o PID,NAME`)."""
    res = dev.shell(["ps", "-A", "-o", "PID,NAME"], check=False, idempotent=True)
    if res.exit_code != 0:
        res = dev.shell(["ps"], idempotent=True)
    found: dict[str, int] = {}
    for line in res.stdout.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        name = parts[-1]
        pid_text = parts[0] if parts[0].isdigit() else (parts[1] if parts[1].isdigit() else "")
        if pid_text and (name == spec.package or name.startswith(spec.package + ":")):
            found[name] = int(pid_text)
    return found
