"""The one seam to adbutils: server address, shell v2 with exit codes, sync, forward, reverse.

No other module in mwi imports adbutils.  Everything here speaks in plain Python values and
mwi's own exceptions, so the rest of the code never sees an adbutils type or error:

    session = AdbSession.from_env()          # honours ANDROID_ADB_SERVER_PORT / ADB_SERVER_SOCKET
    res = session.shell("SERIAL", ["getprop", "ro.product.model"], timeout=10)
    res.stdout, res.exit_code                 # exit code from shell protocol v2, never assumed 0

Words are always `shlex.quote`d here; names are validated by the `validate_*` helpers.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import adbutils
from adbutils.errors import AdbConnectionError, AdbError, AdbTimeout

from ..errors import (
    AdbServerError,
    CommandTimeout,
    DeviceError,
    DeviceNotFound,
    DeviceOffline,
    DeviceUnauthorized,
    TransientDeviceError,
    UsageError,
)
from ..retry import effective_timeout

T = TypeVar("T")

DEFAULT_ADB_PORT = 5037
DEBIAN_ADB = "/usr/bin/adb"

# Shell protocol v2 packet ids (AOSP adb shell_protocol.h).
_V2_STDIN, _V2_STDOUT, _V2_STDERR, _V2_EXIT, _V2_CLOSE_STDIN = 0, 1, 2, 3, 4


@dataclass(frozen=True)
class ShellResult:
    """What one `adb shell` command gave back."""

    stdout: str
    stderr: str
    exit_code: int
    command: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


@dataclass(frozen=True)
class ServerAddress:
    host: str
    port: int

    @property
    def is_local(self) -> bool:
        return self.host in ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class AdbDeviceEntry:
    """One line of `adb devices -l`: serial, state and the key:value tags."""

    serial: str
    state: str
    tags: tuple[tuple[str, str], ...] = ()

    def tag(self, key: str) -> str | None:
        return dict(self.tags).get(key)


@dataclass(frozen=True)
class ForwardEntry:
    serial: str
    local: str
    remote: str


@dataclass(frozen=True)
class ReverseEntry:
    """A reverse mapping: `remote` is the phone's side (tcp:N), `local` the host's side."""

    remote: str
    local: str


# ---- validation (module-level; used by everyone) ---------------------------------------

_PACKAGE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$")
_SERIAL_RE = re.compile(r"^[A-Za-z0-9._:\-\[\]]{1,128}$")
_DEVICE_PATH_RE = re.compile(r"^/[A-Za-z0-9._+@,=\-/]*$")
_ACTIVITY_RE = re.compile(r"^[A-Za-z0-9_.$]+$")
_SOCKET_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-@]{1,100}$")
# `&` separates query parameters and is safe once quoted; these never belong in our URLs.
_URL_FORBIDDEN = set("\"'`\\\n\r\t <>|;$(){}")


def validate_package(name: str) -> str:
    """An Android package name (`com.android.chrome`); UsageError otherwise."""
    if not isinstance(name, str) or not _PACKAGE_RE.match(name) or len(name) > 255:
        raise UsageError(f"not a valid Android package name: {name!r}")
    return name


def validate_activity(name: str) -> str:
    """An activity class name, absolute (`com.x.Main`) or relative (`.Main`)."""
    if not isinstance(name, str) or not name or not _ACTIVITY_RE.match(name):
        raise UsageError(f"not a valid activity name: {name!r}")
    return name


def validate_serial(serial: str) -> str:
    """A device serial as adb prints it (`R58M12345`, `127.0.0.1:40123`, `emulator-5554`)."""
    if not isinstance(serial, str) or not _SERIAL_RE.match(serial):
        raise UsageError(f"not a valid device serial: {serial!r}")
    return serial


def validate_device_path(path: str) -> str:
    """An absolute path on the phone made of safe characters, without `..` segments."""
    if not isinstance(path, str) or not _DEVICE_PATH_RE.match(path) or ".." in path.split("/"):
        raise UsageError(f"not a valid device path: {path!r}")
    return path


def validate_url(url: str) -> str:
    """An http(s) URL without quotes, spaces, newlines or shell metacharacters."""
    if not isinstance(url, str) or not url:
        raise UsageError(f"not a valid URL: {url!r}")
    bad = sorted(set(url) & _URL_FORBIDDEN)
    if bad:
        raise UsageError(f"URL contains forbidden characters {''.join(bad)!r}: {url!r}")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise UsageError(f"URL contains control characters: {url!r}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"only http(s) URLs with a host can be opened: {url!r}")
    return url


def validate_socket_name(name: str) -> str:
    """An abstract unix socket name such as `chrome_devtools_remote`."""
    if not isinstance(name, str) or not _SOCKET_NAME_RE.match(name):
        raise UsageError(f"not a valid socket name: {name!r}")
    return name


def quote_argv(argv: list[str]) -> str:
    """Join words for `adb shell`, each one shlex-quoted (the device's sh sees literals)."""
    if isinstance(argv, (str, bytes)) or not argv:
        raise UsageError("a shell command is a non-empty list of words")
    words = []
    for w in argv:
        if not isinstance(w, (str, int)):
            raise UsageError(f"shell words must be strings, got {type(w).__name__}")
        w = str(w)
        if "\x00" in w or "\n" in w or "\r" in w:
            raise UsageError(f"shell word contains a NUL or newline: {w!r}")
        words.append(shlex.quote(w))
    return " ".join(words)


# ---- server address and binary --------------------------------------------------------


def server_address(env: dict[str, str] | None = None) -> ServerAddress:
    """Where the adb server listens, read from the environment like `adb` does.

    ADB_SERVER_SOCKET=tcp:HOST:PORT (or tcp:PORT) wins; then ANDROID_ADB_SERVER_ADDRESS /
    ANDROID_ADB_SERVER_HOST for the host and ANDROID_ADB_SERVER_PORT for the port.
    """
    env = dict(os.environ) if env is None else env
    sock = env.get("ADB_SERVER_SOCKET", "").strip()
    if sock:
        m = re.fullmatch(r"tcp:(?:(\[[^\]]+\]|[^:]+):)?(\d{1,5})", sock)
        if not m:
            raise UsageError(f"ADB_SERVER_SOCKET must be tcp:HOST:PORT or tcp:PORT, got {sock!r}")
        host = (m.group(1) or "127.0.0.1").strip("[]")
        return ServerAddress(host, _port(m.group(2), "ADB_SERVER_SOCKET"))
    host = env.get("ANDROID_ADB_SERVER_ADDRESS") or env.get("ANDROID_ADB_SERVER_HOST") or "127.0.0.1"
    port_text = env.get("ANDROID_ADB_SERVER_PORT", "").strip()
    port = _port(port_text, "ANDROID_ADB_SERVER_PORT") if port_text else DEFAULT_ADB_PORT
    return ServerAddress(host, port)


def _port(text: str, what: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise UsageError(f"{what} must be a TCP port (1-65535), got {text!r}")
    return int(text)


def adb_binary(env: dict[str, str] | None = None) -> str:
    """The adb executable: ADBUTILS_ADB_PATH, else Debian's /usr/bin/adb, else `adb` on PATH."""
    env = dict(os.environ) if env is None else env
    path = env.get("ADBUTILS_ADB_PATH")
    if path:
        if not os.access(path, os.X_OK):
            raise AdbServerError(f"ADBUTILS_ADB_PATH={path} is not an executable adb")
        return path
    if os.access(DEBIAN_ADB, os.X_OK):
        return DEBIAN_ADB
    found = shutil.which("adb")
    if found:
        return found
    raise AdbServerError("no adb binary found: install Android platform-tools (Debian: apt install adb) "
                         "or set ADBUTILS_ADB_PATH")


# ---- error translation ----------------------------------------------------------------

_TRANSIENT_OS = (EOFError, ConnectionResetError, ConnectionAbortedError, BrokenPipeError)


def is_transient(exc: BaseException) -> bool:
    """The retry predicate for idempotent device reads."""
    return isinstance(exc, TransientDeviceError)


def _translate(exc: BaseException, serial: str, command: str) -> Exception:
    """Map an adbutils / socket exception to mwi's tree, keeping serial and command."""
    if isinstance(exc, (DeviceError, CommandTimeout, AdbServerError, UsageError)):
        return exc
    text = " ".join(str(a) for a in getattr(exc, "args", ()) if a) or exc.__class__.__name__
    low = text.lower()
    if isinstance(exc, (AdbTimeout, socket.timeout, TimeoutError)):
        return CommandTimeout(f"adb command timed out; serial={serial}; command={command!r}")
    if isinstance(exc, AdbConnectionError):
        return AdbServerError(f"cannot reach the adb server: {text}")
    if isinstance(exc, _TRANSIENT_OS):
        return TransientDeviceError(f"connection to the device dropped ({exc.__class__.__name__})",
                                    serial=serial, command=command, output=text)
    if isinstance(exc, AdbError):
        if "not found" in low and ("device" in low or "serial" in low):
            return DeviceNotFound(f"no device with serial {serial!r} is attached", serial=serial)
        if "unauthorized" in low:
            return DeviceUnauthorized("device unauthorized: accept this computer's RSA key on the phone",
                                      serial=serial, command=command)
        if "offline" in low:
            return DeviceOffline("device is offline", serial=serial, command=command)
        if "connection closed" in low or "closed" in low or "eof" in low or "unknown data: b''" in low:
            # an empty read: the server or the transport went away mid-answer
            return TransientDeviceError("connection to the device dropped", serial=serial,
                                        command=command, output=text)
        return DeviceError(f"adb failed: {text}", serial=serial, command=command)
    if isinstance(exc, OSError):
        return TransientDeviceError(f"socket error talking to the device: {text}", serial=serial,
                                    command=command)
    return exc if isinstance(exc, Exception) else RuntimeError(text)


# ---- the session ----------------------------------------------------------------------


class AdbSession:
    """A handle on one adb server.  Constructing it talks to nothing; calls do.

    Every call takes a timeout clipped to the shared deadline (`retry.deadline`).
    """

    def __init__(self, host: str | None = None, port: int | None = None, *, adb_path: str | None = None):
        addr = server_address() if host is None or port is None else None
        self.host = host if host is not None else addr.host  # type: ignore[union-attr]
        self.port = port if port is not None else addr.port  # type: ignore[union-attr]
        self._adb_path = adb_path
        self._features: dict[str, frozenset[str]] = {}
        self._lock = threading.Lock()
        self._server_checked = False

    @classmethod
    def from_env(cls) -> AdbSession:
        addr = server_address()
        return cls(addr.host, addr.port)

    def __repr__(self) -> str:
        return f"AdbSession({self.host}:{self.port})"

    # -- server --

    @property
    def adb_path(self) -> str:
        return self._adb_path or adb_binary()

    def server_running(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def ensure_server(self, timeout: float = 20.0) -> None:
        """Start the adb server (with the chosen binary, on our port) when nobody listens."""
        with self._lock:
            if self._server_checked and self.server_running():
                return
            binary = self.adb_path
            # adbutils starts a server on its own when a connect fails; make sure it would use
            # the same binary instead of its bundled one.
            os.environ.setdefault("ADBUTILS_ADB_PATH", binary)
            if not self.server_running():
                if not ServerAddress(self.host, self.port).is_local:
                    raise AdbServerError(f"no adb server at {self.host}:{self.port} (remote: not started)")
                t = effective_timeout(timeout, "adb start-server") or timeout
                try:
                    proc = subprocess.run([binary, "-P", str(self.port), "start-server"],
                                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                          timeout=t)
                except subprocess.TimeoutExpired as exc:
                    raise AdbServerError(f"`adb start-server` on port {self.port} hung for {t:.0f} s") from exc
                except OSError as exc:
                    raise AdbServerError(f"cannot run {binary}: {exc}") from exc
                if proc.returncode != 0 or not self.server_running():
                    out = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [""]
                    raise AdbServerError(f"adb server failed to start on port {self.port}: {out[0]}")
            self._server_checked = True

    def _client(self, timeout: float | None) -> adbutils.AdbClient:
        self.ensure_server()
        return adbutils.AdbClient(host=self.host, port=self.port, socket_timeout=timeout)

    def _call(self, serial: str, command: str, timeout: float | None, fn: Callable[[adbutils.AdbClient], T]) -> T:
        t = effective_timeout(timeout, command)
        try:
            return fn(self._client(t))
        except Exception as exc:  # noqa: BLE001 - translated below
            raise _translate(exc, serial, command) from exc

    # -- host services --

    def list_devices(self, timeout: float = 10.0) -> list[AdbDeviceEntry]:
        """`adb devices -l`, including unauthorized and offline phones."""
        def run(c: adbutils.AdbClient) -> list[AdbDeviceEntry]:
            return [AdbDeviceEntry(i.serial, i.state, tuple(sorted(i.tags.items())))
                    for i in c.list(extended=True)]
        return self._call("", "host:devices-l", timeout, run)

    def state(self, serial: str, timeout: float = 5.0) -> str | None:
        """`device`, `unauthorized`, `offline`, ... or None when the serial is not attached."""
        validate_serial(serial)
        for e in self.list_devices(timeout):
            if e.serial == serial:
                return e.state
        return None

    def require_device(self, serial: str, timeout: float = 10.0) -> None:
        """Raise DeviceNotFound / DeviceUnauthorized / DeviceOffline unless the phone is usable."""
        st = self.state(serial, timeout)
        if st is None:
            raise DeviceNotFound(f"no device with serial {serial!r} is attached (see `mwi devices`)",
                                 serial=serial)
        if st == "unauthorized":
            raise DeviceUnauthorized("device unauthorized: accept this computer's RSA key on the phone",
                                     serial=serial)
        if st == "offline":
            raise DeviceOffline("device is offline: replug it or restart adbd", serial=serial)
        if st != "device":
            raise DeviceError(f"device is in state {st!r}, not 'device'", serial=serial)

    def connect(self, addr: str, timeout: float = 10.0) -> str:
        """`adb connect HOST:PORT`; returns the server's answer."""
        validate_serial(addr)
        return self._call(addr, f"host:connect:{addr}", timeout, lambda c: c.connect(addr, timeout=timeout))

    def disconnect(self, addr: str, timeout: float = 10.0) -> str:
        validate_serial(addr)
        return self._call(addr, f"host:disconnect:{addr}", timeout, lambda c: c.disconnect(addr) or "")

    # -- device services --

    def features(self, serial: str, timeout: float = 10.0, *, for_command: str = "features") -> frozenset[str]:
        """The device's adb features (`shell_v2`, `cmd`, `stat_v2`, ...), cached per serial."""
        if serial not in self._features:
            text = self._call(serial, for_command, timeout, lambda c: c.device(serial).get_features())
            self._features[serial] = frozenset(f for f in text.strip().split(",") if f)
        return self._features[serial]

    def shell(self, serial: str, argv: list[str], *, timeout: float = 30.0) -> ShellResult:
        """Run argv (every word quoted) and return stdout, stderr and the real exit code.

        Uses shell protocol v2; on a device without it, appends an explicit exit marker whose
        absence is an error.  Raises CommandTimeout when the (clipped) timeout passes.
        """
        validate_serial(serial)
        command = quote_argv(argv)
        t = effective_timeout(timeout, command) or timeout
        t_end = time.monotonic() + t
        if "shell_v2" in self.features(serial, timeout=min(t, 10.0), for_command=command):
            return self._shell_v2(serial, command, t_end)
        return self._shell_marker(serial, command, t_end)

    def _shell_v2(self, serial: str, command: str, t_end: float) -> ShellResult:
        out, err = bytearray(), bytearray()
        conn = None
        try:
            client = self._client(max(0.05, t_end - time.monotonic()))
            conn = client.device(serial).open_transport(timeout=max(0.05, t_end - time.monotonic()))
            conn.send_command(f"shell,v2:{command}")
            conn.check_okay()
            # No stdin for our commands: say so, so that a reader of stdin sees EOF.
            conn.conn.sendall(bytes([_V2_CLOSE_STDIN]) + (0).to_bytes(4, "little"))
            exit_code: int | None = None
            while exit_code is None:
                left = t_end - time.monotonic()
                if left <= 0:
                    raise TimeoutError("deadline")
                conn.conn.settimeout(left)
                header = _read_exact(conn.conn, 5, t_end)
                kind = header[0]
                length = int.from_bytes(header[1:5], "little")
                data = _read_exact(conn.conn, length, t_end) if length else b""
                if kind == _V2_STDOUT:
                    out += data
                elif kind == _V2_STDERR:
                    err += data
                elif kind == _V2_EXIT:
                    if len(data) < 1:
                        raise EOFError("exit packet without a status byte")
                    exit_code = data[0]
        except Exception as exc:  # noqa: BLE001
            raise _translate(exc, serial, command) from exc
        finally:
            if conn is not None:
                conn.close()
        return ShellResult(out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), exit_code, command)

    def _shell_marker(self, serial: str, command: str, t_end: float) -> ShellResult:
        marker = f"__MWI_EXIT_{os.getpid()}_{time.monotonic_ns()}__"
        wrapped = f"{command}; echo {marker}$?"
        conn = None
        try:
            client = self._client(max(0.05, t_end - time.monotonic()))
            conn = client.device(serial).open_transport(timeout=max(0.05, t_end - time.monotonic()))
            conn.send_command(f"shell:{wrapped}")
            conn.check_okay()
            buf = bytearray()
            while True:
                left = t_end - time.monotonic()
                if left <= 0:
                    raise TimeoutError("deadline")
                conn.conn.settimeout(left)
                chunk = conn.conn.recv(65536)
                if not chunk:
                    break
                buf += chunk
        except Exception as exc:  # noqa: BLE001
            raise _translate(exc, serial, command) from exc
        finally:
            if conn is not None:
                conn.close()
        text = buf.decode("utf-8", "replace")
        idx = text.rfind(marker)
        tail = text[idx + len(marker):].strip() if idx >= 0 else ""
        if idx < 0 or not tail.isdigit():
            raise TransientDeviceError("shell output ended without the exit marker", serial=serial,
                                       command=command, output=text[-300:])
        return ShellResult(text[:idx].replace("\r\n", "\n"), "", int(tail), command)

    def push(self, serial: str, local: Path, remote: str, *, timeout: float = 120.0, mode: int = 0o644) -> int:
        validate_serial(serial)
        validate_device_path(remote)
        local = Path(local)
        if not local.is_file():
            raise UsageError(f"no such local file to push: {local}")
        size = local.stat().st_size

        def run(c: adbutils.AdbClient) -> int:
            n = c.device(serial).sync.push(local, remote, mode=mode, check=True)
            return int(n)
        n = self._call(serial, f"push {local} {remote}", timeout, run)
        if n != size:
            raise DeviceError(f"push sent {n} of {size} bytes", serial=serial, command=f"push {remote}")
        return n

    def pull(self, serial: str, remote: str, local: Path, *, timeout: float = 120.0) -> int:
        validate_serial(serial)
        validate_device_path(remote)
        local = Path(local)
        tmp = local.with_name(local.name + ".part")

        def run(c: adbutils.AdbClient) -> int:
            return int(c.device(serial).sync.pull_file(remote, tmp))
        try:
            n = self._call(serial, f"pull {remote}", timeout, run)
            os.replace(tmp, local)
            return n
        finally:
            tmp.unlink(missing_ok=True)

    def forward(self, serial: str, local: str, remote: str, *, timeout: float = 10.0) -> str:
        """`adb forward LOCAL REMOTE`; `tcp:0` lets the server pick; returns the local spec used."""
        validate_serial(serial)
        _check_spec(local)
        _check_spec(remote)
        cmd = f"host-serial:{serial}:forward:{local};{remote}"

        def run(c: adbutils.AdbClient) -> str:
            with c.make_connection() as conn:
                conn.send_command(cmd)
                conn.check_okay()   # the server took the request
                conn.check_okay()   # the forward was installed
                if local == "tcp:0":
                    return f"tcp:{int(conn.read_string_block())}"
                return local
        return self._call(serial, cmd, timeout, run)

    def forward_list(self, serial: str, *, timeout: float = 10.0) -> list[ForwardEntry]:
        validate_serial(serial)

        def run(c: adbutils.AdbClient) -> list[ForwardEntry]:
            return [ForwardEntry(i.serial, i.local, i.remote) for i in c.forward_list()
                    if i.serial == serial]
        return self._call(serial, "host:list-forward", timeout, run)

    def forward_remove(self, serial: str, local: str, *, timeout: float = 10.0) -> None:
        validate_serial(serial)
        _check_spec(local)
        self._call(serial, f"killforward:{local}", timeout,
                   lambda c: c.device(serial).forward_remove(local, raise_non_found=True))

    def reverse(self, serial: str, remote: str, local: str, *, timeout: float = 10.0) -> None:
        """`adb reverse REMOTE LOCAL` (REMOTE is the phone's side)."""
        validate_serial(serial)
        _check_spec(remote)
        _check_spec(local)
        self._call(serial, f"reverse:forward:{remote};{local}", timeout,
                   lambda c: c.device(serial).reverse(remote, local))

    def reverse_list(self, serial: str, *, timeout: float = 10.0) -> list[ReverseEntry]:
        validate_serial(serial)
        return self._call(serial, "reverse:list-forward", timeout,
                          lambda c: [ReverseEntry(i.remote, i.local) for i in c.device(serial).reverse_list()])

    def reverse_remove(self, serial: str, remote: str, *, timeout: float = 10.0) -> None:
        validate_serial(serial)
        _check_spec(remote)
        self._call(serial, f"reverse:killforward:{remote}", timeout,
                   lambda c: c.device(serial).reverse_remove(remote))


_SPEC_RE = re.compile(r"^(tcp:\d{1,5}|localabstract:[A-Za-z0-9_.\-@]{1,100}|localreserved:[A-Za-z0-9_.\-]{1,100}"
                      r"|localfilesystem:/[A-Za-z0-9_./\-]{1,200}|jdwp:\d+)$")


def _check_spec(spec: str) -> str:
    if not isinstance(spec, str) or not _SPEC_RE.match(spec):
        raise UsageError(f"not a valid adb socket spec: {spec!r}")
    return spec


def _read_exact(sock: socket.socket, n: int, t_end: float) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        left = t_end - time.monotonic()
        if left <= 0:
            raise TimeoutError("deadline")
        sock.settimeout(left)
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError(f"stream closed after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)

