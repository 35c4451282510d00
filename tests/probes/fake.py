"""A tiny in-process phone implementing the probes' ShellLike protocol from captured texts.

Strict: a command it does not know raises DeviceError (as the real fake phone does)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mobile_webinfer.errors import DeviceError
from mobile_webinfer.parsers import strip_capture_header

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def capture(rel: str) -> str:
    return strip_capture_header((FIXTURES / rel).read_bytes().decode("utf-8"))


@dataclass(frozen=True)
class Result:
    stdout: str
    stderr: str
    exit_code: int


Answer = str | tuple[str, int] | Callable[[], "str | tuple[str, int]"]


class FakeShell:
    def __init__(self, table: dict[tuple[str, ...], Answer], serial: str = "FAKE0001", delay_s: float = 0.0):
        self.serial = serial
        self.table = dict(table)
        self.delay_s = delay_s
        self.calls: list[tuple[str, ...]] = []
        self._lock = threading.Lock()

    def shell(self, argv: list[str], *, timeout: float = 30.0, check: bool = True) -> Result:
        key = tuple(argv)
        with self._lock:
            self.calls.append(key)
        if key not in self.table:
            raise DeviceError("fake phone: unknown command", serial=self.serial, command=" ".join(argv))
        if self.delay_s:
            time.sleep(self.delay_s)
        ans = self.table[key]
        if callable(ans):
            ans = ans()
        out, code = ans if isinstance(ans, tuple) else (ans, 0)
        if check and code != 0:
            raise DeviceError("command failed on the device", serial=self.serial, command=" ".join(argv),
                              status=code, output=out)
        return Result(out, "", code)


CHROME = "com.android.chrome"
APP120 = "com.soundvisualization.accessibility"


def proc_stat_series() -> Callable[[], str]:
    """Each call: /proc/stat advanced by 100 ticks per cpu (half busy), then per-core frequencies;
    cpu1 is offline (no value after its marker)."""
    state = {"n": 0}

    def answer() -> str:
        n = state["n"]
        state["n"] += 1
        busy, idle = 1000 + 50 * n, 5000 + 50 * n
        lines = [f"cpu  {busy * 2} 0 0 {idle * 2} 0 0 0 0 0 0"]
        lines += [f"cpu{i} {busy} 0 0 {idle} 0 0 0 0 0 0" for i in range(2)]
        lines += ["ctxt 12345", "@cpu0", str(500000 + 1000 * n), "@cpu1"]
        return "\n".join(lines) + "\n"
    return answer


def full_phone(**overrides: Answer) -> FakeShell:
    """A phone that answers every built-in probe from the captures (Chrome meminfo, 120-row framestats)."""
    from mobile_webinfer.probes import cpu_script

    table: dict[tuple[str, ...], Answer] = {
        ("service", "check", "meminfo"): "Service meminfo: found",
        ("service", "check", "gfxinfo"): "Service gfxinfo: found",
        ("service", "check", "thermalservice"): "Service thermalservice: found",
        ("service", "check", "battery"): "Service battery: found",
        ("cat", "/proc/stat"): capture("cpu/xiaomi13tpro_android16_uptime_procstat_webview_renderer_pidstat_CRLF.txt")
        .splitlines()[1],
        ("dumpsys", "meminfo", "--package", CHROME):
            capture("meminfo/chrome_multiprocess_meminfo_--package_privileged_sandboxed.txt"),
        ("dumpsys", "gfxinfo", CHROME, "framestats"):
            capture("gfxinfo/android13or14_120hz_app_gfxinfo_framestats_120rows.txt"),
        ("dumpsys", "thermalservice"): capture("thermal/qualcomm_8cpu_thermalservice_status2_hal2.0.txt"),
        ("dumpsys", "battery"): capture("battery/xiaomi13tpro_android16_dumpsys_battery.txt"),
        ("cat", "/sys/devices/system/cpu/possible"): "0-1\n",
        ("sh", "-c", cpu_script([0, 1])): proc_stat_series(),
    }
    for k, v in overrides.items():
        table[tuple(k.split("|"))] = v
    return FakeShell(table)
