"""Parse a capture by kind name (used by `mwi parse`): decoding, header stripping, JSON."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import UsageError
from .battery import parse_battery
from .benchmark_model import parse_benchmark_model_runs
from .capture import decode_capture_bytes, strip_capture_header
from .cpu import parse_dumpsys_cpuinfo, parse_proc_stat
from .devices import parse_adb_devices
from .getprop import parse_getprop
from .gfxinfo import parse_gfxinfo, parse_surfaceflinger_latency
from .meminfo import parse_meminfo
from .thermal import parse_thermalservice

PARSERS: dict[str, tuple[Callable[[str, str], Any], str]] = {
    "meminfo": (parse_meminfo, "dumpsys meminfo <pkg> | --package <pkg>"),
    "gfxinfo": (parse_gfxinfo, "dumpsys gfxinfo <pkg> [framestats]"),
    "thermal": (parse_thermalservice, "dumpsys thermalservice"),
    "battery": (parse_battery, "dumpsys battery"),
    "getprop": (parse_getprop, "getprop"),
    "benchmark-model": (parse_benchmark_model_runs, "TFLite benchmark_model output"),
    "surfaceflinger-latency": (parse_surfaceflinger_latency, "dumpsys SurfaceFlinger --latency <layer>"),
    "adb-devices": (parse_adb_devices, "adb devices -l"),
    "cpuinfo": (parse_dumpsys_cpuinfo, "dumpsys cpuinfo"),
    "proc-stat": (parse_proc_stat, "cat /proc/stat"),
}
KINDS = tuple(PARSERS)


def parse_capture(kind: str, data: bytes, source: str = "") -> Any:
    """Decode `data` (UTF-8/UTF-16), drop a capture header and parse it as `kind`."""
    if kind not in PARSERS:
        raise UsageError(f"unknown kind {kind!r}; expected one of: {', '.join(KINDS)}")
    text = strip_capture_header(decode_capture_bytes(data, source=source))
    return PARSERS[kind][0](text, source)


def record_json(kind: str, record: Any) -> Any:
    """The JSON form `mwi parse --json` prints (issue-5 contract names, more keys allowed)."""
    if kind == "getprop":
        return dict(record)
    if kind == "benchmark-model":
        out = record[-1].to_json()
        if len(record) > 1:
            out["runs"] = [r.to_json() for r in record]
        return out
    if kind == "adb-devices":
        return {"devices": [d.to_json() for d in record]}
    return record.to_json()
