"""The one exception tree of mwi.

Infrastructure failures (a phone unreachable, a command timing out, the adb server gone)
are kept apart from measurement failures (a page error, a backend that fell back, text a
parser cannot read).  The CLI maps them to exit codes:

    0 ok, 1 error, 2 bad input / unreadable text, 3 device or lab failure,
    5 nothing measured (a run whose every cell failed, or a phone with no measured cell).

(4 is `mwi check`'s "regression confirmed".)  Exit codes are added, never reused.
"""

from __future__ import annotations


class MwiError(Exception):
    """Base of every error mwi raises on purpose."""

    exit_code = 1

    def one_line(self) -> str:
        text = str(self) or self.__class__.__name__
        return " ".join(text.split())


class UsageError(MwiError):
    """The user asked for something that cannot be done (bad name, bad flag value)."""

    exit_code = 2


class ParseError(MwiError):
    """Text that a parser cannot read.  Carries the source and the offending snippet."""

    exit_code = 2

    def __init__(self, message: str, *, source: str = "", snippet: str = "", line: int | None = None):
        self.message = message
        self.source = source
        self.snippet = snippet[:200]
        self.line = line
        where = f"{source}" if source else "input"
        if line is not None:
            where += f" line {line}"
        text = f"{where}: {message}"
        if self.snippet:
            text += f" (near {self.snippet!r})"
        super().__init__(text)


# ---- infrastructure -------------------------------------------------------------------


class InfraError(MwiError):
    """The lab failed: a device, the adb server, a browser process, a timeout."""

    exit_code = 3


class CommandTimeout(InfraError):
    """A device or host command ran past its deadline."""


class ProcessHung(CommandTimeout):
    """A process on the device gave no result within its deadline (from the cell's budget) and
    was killed there by pid."""


class DeviceError(InfraError):
    """A command on a device failed.  Carries the command, status, output and serial."""

    def __init__(self, message: str, *, serial: str = "", command: str = "", status: int | None = None,
                 output: str = ""):
        self.serial = serial
        self.command = command
        self.status = status
        self.output = output
        parts = [message]
        if serial:
            parts.append(f"serial={serial}")
        if command:
            parts.append(f"command={command!r}")
        if status is not None:
            parts.append(f"exit={status}")
        if output:
            tail = " | ".join(output.strip().splitlines()[-3:])
            parts.append(f"output={tail[:300]!r}")
        super().__init__("; ".join(parts))


class TransientDeviceError(DeviceError):
    """A failure worth one retry: the connection dropped, the device went offline briefly."""


class DeviceNotFound(DeviceError):
    """No device with that serial is attached."""


class DeviceUnauthorized(DeviceError):
    """The phone has not accepted this host's RSA key."""


class DeviceOffline(DeviceError):
    """The phone is attached but offline."""


class DuplicateSerial(MwiError):
    """Two attached phones report one serial (cheap phones ship with one): adb cannot address
    either of them reliably, so neither is measured.  Not an InfraError: waiting will not fix it."""

    exit_code = 3


class AdbServerError(InfraError):
    """The adb server could not be reached or started."""


def device_gone(exc: BaseException) -> bool:
    """The phone itself went away (unplugged, offline, unauthorized, adb server gone): no reading
    of it can succeed until it is recovered, so a wait must not swallow this error."""
    return isinstance(exc, (DeviceNotFound, DeviceOffline, DeviceUnauthorized, TransientDeviceError, AdbServerError))


class BrowserError(InfraError):
    """A browser could not be started, driven or stopped."""


# ---- measurement ---------------------------------------------------------------------


class MeasurementError(MwiError):
    """A measurement could not be taken honestly (page error, backend fallback...)."""


class PageError(MeasurementError):
    """The test page reported an error or never reported at all."""


class BackendFallback(MeasurementError):
    """The framework ran on another backend than the one asked for."""


class NothingMeasured(MeasurementError):
    """A run ended without one measured cell (or a phone of it measured none): its stored records
    say why each cell failed, but there is no number to read, so a script must not see success."""

    exit_code = 5


class ModelError(MwiError):
    """A model could not be built, converted, found or loaded."""


class StoreError(MwiError):
    """A results directory is unreadable, from a newer schema, or inconsistent."""


class DiskFullError(StoreError):
    """The disk filled up (ENOSPC / EDQUOT) while writing a run; nothing half-written is kept.

    The message names the run directory and the command that finishes the run later.
    """

    def __init__(self, message: str, *, run_dir: str = "", path: str = ""):
        self.run_dir = run_dir
        self.path = path
        super().__init__(message)


# ---- concurrency ---------------------------------------------------------------------


class LockBusy(MwiError):
    """Another process holds the lock (a run directory, a phone).  Carries the holder's pid."""

    def __init__(self, message: str, *, holder_pid: int | None = None, lock_path: str = ""):
        self.holder_pid = holder_pid
        self.lock_path = lock_path
        super().__init__(message)
