"""The `Device` facade: one phone, addressed by serial, over one adb server.

Constructors store arguments only; every call that talks to the phone is a named method.
Probes, browser control and conditioning take a `Device`; none of them touch adbutils.

    dev = Device("R58M12345")
    dev.shell(["getprop", "ro.product.model"]).stdout
    with dev.reverse(8123, 8123):          # phone's localhost:8123 -> host's 127.0.0.1:8123
        ...                                # previous mapping (if any) restored on exit
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import CommandTimeout, DeviceError, MwiError, UsageError
from ..parsers import parse_battery, parse_getprop, parse_thermalservice
from ..parsers.battery import BatteryState
from ..parsers.thermal import ThermalReport
from ..retry import retry, time_left, wait_for
from .shell import (
    AdbSession,
    ForwardEntry,
    ReverseEntry,
    ShellResult,
    is_transient,
    validate_device_path,
    validate_serial,
)

if TYPE_CHECKING:
    from .profiles import Profile

__all__ = ["Device", "ShellResult", "fingerprint_from_props", "undo_on_exit"]

log = logging.getLogger(__name__)

# How long a retry waits for a dropped phone to be `device` again (adb reconnects TCP phones).
RECONNECT_WAIT_S = 10.0

_TCP_SERIAL_RE = re.compile(r"^[A-Za-z0-9.\-]+:\d{1,5}$")
_PROP_KEY_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-:@")

class Device:
    """One phone.  `serial` addresses it on every call, so several phones never clash."""

    def __init__(self, serial: str, *, client: AdbSession | None = None, profile: Profile | None = None):
        self.serial = serial
        self._client = client
        self.profile = profile

    def __repr__(self) -> str:
        return f"Device({self.serial!r})"

    @property
    def session(self) -> AdbSession:
        if self._client is None:
            self._client = AdbSession.from_env()
        return self._client

    # ---- shell -----------------------------------------------------------------------

    def shell(self, argv: list[str], *, timeout: float = 30.0, check: bool = True,
              idempotent: bool = False) -> ShellResult:
        """Run argv on the phone; every word is shlex-quoted, the exit code is the real one.

        check: raise DeviceError when the exit code is not 0.
        idempotent: a read that may be retried once after a dropped connection.
        """
        validate_serial(self.serial)

        def once() -> ShellResult:
            return self.session.shell(self.serial, argv, timeout=timeout)

        res = (retry(once, attempts=2, is_transient=is_transient, backoff_s=0.2, on_retry=self._await_back)
               if idempotent else once())
        if check and res.exit_code != 0:
            raise DeviceError("command failed on the device", serial=self.serial, command=res.command,
                              status=res.exit_code, output=(res.stderr or res.stdout))
        return res

    def _await_back(self, exc: BaseException, attempt: int) -> None:
        """Before the one retry: give the adb server time to reconnect a dropped transport."""
        log.info("retrying on %s after: %s", self.serial, exc)
        left = time_left()
        budget = RECONNECT_WAIT_S if left is None else max(0.0, min(RECONNECT_WAIT_S, left - 0.5))
        try:
            wait_for(lambda: self.session.state(self.serial) == "device", timeout=budget, interval=0.1,
                     max_interval=0.5, what=f"{self.serial} to come back")
        except (CommandTimeout, MwiError):
            pass   # the retry itself reports what is wrong (offline, not found)

    def read(self, argv: list[str], *, timeout: float = 30.0) -> str:
        """stdout of an idempotent read that must succeed (`getprop`, `dumpsys ...`)."""
        return self.shell(argv, timeout=timeout, check=True, idempotent=True).stdout

    def props(self, *, timeout: float = 20.0) -> dict[str, str]:
        """All properties as a dict (via the getprop parser)."""
        return parse_getprop(self.read(["getprop"], timeout=timeout), source=f"{self.serial}: getprop")

    def getprop(self, key: str | None = None, *, timeout: float = 20.0) -> dict[str, str] | str:
        """All properties as a dict (via the getprop parser), or one property's value ('' if unset)."""
        if key is None:
            return parse_getprop(self.read(["getprop"], timeout=timeout), source=f"{self.serial}: getprop")
        if not key or not set(key) <= _PROP_KEY_CHARS:
            raise UsageError(f"not a valid property name: {key!r}")
        return self.read(["getprop", key], timeout=timeout).strip()

    def get_setting(self, namespace: str, key: str, *, timeout: float = 10.0) -> str | None:
        """`settings get NS KEY`; None when the setting is unset (`null`)."""
        _check_setting(namespace, key)
        value = self.read(["settings", "get", namespace, key], timeout=timeout).strip()
        return None if value == "null" else value

    def put_setting(self, namespace: str, key: str, value: str | None, *, timeout: float = 10.0) -> None:
        """`settings put NS KEY VALUE`, or `settings delete NS KEY` when value is None."""
        _check_setting(namespace, key)
        # Setting a value twice is harmless: a dropped connection here is retried once, so a
        # restore in a `finally` survives a flaky cable.
        if value is None:
            self.shell(["settings", "delete", namespace, key], timeout=timeout, idempotent=True)
        else:
            self.shell(["settings", "put", namespace, key, str(value)], timeout=timeout, idempotent=True)

    def state(self) -> str | None:
        """`device`, `unauthorized`, `offline`, ... as the adb server sees it; None when absent."""
        return self.session.state(self.serial)

    def wait_until_ready(self, timeout: float = 30.0, *, reconnect: bool = True) -> None:
        """Wait (bounded by the deadline) until the phone is `device`; then require it (typed errors).

        reconnect: a network phone (`HOST:PORT` serial) missing from the server, e.g. after the
        adb server restarted, is `adb connect`ed again while waiting.
        """
        def ready() -> bool:
            st = self.state()
            if st is None and reconnect and _TCP_SERIAL_RE.match(self.serial):
                try:
                    self.session.connect(self.serial, timeout=5.0)
                except MwiError as exc:
                    log.info("reconnecting %s: %s", self.serial, exc.one_line())
                st = self.state()
            return st == "device"

        try:
            wait_for(ready, timeout=timeout, interval=0.2, max_interval=1.0, what=f"{self.serial} to be ready")
        except CommandTimeout:
            pass
        self.session.require_device(self.serial)

    # ---- files -----------------------------------------------------------------------

    def push(self, local: Path, remote: str, *, timeout: float = 120.0) -> None:
        self.session.push(self.serial, Path(local), validate_device_path(remote), timeout=timeout)

    def pull(self, remote: str, local: Path, *, timeout: float = 120.0) -> None:
        self.session.pull(self.serial, validate_device_path(remote), Path(local), timeout=timeout)

    # ---- port mappings ---------------------------------------------------------------

    def list_reverse(self) -> list[ReverseEntry]:
        return self.session.reverse_list(self.serial)

    def list_forward(self) -> list[ForwardEntry]:
        return self.session.forward_list(self.serial)

    @contextlib.contextmanager
    def reverse(self, device_port: int, host_port: int) -> Iterator[None]:
        """Phone's `tcp:device_port` -> host's `tcp:host_port`; the previous mapping is restored."""
        remote, local = f"tcp:{_port(device_port)}", f"tcp:{_port(host_port)}"
        previous = {e.remote: e.local for e in self.list_reverse()}.get(remote)

        def undo() -> None:
            if previous is None:
                self.session.reverse_remove(self.serial, remote)
            elif previous != local:
                self.session.reverse(self.serial, remote, previous)

        self.session.reverse(self.serial, remote, local)
        with undo_on_exit(undo, f"reverse {remote}", self.serial):
            yield

    @contextlib.contextmanager
    def forward(self, local_port: int | None, remote: str) -> Iterator[int]:
        """Host `tcp:local_port` (None: the server picks one) -> phone's `remote`; yields the port."""
        before = {e.local: e.remote for e in self.list_forward()}
        local = "tcp:0" if local_port is None else f"tcp:{_port(local_port)}"
        used = self.session.forward(self.serial, local, remote)
        previous = before.get(used)

        def undo() -> None:
            if previous is None:
                self.session.forward_remove(self.serial, used)
            elif previous != remote:
                self.session.forward(self.serial, used, previous)

        with undo_on_exit(undo, f"forward {used}", self.serial):
            yield int(used.split(":", 1)[1])

    # ---- identity and state ----------------------------------------------------------

    def fingerprint(self) -> dict[str, Any]:
        """Who this phone is: model, manufacturer, Android release, SDK, SoC, ABI, build fingerprint."""
        props = self.getprop()
        assert isinstance(props, dict)
        return fingerprint_from_props(props, serial=self.serial)

    def battery(self, *, timeout: float = 30.0) -> BatteryState:
        """`dumpsys battery` through the battery parser."""
        return parse_battery(self.read(["dumpsys", "battery"], timeout=timeout),
                             source=f"{self.serial}: dumpsys battery")

    def thermal_status(self, *, timeout: float = 30.0) -> ThermalReport:
        """`dumpsys thermalservice` through the thermal parser (`.status` 0 NONE .. 6 SHUTDOWN)."""
        return parse_thermalservice(self.read(["dumpsys", "thermalservice"], timeout=timeout),
                                    source=f"{self.serial}: dumpsys thermalservice")


@contextlib.contextmanager
def undo_on_exit(undo: Callable[[], None], what: str, serial: str) -> Iterator[None]:
    """Run `undo` when the block ends.  If the block raised, that error wins: a failing undo
    is logged, not allowed to hide it.  If the block succeeded, a failing undo raises."""
    try:
        yield
    except BaseException:
        try:
            undo()
        except Exception as exc:  # noqa: BLE001 - the block's own error is the one to see
            log.error("could not undo %s on %s: %s", what, serial, exc)
        raise
    undo()


def fingerprint_from_props(props: dict[str, str], *, serial: str = "") -> dict[str, Any]:
    """Pick the identity fields out of a getprop dict (absent ones are None)."""
    def first(*keys: str) -> str | None:
        for k in keys:
            v = props.get(k)
            if v:
                return v
        return None

    sdk_text = first("ro.build.version.sdk")
    return {
        "serial": serial,
        "model": first("ro.product.model", "ro.product.vendor.model", "ro.product.system.model"),
        "manufacturer": first("ro.product.manufacturer", "ro.product.vendor.manufacturer"),
        "brand": first("ro.product.brand"),
        "device": first("ro.product.device", "ro.product.vendor.device"),
        "android_release": first("ro.build.version.release_or_codename", "ro.build.version.release"),
        "sdk": int(sdk_text) if sdk_text and sdk_text.isdigit() else None,
        "soc": _soc(props),
        "board_platform": first("ro.board.platform"),
        "hardware": first("ro.hardware"),
        "abi": first("ro.product.cpu.abi"),
        "abilist": first("ro.product.cpu.abilist"),
        "fingerprint": first("ro.build.fingerprint", "ro.vendor.build.fingerprint"),
        "build_type": first("ro.build.type"),
    }


def _soc(props: dict[str, str]) -> str | None:
    """`QTI SM8750` from ro.soc.* (Android 12+), else the board platform (`kona`), else ro.hardware."""
    model = props.get("ro.soc.model")
    if model:
        maker = props.get("ro.soc.manufacturer")
        return f"{maker} {model}" if maker else model
    return props.get("ro.board.platform") or props.get("ro.hardware") or None


def _port(p: int) -> int:
    if isinstance(p, bool) or not isinstance(p, int) or not 0 < p < 65536:
        raise UsageError(f"not a TCP port: {p!r}")
    return p


def _check_setting(namespace: str, key: str) -> None:
    if namespace not in ("system", "secure", "global"):
        raise UsageError(f"settings namespace must be system, secure or global: {namespace!r}")
    if not key or not set(key) <= _PROP_KEY_CHARS:
        raise UsageError(f"not a valid setting name: {key!r}")

