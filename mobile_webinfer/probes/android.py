"""The built-in probes: meminfo, gfxinfo framestats, thermal, battery, CPU.

Each reads one `dumpsys` (or procfs) text per sample through the pure parsers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..errors import ParseError
from ..parsers import (
    GfxInfo,
    MeminfoReport,
    ProcStat,
    cpu_utilization,
    parse_battery,
    parse_gfxinfo,
    parse_meminfo,
    parse_percpu_freq,
    parse_proc_stat,
    parse_thermalservice,
)
from ..parsers.battery import BatteryState
from ..parsers.thermal import ThermalReport
from .base import Probe, ShellLike, validate_package


class MeminfoProbe(Probe):
    """`dumpsys meminfo --package PKG`: every process of the package (Chrome: browser, renderers, GPU)."""

    name = "meminfo"
    service = "meminfo"
    timeout_s = 30.0
    default_interval_s = 5.0

    def __init__(self, package: str):
        self.package = validate_package(package)

    def command(self) -> list[str]:
        return ["dumpsys", "meminfo", "--package", self.package]

    def sample(self, device: ShellLike) -> MeminfoReport:
        text = self._run(device, self.command())
        return parse_meminfo(text, source=f"{device.serial}: dumpsys meminfo --package {self.package}")

    def data(self, record: MeminfoReport) -> dict:
        return {
            "total_pss_kb": record.total_pss_kb, "not_found": record.not_found,
            "processes": {p.name: {"pid": p.pid, "pss_kb": p.total_pss_kb, "rss_kb": p.total_rss_kb,
                                   "swap_kb": p.total_swap_pss_kb, "graphics_kb": p.summary.graphics_kb,
                                   "java_heap_kb": p.summary.java_heap_kb, "native_heap_kb": p.summary.native_heap_kb}
                          for p in record.processes},
        }


class GfxinfoProbe(Probe):
    """`dumpsys gfxinfo PKG framestats`: the app's UI frames (for Chrome: browser UI, not page content).

    Frames already reported by an earlier sample (same process and window, IntendedVsync not newer)
    are dropped from `data()`, so a time series holds each frame once.
    """

    name = "gfxinfo"
    service = "gfxinfo"
    timeout_s = 20.0
    default_interval_s = 1.0  # the framestats ring holds ~120 frames = 2 s at 60 Hz, 1 s at 120 Hz

    def __init__(self, package: str):
        self.package = validate_package(package)
        self._last: dict[tuple[int, str], int] = {}

    def reset(self) -> None:
        self._last.clear()

    def command(self) -> list[str]:
        return ["dumpsys", "gfxinfo", self.package, "framestats"]

    def sample(self, device: ShellLike) -> GfxInfo:
        text = self._run(device, self.command())
        return parse_gfxinfo(text, source=f"{device.serial}: dumpsys gfxinfo {self.package} framestats")

    def data(self, record: GfxInfo) -> dict:
        new: list[list] = []
        for p in record.processes:
            for w in p.windows:
                key = (p.pid, w.name)
                last = self._last.get(key, -1)
                fresh = [f for f in w.frames if f.intended_vsync_ns > last]
                if w.frames:
                    self._last[key] = max(last, max(f.intended_vsync_ns for f in w.frames))
                new.extend([f.intended_vsync_ns, f.duration_ms, f.janky] for f in fresh)
        new.sort()
        return {"not_found": record.not_found, "total_frames": record.total_frames,
                "janky_frames": record.janky_frames,
                "missed_vsync": record.missed_vsync, "percentiles_ms": record.percentiles_ms,
                "new_frames": len(new), "new_janky": sum(1 for f in new if f[2]),
                "frames": new}  # [intended_vsync_ns, duration_ms, janky]


class ThermalProbe(Probe):
    """`dumpsys thermalservice`: global status and the current HAL temperatures."""

    name = "thermal"
    service = "thermalservice"
    default_interval_s = 2.0

    def command(self) -> list[str]:
        return ["dumpsys", "thermalservice"]

    def sample(self, device: ShellLike) -> ThermalReport:
        return parse_thermalservice(self._run(device, self.command()),
                                    source=f"{device.serial}: dumpsys thermalservice")

    def data(self, record: ThermalReport) -> dict:
        return {"status": record.status, "source": record.source, "max_sensor_status": record.max_sensor_status,
                "temperatures": {t.name: t.value_c for t in record.temperatures}}


class BatteryProbe(Probe):
    """`dumpsys battery`: level, temperature, voltage, charging state."""

    name = "battery"
    service = "battery"
    default_interval_s = 5.0

    def command(self) -> list[str]:
        return ["dumpsys", "battery"]

    def sample(self, device: ShellLike) -> BatteryState:
        return parse_battery(self._run(device, self.command()), source=f"{device.serial}: dumpsys battery")

    def data(self, record: BatteryState) -> dict:
        return {k: getattr(record, k) for k in ("level", "temperature_c", "voltage_mv", "status", "ac_powered",
                                                "usb_powered", "wireless_powered", "updates_stopped")}


def cpu_script(cpus: Sequence[int]) -> str:
    """One shell call: /proc/stat, then each core's current frequency after an `@cpuN` marker
    (a core that is offline prints no value).  Built from integers only."""
    parts = ["cat /proc/stat"]
    for i in cpus:
        parts.append(f"echo @cpu{int(i)}; cat /sys/devices/system/cpu/cpu{int(i)}/cpufreq/scaling_cur_freq 2>/dev/null")
    return "; ".join(parts) + "; true"


@dataclass(frozen=True)
class CpuSample:
    stat: ProcStat
    freq_khz: dict[int, int | None] = field(default_factory=dict)  # per core; None when offline/unreadable
    utilization: float | None = None  # busy share since the previous sample (None on the first)
    per_cpu: dict[str, float | None] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"stat": self.stat.to_json(), "freq_khz": {f"cpu{k}": v for k, v in self.freq_khz.items()},
                "utilization": self.utilization, "per_cpu": dict(self.per_cpu)}


def _cpu_range(text: str) -> tuple[int, ...]:
    """`0-7` / `0-3,6` (sysfs cpu lists) -> core numbers; () if unreadable."""
    out: list[int] = []
    try:
        for tok in text.strip().split(","):
            a, _, b = tok.partition("-")
            out.extend(range(int(a), int(b or a) + 1))
    except ValueError:
        return ()
    return tuple(out) if len(out) <= 1024 else ()


class CpuProbe(Probe):
    """/proc/stat (utilisation between samples) and every core's cpufreq `scaling_cur_freq`, one call."""

    name = "cpu"
    service = None
    default_interval_s = 1.0

    def __init__(self) -> None:
        self._prev: ProcStat | None = None
        self.cpus: tuple[int, ...] | None = None

    def reset(self) -> None:
        self._prev = None

    def _discover(self, device: ShellLike) -> None:
        res = device.shell(["cat", "/sys/devices/system/cpu/possible"], timeout=10.0, check=False)
        cpus = _cpu_range(res.stdout) if res.exit_code == 0 else ()
        if not cpus:  # fall back to the cores /proc/stat lists (online ones only)
            stat = parse_proc_stat(device.shell(["cat", "/proc/stat"], timeout=10.0, check=True).stdout)
            cpus = tuple(int(c.name[3:]) for c in stat.cpus)
        self.cpus = cpus

    def supported(self, device: ShellLike) -> bool:
        res = device.shell(["cat", "/proc/stat"], timeout=10.0, check=False)
        if res.exit_code != 0:
            return False
        try:
            parse_proc_stat(res.stdout)
        except ParseError:
            return False
        self._discover(device)
        return True

    def command(self) -> list[str]:
        return ["sh", "-c", cpu_script(self.cpus or ())]

    def sample(self, device: ShellLike) -> CpuSample:
        if self.cpus is None:
            self._discover(device)
        out = self._run(device, self.command())
        cut = out.find("@cpu")
        stat_text, freq_text = (out, "") if cut < 0 else (out[:cut], out[cut:])
        stat = parse_proc_stat(stat_text, source=f"{device.serial}: /proc/stat")
        freqs = parse_percpu_freq(freq_text, source=f"{device.serial}: cpufreq") if freq_text.strip() else {}
        util, per = None, {}
        if self._prev is not None:
            util = cpu_utilization(self._prev.cpu, stat.cpu)
            before = {c.name: c for c in self._prev.cpus}
            per = {c.name: cpu_utilization(before[c.name], c) for c in stat.cpus if c.name in before}
        self._prev = stat
        return CpuSample(stat, freqs, util, per)

    def data(self, record: CpuSample) -> dict:
        return {"utilization": record.utilization, "per_cpu": dict(record.per_cpu),
                "freq_khz": {f"cpu{k}": v for k, v in record.freq_khz.items()}}


def default_probes(package: str) -> list[Probe]:
    """All built-in probes for one app package."""
    return [MeminfoProbe(package), GfxinfoProbe(package), ThermalProbe(), BatteryProbe(), CpuProbe()]
