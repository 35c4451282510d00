"""Pure parsers for what Android phones (and TFLite's benchmark_model) print.

Each `parse_*` takes text and returns a frozen record with `to_json()`, or raises
`mobile_webinfer.errors.ParseError` naming the source, line and snippet it could not read.
Capture files with a `# ...` / `# ---` header go through `strip_capture_header` first.
"""

from .battery import BatteryState, parse_battery, parse_power_supply_value
from .benchmark_model import BenchmarkModelResult, PhaseStats, parse_benchmark_model, parse_benchmark_model_runs
from .capture import capture_header, decode_capture_bytes, strip_capture_header
from .cpu import (
                  CpuCoreFreq,
                  CpuFreqPolicy,
                  CpuInfo,
                  CpuTimes,
                  DumpsysCpuinfo,
                  PidStat,
                  ProcessCpu,
                  ProcStat,
                  cpu_utilization,
                  parse_cpufreq,
                  parse_cpufreq_script,
                  parse_dumpsys_cpuinfo,
                  parse_percpu_freq,
                  parse_pid_stat,
                  parse_proc_cpuinfo,
                  parse_proc_meminfo,
                  parse_proc_stat,
                  parse_uptime,
)
from .devices import AdbDeviceEntry, parse_adb_devices
from .getprop import parse_getprop, parse_getprop_bytes
from .gfxinfo import (
                  Frame,
                  GfxInfo,
                  GfxProcess,
                  GfxStats,
                  GfxWindow,
                  SurfaceFlingerFrame,
                  SurfaceFlingerLatency,
                  parse_gfxinfo,
                  parse_surfaceflinger_latency,
)
from .meminfo import MeminfoReport, MemRow, MemSummary, ProcessMemory, parse_meminfo
from .thermal import CoolingDevice, Temperature, ThermalReport, parse_thermalservice

__all__ = [
    "AdbDeviceEntry", "BatteryState", "BenchmarkModelResult", "CoolingDevice", "CpuCoreFreq", "CpuFreqPolicy",
    "CpuInfo", "CpuTimes", "DumpsysCpuinfo", "Frame", "GfxInfo", "GfxProcess", "GfxStats", "GfxWindow",
    "MemRow", "MemSummary", "MeminfoReport", "PhaseStats", "PidStat", "ProcStat", "ProcessCpu", "ProcessMemory",
    "SurfaceFlingerFrame", "SurfaceFlingerLatency", "Temperature", "ThermalReport", "capture_header",
    "cpu_utilization", "decode_capture_bytes", "parse_adb_devices", "parse_battery", "parse_benchmark_model",
    "parse_benchmark_model_runs", "parse_cpufreq", "parse_cpufreq_script", "parse_dumpsys_cpuinfo",
    "parse_getprop", "parse_getprop_bytes", "parse_gfxinfo", "parse_meminfo", "parse_percpu_freq", "parse_pid_stat",
    "parse_power_supply_value", "parse_proc_cpuinfo", "parse_proc_meminfo", "parse_proc_stat",
    "parse_surfaceflinger_latency", "parse_thermalservice", "parse_uptime", "strip_capture_header",
]
