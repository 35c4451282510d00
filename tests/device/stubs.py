"""An in-process stand-in for AdbSession, for unit tests of the layers above shell.py.

It answers from a table of argv -> output and keeps state for settings and port mappings,
so a test can check that what was changed is restored.  Unknown commands fail loudly.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, field

from mobile_webinfer.adb.shell import AdbDeviceEntry, ForwardEntry, ReverseEntry, ShellResult, quote_argv

Answer = tuple[str, str, int] | Callable[[list[str]], tuple[str, str, int]] | BaseException


@dataclass
class StubSession:
    serial: str = "STUB123"
    answers: dict[tuple[str, ...], Answer] = field(default_factory=dict)
    settings: dict[tuple[str, str], str] = field(default_factory=dict)
    reverses: dict[str, str] = field(default_factory=dict)     # remote -> local
    forwards: dict[str, str] = field(default_factory=dict)     # local -> remote
    calls: list[list[str]] = field(default_factory=list)
    next_port: int = 41000
    others: list[AdbDeviceEntry] = field(default_factory=list)   # extra `adb devices` lines

    def list_devices(self, timeout: float = 10.0) -> list[AdbDeviceEntry]:
        return [AdbDeviceEntry(self.serial, "device", (("model", "STUB"),)), *self.others]

    def state(self, serial: str, timeout: float = 5.0) -> str | None:
        return next((e.state for e in self.list_devices() if e.serial == serial), None)

    def require_device(self, serial: str, timeout: float = 10.0) -> None:
        from mobile_webinfer.errors import DeviceNotFound
        if serial != self.serial:
            raise DeviceNotFound(f"no device with serial {serial!r} is attached", serial=serial)

    def shell(self, serial: str, argv: list[str], *, timeout: float = 30.0) -> ShellResult:
        assert serial == self.serial, f"wrong serial {serial}"
        command = quote_argv(argv)
        assert shlex.split(command) == list(argv)
        self.calls.append(list(argv))
        if argv[:2] == ["settings", "get"]:
            return ShellResult(self.settings.get((argv[2], argv[3]), "null") + "\n", "", 0, command)
        if argv[:2] == ["settings", "put"]:
            self.settings[(argv[2], argv[3])] = argv[4]
            return ShellResult("", "", 0, command)
        if argv[:2] == ["settings", "delete"]:
            existed = self.settings.pop((argv[2], argv[3]), None) is not None
            return ShellResult(f"Deleted {int(existed)} rows\n", "", 0, command)
        if argv == ["svc", "power", "stayon", "usb"]:
            self.settings[("global", "stay_on_while_plugged_in")] = "2"
            return ShellResult("", "", 0, command)
        ans = self.answers.get(tuple(argv))
        if ans is None:
            raise AssertionError(f"stub: unknown command {argv}")
        if isinstance(ans, BaseException):
            raise ans
        if callable(ans):
            ans = ans(list(argv))
        out, err, code = ans
        return ShellResult(out, err, code, command)

    # port mappings
    def reverse_list(self, serial: str, **_: object) -> list[ReverseEntry]:
        return [ReverseEntry(r, l) for r, l in self.reverses.items()]

    def reverse(self, serial: str, remote: str, local: str, **_: object) -> None:
        self.reverses[remote] = local

    def reverse_remove(self, serial: str, remote: str, **_: object) -> None:
        del self.reverses[remote]

    def forward_list(self, serial: str, **_: object) -> list[ForwardEntry]:
        return [ForwardEntry(serial, l, r) for l, r in self.forwards.items()]

    def forward(self, serial: str, local: str, remote: str, **_: object) -> str:
        if local == "tcp:0":
            local = f"tcp:{self.next_port}"
            self.next_port += 1
        self.forwards[local] = remote
        return local

    def forward_remove(self, serial: str, local: str, **_: object) -> None:
        del self.forwards[local]
