"""What a probe needs from a device, and the probe contract.

A probe = `name` + `supported(device)` + `sample(device) -> record` (+ `data(record)`, the
compact dict a sampler stores).  Probes take anything shaped like `ShellLike` (the real
`mobile_webinfer.adb.device.Device`, the fake phone, or a test double), never adbutils.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from ..adb.shell import validate_package

__all__ = ["Probe", "ShellLike", "ShellResultLike", "validate_package"]



class ShellResultLike(Protocol):
    @property
    def stdout(self) -> str: ...
    @property
    def stderr(self) -> str: ...
    @property
    def exit_code(self) -> int: ...


@runtime_checkable
class ShellLike(Protocol):
    """The slice of `Device` probes use: argv words are quoted by the device layer."""

    @property
    def serial(self) -> str: ...

    def shell(self, argv: list[str], *, timeout: float = 30.0, check: bool = True) -> ShellResultLike: ...


class Probe:
    """Base class: subclasses set `name`, `service` (a dumpsys service or None) and implement `sample`."""

    name: str = "probe"
    service: str | None = None  # checked with `service check <name>` by supported()
    timeout_s: float = 15.0
    default_interval_s: float = 1.0  # minimum seconds between two samples of this probe

    def supported(self, device: ShellLike) -> bool:
        """Whether the phone offers what this probe reads.

        `service check <name>` (one cheap call, every Android version); where that command is
        missing, one run of the probe's own command must exit 0 and not say the service is unknown.
        """
        if self.service is None:
            return True
        res = device.shell(["service", "check", self.service], timeout=10.0, check=False)
        out = res.stdout.strip()
        if res.exit_code == 0 and out.startswith("Service "):
            return out.endswith(": found")
        res = device.shell(self.command(), timeout=self.timeout_s, check=False)
        return res.exit_code == 0 and "Can't find service" not in res.stdout

    def command(self) -> list[str]:
        """The argv one sample runs."""
        raise NotImplementedError

    def sample(self, device: ShellLike) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def data(self, record: Any) -> dict:
        """The compact, JSON-ready dict stored per sample (default: the record's to_json())."""
        return record.to_json()

    def reset(self) -> None:
        """Forget state kept between samples (deltas, already-seen frames)."""

    def _run(self, device: ShellLike, argv: list[str]) -> str:
        return device.shell(argv, timeout=self.timeout_s, check=True).stdout
