"""Parse time of every real-phone capture in tests/fixtures/ against a bar.

    .venv/bin/python -m benchmarks.bench_parsers [--scale 2]

Each capture is parsed from its body (the `# ---` header stripped beforehand, as a phone prints
no header): best CPU time of >= 5 calls (the machine is shared).  Captures that no parser reads
(toybox `top`, `am start`, ...) are timed being *refused* with a ParseError: rejecting bad input
is bounded too.  A capture that
no rule below names fails the run, so a new fixture cannot slip by unmeasured.

Bars: the 386 KB all-processes gfxinfo dump under 50 ms, every other gfxinfo under 10 ms, each
meminfo under 5 ms, a full getprop dump (up to 64 KB) under 20 ms, everything else under 5 ms,
and all captures together under 150 ms.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from mobile_webinfer.errors import ParseError
from mobile_webinfer.parsers import (
    decode_capture_bytes,
    parse_adb_devices,
    parse_battery,
    parse_benchmark_model_runs,
    parse_cpufreq_script,
    parse_dumpsys_cpuinfo,
    parse_getprop,
    parse_gfxinfo,
    parse_meminfo,
    parse_pid_stat,
    parse_proc_cpuinfo,
    parse_proc_meminfo,
    parse_proc_stat,
    parse_surfaceflinger_latency,
    parse_thermalservice,
    parse_uptime,
    strip_capture_header,
)

from ._common import FIXTURES, Bar, Report, best_of, main_guard, parser, scaled

BIG_GFXINFO = "gfxinfo/android14_mt6769_tablet_dumpsys_gfxinfo_ALL_PROCESSES_with_profiledata.txt"


def _uptime_procstat_pidstat(text: str, source: str = "") -> Any:
    """The composite CPU capture: `uptime`, `/proc/stat` cpu line, then `/proc/PID/stat` lines."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    out: list[Any] = [parse_uptime(lines[0], source), parse_proc_stat(lines[1], source)]
    for ln in lines[2:]:
        if re.match(r"\s*\d+ \(", ln):
            out.append(parse_pid_stat(ln, source))
    if len(out) < 4:
        raise ParseError("composite CPU capture: expected at least two /proc/PID/stat lines", source=source)
    return out


# (pattern on "category/name", parser, expect a ParseError, bar in ms); first match wins
RULES: list[tuple[str, Callable[[str, str], Any], bool, float]] = [
    (re.escape(BIG_GFXINFO), parse_gfxinfo, False, 50.0),
    (r"gfxinfo/surfaceflinger_latency", parse_surfaceflinger_latency, False, 5.0),
    (r"gfxinfo/gfxinfo_failure", parse_gfxinfo, True, 5.0),
    (r"gfxinfo/", parse_gfxinfo, False, 10.0),
    (r"meminfo/", parse_meminfo, False, 5.0),
    (r"thermal/sony_xperia_x_compact_kugo_thermal_zone_types", parse_thermalservice, True, 5.0),
    (r"thermal/", parse_thermalservice, False, 5.0),
    (r"battery/", parse_battery, False, 5.0),
    (r"tflite_benchmark/", parse_benchmark_model_runs, False, 5.0),
    (r"cpu/.*cpufreq_script", parse_cpufreq_script, False, 5.0),
    (r"cpu/.*proc_cpuinfo", parse_proc_cpuinfo, False, 5.0),
    (r"cpu/.*proc_meminfo", parse_proc_meminfo, False, 5.0),
    (r"cpu/.*dumpsys_cpuinfo", parse_dumpsys_cpuinfo, False, 5.0),
    (r"cpu/android_top_single_chrome_line", parse_dumpsys_cpuinfo, True, 5.0),
    (r"cpu/.*_top_", parse_proc_stat, True, 5.0),
    (r"cpu/.*uptime_procstat_.*pidstat", _uptime_procstat_pidstat, False, 5.0),
    (r"device_info/.*getprop_full", parse_getprop, False, 20.0),
    (r"device_info/adb_devices_l_", parse_adb_devices, False, 5.0),
    (r"device_info/(am_start|.*wm_size)", parse_getprop, True, 5.0),
    (r"device_info/.*surfaceflinger_gles", parse_surfaceflinger_latency, True, 5.0),
    (r"device_info/(cmd_package|dumpsys_window)", parse_adb_devices, True, 5.0),
]
TOTAL_BAR_MS = 150.0


def _rule(rel: str) -> tuple[Callable[[str, str], Any], bool, float] | None:
    for pattern, fn, refuse, bar_ms in RULES:
        if re.match(pattern, rel):
            return fn, refuse, bar_ms
    return None


def _call(fn: Callable[[str, str], Any], text: str, rel: str, refuse: bool) -> Callable[[], None]:
    def once() -> None:
        try:
            fn(text, rel)
        except ParseError:
            if refuse:
                return
            raise
        if refuse:
            raise AssertionError(f"{rel}: expected {fn.__name__} to refuse it with a ParseError")
    return once


def main(argv: Sequence[str] | None = None) -> int:
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    report = Report("bench_parsers")
    files = sorted(p for p in FIXTURES.rglob("*") if p.is_file() and p.name != "INDEX.md")
    if not files:
        raise SystemExit(f"no captures under {FIXTURES}")
    unmatched = [p.relative_to(FIXTURES).as_posix() for p in files if _rule(p.relative_to(FIXTURES).as_posix()) is None]
    if unmatched:
        raise SystemExit(f"captures with no rule in benchmarks/bench_parsers.py: {', '.join(unmatched)}")
    total_best = 0.0
    for path in files:
        rel = path.relative_to(FIXTURES).as_posix()
        fn, refuse, bar_ms = _rule(rel)  # type: ignore[misc]
        text = strip_capture_header(decode_capture_bytes(path.read_bytes(), source=rel))
        best, median = best_of(_call(fn, text, rel, refuse), min_runs=5, min_time_s=0.1)
        total_best += best
        kb = len(text.encode()) / 1024
        verb = "refuse" if refuse else "parse"
        report.add(Bar(f"{verb}_ms[{rel}]", best * 1e3, scaled(bar_ms, args.scale),
                       note=f"CPU, {kb:.1f} KB, {fn.__name__}, median {median * 1e3:.3f} ms"))
    report.add(Bar("parse_all_captures_ms", total_best * 1e3, scaled(TOTAL_BAR_MS, args.scale),
                   note=f"{len(files)} captures, sum of best times"))
    return report.finish()


if __name__ == "__main__":
    main_guard(main)
