"""pytest fixtures: a private adb server and fake phones connected to it.

- ``adb_server`` (session): ``adb -P PORT start-server`` on a free port (never 5037 nor
  5555-5585) with its own HOME/TMPDIR; ``ANDROID_ADB_SERVER_PORT`` and ``ADBUTILS_ADB_PATH``
  are set while it lives; ``adb -P PORT kill-server`` at the end.
- ``fake_phone``: a factory ``fake_phone(profile="pixel", **faults)`` that starts a fake phone
  (a subprocess by default, ``in_process=True`` for a thread), connects it and waits until
  ``adb devices`` lists it as ``device``.  The handle has ``.serial``, ``.control``,
  ``.commands``, ``.adb(...)`` and ``.stop()``; everything is stopped on teardown.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

ADB = os.environ.get("FAKEPHONE_ADB", "/usr/bin/adb")
REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """An ephemeral TCP port on 127.0.0.1 that is neither 5037 nor in adb's 5555-5585 scan range."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port != 5037 and not 5554 <= port <= 5585:
            return port
    raise RuntimeError("no free port found")


@dataclass
class AdbServer:
    """A private adb server."""

    port: int
    home: str
    env: dict[str, str]

    def adb(self, *args: str, timeout: float = 20.0, check: bool = True) -> subprocess.CompletedProcess:
        """Run ``adb -P PORT ARGS`` against this server."""
        proc = subprocess.run([ADB, "-P", str(self.port), *args], env=self.env, capture_output=True,
                              text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise RuntimeError(f"adb {' '.join(args)} failed ({proc.returncode}): {proc.stdout}{proc.stderr}")
        return proc

    def devices(self) -> dict[str, str]:
        """serial -> state, from ``adb devices``."""
        out = self.adb("devices").stdout
        rows = [line.split() for line in out.splitlines()[1:] if line.strip()]
        return {r[0]: r[1] for r in rows if len(r) >= 2}

    def wait_state(self, serial: str, state: str, timeout: float = 15.0) -> None:
        end = time.monotonic() + timeout
        seen = None
        while time.monotonic() < end:
            seen = self.devices().get(serial)
            if seen == state:
                return
            time.sleep(0.1)
        raise TimeoutError(f"{serial} did not become {state!r} (last: {seen!r})")

    def connect(self, serial: str, timeout: float = 15.0) -> None:
        end = time.monotonic() + timeout
        while True:
            out = self.adb("connect", serial, check=False)
            if "connected to" in out.stdout:
                break
            if time.monotonic() > end:
                raise RuntimeError(f"adb connect {serial} failed: {out.stdout}{out.stderr}")
            time.sleep(0.2)
        self.wait_state(serial, "device", timeout)

    def restart(self, reconnect: tuple[str, ...] = ()) -> None:
        """Kill and start the server on the same port (its transports and reverses are gone),
        then ``adb connect`` each serial in ``reconnect``."""
        self.adb("kill-server", check=False)
        with open(os.path.join(self.home, "start-server.log"), "a") as log:
            subprocess.run([ADB, "-P", str(self.port), "start-server"], env=self.env, stdout=log, stderr=log,
                           stdin=subprocess.DEVNULL, timeout=30, check=True)
        for serial in reconnect:
            self.connect(serial)

    def kill(self) -> None:
        """``adb -P PORT kill-server`` and remove the private HOME."""
        subprocess.run([ADB, "-P", str(self.port), "kill-server"], env=self.env, capture_output=True, timeout=30)
        shutil.rmtree(self.home, ignore_errors=True)

    def adbutils_device(self, serial: str) -> Any:
        import adbutils
        return adbutils.AdbClient(host="127.0.0.1", port=self.port).device(serial)


def start_adb_server() -> AdbServer:
    """Start a private adb server (free port, own HOME and TMPDIR); stop it with ``.kill()``."""
    home = tempfile.mkdtemp(prefix="fakephone-adb-home-")
    port = free_port()
    env = dict(os.environ, HOME=home, TMPDIR=home, ANDROID_ADB_SERVER_PORT=str(port),
               ADBUTILS_ADB_PATH=ADB)
    env.pop("ADB_SERVER_SOCKET", None)
    env.pop("ANDROID_SERIAL", None)
    server = AdbServer(port, home, env)
    with open(os.path.join(home, "start-server.log"), "w") as log:
        subprocess.run([ADB, "-P", str(port), "start-server"], env=env, stdout=log, stderr=log,
                       stdin=subprocess.DEVNULL, timeout=30, check=True)
    return server


@pytest.fixture(scope="session")
def adb_server() -> Iterator[AdbServer]:
    server = start_adb_server()
    saved = {k: os.environ.get(k) for k in ("ANDROID_ADB_SERVER_PORT", "ADBUTILS_ADB_PATH", "ADB_SERVER_SOCKET")}
    os.environ["ANDROID_ADB_SERVER_PORT"] = str(server.port)
    os.environ["ADBUTILS_ADB_PATH"] = ADB
    os.environ.pop("ADB_SERVER_SOCKET", None)
    try:
        yield server
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.kill()


@dataclass
class FakePhoneHandle:
    """A running fake phone connected to the private adb server."""

    serial: str
    control: Any
    server: AdbServer
    process: subprocess.Popen | None = None
    phone: Any = None  # the FakePhone when in-process
    _stopped: bool = field(default=False)

    @property
    def commands(self) -> list[str]:
        """Shell command lines the phone received so far."""
        return self.control.commands()

    def adb(self, *args: str, timeout: float = 30.0, check: bool = False) -> subprocess.CompletedProcess:
        return self.server.adb("-s", self.serial, *args, timeout=timeout, check=check)

    def device(self) -> Any:
        """An adbutils device for this phone."""
        return self.server.adbutils_device(self.serial)

    def reconnect(self, timeout: float = 15.0) -> None:
        self.server.connect(self.serial, timeout)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.server.adb("disconnect", self.serial, check=False)
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.phone is not None:
            self.phone.stop()


def start_fake_phone(server: AdbServer, profile: str = "pixel", *, in_process: bool = False,
                     connect: bool | None = None, extra_args: tuple[str, ...] = (), **faults: Any) -> FakePhoneHandle:
    """Start a fake phone, connect it to ``server`` and wait until it is a ``device``.

    ``faults`` are :class:`tests.fakephone.Faults` fields (drop_on=..., hang_on=...,
    thermal_rise_every_s=..., battery_rise_c_per_s=..., renderer_dies_after_s=..., ...).
    """
    if in_process:
        from .control import LocalControl
        from .faults import Faults
        from .phone import FakePhone

        f = Faults()
        for name, value in faults.items():
            f.set(name, value) if name in Faults.SETTABLE else setattr(f, name, value)
        phone = FakePhone(profile, faults=f).start()
        handle = FakePhoneHandle(phone.serial, LocalControl(phone), server, phone=phone)
    else:
        cmd = [sys.executable, "-m", "tests.fakephone", "--port", "0", "--profile", profile, *extra_args]
        flag_names = {"drop_on": "--drop-on", "hang_on": "--hang-on", "thermal_status": "--thermal-status",
                      "thermal_rise_every_s": "--thermal-rise-every", "battery_temp_c": "--battery-temp",
                      "battery_rise_c_per_s": "--battery-rise", "renderer_dies_after_s": "--renderer-dies-after",
                      "offline_for_s": "--offline-for", "time_scale": "--time-scale", "drift": "--drift"}
        bool_flags = {"unauthorized": "--unauthorized", "offline": "--offline", "heat_model": "--heat-model"}
        for name, value in faults.items():
            if name in bool_flags:
                cmd += [bool_flags[name]] if value else []
                continue
            if name not in flag_names:
                raise ValueError(f"fault {name!r} cannot be given at start to a subprocess fake; "
                                 "use handle.control.set_fault()")
            for v in value if isinstance(value, list) else [value]:
                cmd += [flag_names[name], str(v)]
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=None, text=True,
                                env=dict(os.environ, PYTHONUNBUFFERED="1"))
        assert proc.stdout is not None
        serial = proc.stdout.readline().strip()
        control_line = proc.stdout.readline().strip()
        if not serial.startswith("127.0.0.1:") or not control_line.startswith("control "):
            proc.kill()
            raise RuntimeError(f"fake phone did not start: {serial!r} {control_line!r}")
        from .control import RemoteControl

        host, cport = control_line.split()[1].rsplit(":", 1)
        handle = FakePhoneHandle(serial, RemoteControl(host, int(cport)), server, process=proc)
    if connect is None:
        connect = not faults.get("unauthorized") and not faults.get("offline")
    if connect:
        try:
            server.connect(handle.serial)
        except Exception:
            handle.stop()
            raise
    return handle


@pytest.fixture
def fake_phone(adb_server: AdbServer) -> Iterator[Callable[..., FakePhoneHandle]]:
    handles: list[FakePhoneHandle] = []

    def factory(profile: str = "pixel", **kwargs: Any) -> FakePhoneHandle:
        handle = start_fake_phone(adb_server, profile, **kwargs)
        handles.append(handle)
        return handle

    try:
        yield factory
    finally:
        for handle in handles:
            handle.stop()
