"""`adb devices -l`.

::

    List of devices attached
    UYT5T18414003349       device usb:1114112X product:ALP_AL00 model:ALP_AL00 device:HWALP transport_id:23
    UYT5T18414003349       unauthorized usb:1114112X transport_id:23
    emulator-5556 device product:sdk_google_phone_x86_64 model:Android_SDK_built_for_x86_64 device:generic_x86_64

Unauthorized entries have no product/model/device; older adb has no transport_id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import ParseError
from ._common import check_text, lines_of

STATES = ("device", "unauthorized", "offline", "recovery", "sideload", "bootloader", "host", "rescue",
          "authorizing", "connecting", "unknown", "no permissions", "disconnected")
_PROP_RE = re.compile(r"^([a-z_]+):(\S*)$")


@dataclass(frozen=True)
class AdbDeviceEntry:
    serial: str
    state: str
    props: dict[str, str] = field(default_factory=dict)  # usb, product, model, device, transport_id

    @property
    def model(self) -> str | None:
        return self.props.get("model")

    @property
    def transport_id(self) -> int | None:
        v = self.props.get("transport_id")
        return int(v) if v and v.isdigit() else None

    def to_json(self) -> dict:
        return {"serial": self.serial, "state": self.state, "props": dict(self.props),
                "transport_id": self.transport_id}


def parse_adb_devices(text: str, source: str = "") -> tuple[AdbDeviceEntry, ...]:
    """Parse `adb devices [-l]`; the header and `* daemon ...` lines are optional."""
    text = check_text(text, source)
    out: list[AdbDeviceEntry] = []
    for lineno, raw in enumerate(lines_of(text), start=1):
        s = raw.strip()
        if not s or s.startswith("* ") or s.startswith("List of devices attached") or s.startswith("adb server"):
            continue
        parts = s.split()
        if len(parts) < 2:
            raise ParseError("expected '<serial> <state> [key:value ...]'", source=source, snippet=s, line=lineno)
        # the state is the first known state word; mDNS serials can hold spaces ("adb-X (2)._adb-tls-...")
        idx = next((i for i in range(1, len(parts)) if parts[i] in STATES
                    or (parts[i] == "no" and i + 1 < len(parts) and parts[i + 1] == "permissions")), None)
        if idx is None:
            raise ParseError(f"unknown adb device state {parts[1]!r}", source=source, snippet=s, line=lineno)
        serial = " ".join(parts[:idx])
        if parts[idx] == "no":
            state, rest = "no permissions", parts[idx + 2:]
        else:
            state, rest = parts[idx], parts[idx + 1:]
        props = {}
        for tok in rest:
            m = _PROP_RE.match(tok)
            if m:
                props[m.group(1)] = m.group(2)
        out.append(AdbDeviceEntry(serial, state, props))
    return tuple(out)
