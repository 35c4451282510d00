"""Run-time control of a fake phone: in-process (:class:`LocalControl`) or over a socket.

The socket speaks JSON lines: ``{"op": NAME, "args": {...}}`` -> ``{"ok": true, "result": ...}``
or ``{"ok": false, "error": "..."}``.  Both controls offer the same methods.
"""

from __future__ import annotations

import json
import socket
import socketserver
import threading
from typing import Any

from .phone import FakePhone

OPS = ("ping", "commands", "services", "sync_ops", "clear_log", "set_fault", "faults", "go_offline", "come_online",
       "drop_connection", "kill_renderer", "freeze_renderer", "browsers", "settings", "heat", "battery_overrides",
       "reboot", "native_processes", "browser_charge_log")
OPS += ("lose_gpu_context",)  # issue 22: GPU context loss on demand


class LocalControl:
    """Control of a fake phone running in this process."""

    def __init__(self, phone: FakePhone) -> None:
        self.phone = phone

    def ping(self) -> str:
        return "pong"

    def commands(self) -> list[str]:
        return self.phone.commands

    def services(self) -> list[str]:
        return self.phone.services

    def sync_ops(self) -> list[str]:
        return self.phone.sync_ops

    def clear_log(self) -> None:
        self.phone.clear_log()

    def set_fault(self, name: str, value: Any) -> None:
        self.phone.faults.set(name, value)
        if name == "unauthorized":
            self.phone.drop_connection()  # the adb server reconnects and meets the new state

    def faults(self) -> dict[str, Any]:
        return self.phone.faults.snapshot()

    def go_offline(self, for_s: float | None = None) -> None:
        self.phone.go_offline(for_s)

    def come_online(self) -> None:
        self.phone.come_online()

    def reboot(self, offline_s: float, boot_s: float = 0.0) -> None:
        self.phone.reboot(offline_s, boot_s)

    def native_processes(self) -> dict[int, str]:
        return self.phone.native_processes()

    def drop_connection(self) -> None:
        self.phone.drop_connection()

    def kill_renderer(self, package: str | None = None, reason: str | None = None) -> list[int]:
        return self.phone.kill_renderer(package, reason=reason)

    def freeze_renderer(self, package: str | None = None) -> list[int]:
        return self.phone.freeze_renderer(package)

    def lose_gpu_context(self, package: str) -> str:
        """The foreground page of ``package`` loses its WebGL context / WebGPU device (cdp.lose_gpu):
        what was lost, '' while the page has no GPU context yet."""
        from .cdp import lose_gpu

        inst = self.phone.running(package)
        return lose_gpu(inst.devtools_port) if inst is not None and inst.devtools_port else ""

    def browsers(self) -> dict[str, Any]:
        out = {}
        for pkg in list(self.phone.browsers):
            inst = self.phone.running(pkg)
            if inst is None:
                continue
            out[pkg] = {"pid": inst.pid, "devtools_port": inst.devtools_port, "url": inst.url,
                        "processes": [{"pid": p.pid, "ppid": p.ppid, "name": p.name, "kind": p.kind}
                                      for p in inst.processes()]}
        return out

    def settings(self) -> dict[str, dict[str, str]]:
        return {ns: dict(values) for ns, values in self.phone.settings.items()}

    def heat(self) -> dict[str, Any] | None:
        """The heat / charge model's state (None without ``heat_model``)."""
        return self.phone.heat.snapshot() if self.phone.heat is not None else None

    def browser_charge_log(self) -> list[list[float]]:
        """[[phone s, cumulative uAh charged for the browser's CPU time, charge counter uAh], ...] (empty
        without ``heat_model``)."""
        return [list(x) for x in self.phone.heat.browser_log()] if self.phone.heat is not None else []

    def battery_overrides(self) -> dict[str, int]:
        """What ``dumpsys battery set|unplug`` changed (empty after ``dumpsys battery reset``)."""
        return dict(self.phone.battery_overrides)


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        control: LocalControl = self.server.control  # type: ignore[attr-defined]
        for raw in self.rfile:
            try:
                req = json.loads(raw)
                op = req["op"]
                if op not in OPS:
                    raise ValueError(f"unknown control op {op!r}")
                result = getattr(control, op)(**req.get("args", {}))
                reply = {"ok": True, "result": result}
            except Exception as exc:  # reported to the client, never kills the server
                reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            self.wfile.write((json.dumps(reply) + "\n").encode())
            self.wfile.flush()


class ControlServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, phone: FakePhone, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.control = LocalControl(phone)
        threading.Thread(target=self.serve_forever, name="fakephone-control", daemon=True).start()

    @property
    def port(self) -> int:
        return self.server_address[1]


class RemoteControl:
    """Client of a :class:`ControlServer` (a fake phone running as a subprocess)."""

    def __init__(self, host: str, port: int, timeout: float = 30.0) -> None:
        self.address = (host, port)
        self.timeout = timeout
        self._lock = threading.Lock()

    def _call(self, op: str, **args: Any) -> Any:
        with self._lock, socket.create_connection(self.address, timeout=self.timeout) as sock:
            sock.sendall((json.dumps({"op": op, "args": args}) + "\n").encode())
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError("fake phone control closed the connection")
                data += chunk
        reply = json.loads(data)
        if not reply["ok"]:
            raise RuntimeError(reply["error"])
        return reply["result"]

    def ping(self) -> str:
        return self._call("ping")

    def commands(self) -> list[str]:
        return self._call("commands")

    def services(self) -> list[str]:
        return self._call("services")

    def sync_ops(self) -> list[str]:
        return self._call("sync_ops")

    def clear_log(self) -> None:
        self._call("clear_log")

    def set_fault(self, name: str, value: Any) -> None:
        self._call("set_fault", name=name, value=value)

    def faults(self) -> dict[str, Any]:
        return self._call("faults")

    def go_offline(self, for_s: float | None = None) -> None:
        self._call("go_offline", for_s=for_s)

    def come_online(self) -> None:
        self._call("come_online")

    def reboot(self, offline_s: float, boot_s: float = 0.0) -> None:
        self._call("reboot", offline_s=offline_s, boot_s=boot_s)

    def native_processes(self) -> dict[int, str]:
        return {int(k): v for k, v in self._call("native_processes").items()}

    def drop_connection(self) -> None:
        self._call("drop_connection")

    def kill_renderer(self, package: str | None = None, reason: str | None = None) -> list[int]:
        return self._call("kill_renderer", package=package, reason=reason)

    def freeze_renderer(self, package: str | None = None) -> list[int]:
        return self._call("freeze_renderer", package=package)

    def lose_gpu_context(self, package: str) -> str:
        return str(self._call("lose_gpu_context", package=package))

    def browsers(self) -> dict[str, Any]:
        return self._call("browsers")

    def settings(self) -> dict[str, dict[str, str]]:
        return self._call("settings")

    def heat(self) -> dict[str, Any] | None:
        return self._call("heat")

    def browser_charge_log(self) -> list[list[float]]:
        return self._call("browser_charge_log")

    def battery_overrides(self) -> dict[str, int]:
        return self._call("battery_overrides")
