"""Edge cases of each format that the captures do not cover (synthetic, built from real lines)."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from mobile_webinfer.errors import ParseError
from mobile_webinfer.parsers import (
    capture_header, cpu_utilization, decode_capture_bytes, parse_adb_devices, parse_battery, parse_benchmark_model,
    parse_cpufreq, parse_getprop, parse_getprop_bytes, parse_gfxinfo, parse_meminfo, parse_pid_stat,
    parse_power_supply_value, parse_proc_stat, parse_surfaceflinger_latency, parse_thermalservice,
    strip_capture_header,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SAMSUNG = FIXTURES / "device_info/samsung_galaxy_s25plus_SM-S936B_android16_getprop_full_CRLF.txt"


# ---- capture files --------------------------------------------------------------------------

def test_strip_capture_header_variants() -> None:
    assert strip_capture_header("# source: x\n# device: y\n# ---\nbody\n") == "body\n"
    assert strip_capture_header("# a: b\r\n# ---\r\nline\r\n") == "line\r\n"
    assert strip_capture_header("plain\n# ---\n") == "plain\n# ---\n"
    unclosed = "# a: b\nnot a header line\n"
    assert strip_capture_header(unclosed) == unclosed
    assert capture_header("# source: s\n# note: one\n# note: two\n# ---\nx") == {"source": "s", "note": "one\ntwo"}
    assert capture_header("no header") == {}


def test_utf16le_powershell_getprop_matches_utf8() -> None:
    text = SAMSUNG.read_bytes().decode("utf-8")
    body = strip_capture_header(text)
    raw = codecs.BOM_UTF16_LE + body.encode("utf-16-le")  # what PowerShell '>' wrote
    from_bytes = parse_getprop_bytes(raw, source="ps")
    assert from_bytes == parse_getprop(body) and len(from_bytes) == 1582
    assert from_bytes["ro.soc.model"] == "SM8750" and from_bytes["ro.board.platform"] == "sun"
    assert decode_capture_bytes(body.encode("utf-16-le")) == body  # no BOM: NUL pattern
    assert decode_capture_bytes(codecs.BOM_UTF8 + b"x") == "x"
    assert decode_capture_bytes(codecs.BOM_UTF16_BE + "ab".encode("utf-16-be")) == "ab"
    with pytest.raises(ParseError, match="undecodable"):
        decode_capture_bytes(b"\xff\xfe\xfa"[1:] + b"\xc3\x28")


def test_nul_text_is_refused() -> None:
    with pytest.raises(ParseError, match="NUL"):
        parse_getprop("[\x00a\x00]")
    with pytest.raises(ParseError, match="bytes"):
        parse_battery(b"Current Battery Service state:")  # type: ignore[arg-type]


# ---- getprop / devices ----------------------------------------------------------------------

def test_getprop_errors_and_crlf() -> None:
    assert parse_getprop("[a]: [1]\r\n[b.c]: [x\r\ny]\r\n") == {"a": "1", "b.c": "x\ny"}
    assert parse_getprop("[ro.board.platform]: []\n") == {"ro.board.platform": ""}
    with pytest.raises(ParseError, match="not closed"):
        parse_getprop("[a]: [1\n2\n")
    with pytest.raises(ParseError, match=r"\[key\]: \[value\]") as e:
        parse_getprop("[a]: [1]\nhello\n", source="f.txt")
    assert e.value.line == 2 and "f.txt line 2" in str(e.value)
    with pytest.raises(ParseError, match="no getprop"):
        parse_getprop("\n\n")


def test_adb_devices_states() -> None:
    out = parse_adb_devices("* daemon not running; starting now at tcp:5037\n* daemon started successfully\n"
                            "List of devices attached\n"
                            "R58M  offline transport_id:3\n"
                            "0123  no permissions (user in plugdev group; are your udev rules wrong?); see "
                            "[http://developer.android.com/tools/device.html] usb:1-4 transport_id:7\n")
    assert [(d.serial, d.state, d.transport_id) for d in out] == [("R58M", "offline", 3),
                                                                  ("0123", "no permissions", 7)]
    assert parse_adb_devices("List of devices attached\n\n") == ()
    mdns = parse_adb_devices("adb-2A28 (2)._adb-tls-connect._tcp. device product:p model:Pixel_7 transport_id:4\n")
    assert (mdns[0].serial, mdns[0].state, mdns[0].model) == ("adb-2A28 (2)._adb-tls-connect._tcp.", "device",
                                                               "Pixel_7")
    with pytest.raises(ParseError, match="unknown adb device state"):
        parse_adb_devices("serial banana\n")


# ---- battery ----------------------------------------------------------------------------------

BATTERY = ("Current Battery Service state:\n  AC powered: false\n  USB powered: true\n  Wireless powered: false\n"
           "  status: 2\n  health: 2\n  present: true\n  level: 57\n  scale: 100\n  voltage: 3987\n"
           "  temperature: 301\n  technology: Li-ion\n  Charging state: 1\n")


def test_battery_stops_at_oem_section() -> None:
    s = parse_battery(BATTERY + "MiuiBatteryService first usage time:\n  level: 3\n")
    assert s.level == 57 and s.extra == {"charging state": "1"} and s.percent == 57.0
    assert s.temperature_c == 30.1 and s.status_name == "charging" and s.powered


def test_battery_errors() -> None:
    with pytest.raises(ParseError, match="'level:'"):
        parse_battery("Current Battery Service state:\n  AC powered: false\n")
    with pytest.raises(ParseError, match="integer for 'voltage'"):
        parse_battery(BATTERY.replace("3987", "3.9V"))
    with pytest.raises(ParseError, match="true/false"):
        parse_battery(BATTERY.replace("USB powered: true", "USB powered: yes"))


def test_power_supply_units_and_sign() -> None:
    assert parse_power_supply_value("-452000\n", unit="uA", sign=-1) == pytest.approx(452.0)
    assert parse_power_supply_value("452\n", unit="mA") == 452.0
    assert parse_power_supply_value("3987000", unit="uV") == pytest.approx(3987.0)
    with pytest.raises(ParseError, match="unknown unit"):
        parse_power_supply_value("1", unit="W")
    with pytest.raises(ParseError, match="one integer"):
        parse_power_supply_value("cat: /sys/...: Permission denied", unit="uA")


# ---- thermal ----------------------------------------------------------------------------------

def test_thermal_falls_back_to_cached_and_says_so() -> None:
    text = ("Thermal Status: 1\nCached temperatures:\n\tTemperature{mValue=87.6, mType=0, mName=CPU, mStatus=3}\n"
            "HAL Ready: false\n")
    r = parse_thermalservice(text)
    assert r.source == "cached" and r.temperatures[0].value_c == 87.6 and r.status_name == "LIGHT"
    assert r.max_sensor_status == 3 and r.hal_ready is False


def test_thermal_bad_entry() -> None:
    with pytest.raises(ParseError, match="mValue"):
        parse_thermalservice("Thermal Status: 0\nCurrent temperatures from HAL:\n\tTemperature{mType=0}\n")
    with pytest.raises(ParseError, match="integer"):
        parse_thermalservice("Thermal Status: hot\n")


# ---- cpu ------------------------------------------------------------------------------------

def test_pid_stat_comm_with_spaces_and_parens() -> None:
    line = ("4242 (a (weird) name) R 1 4242 0 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 5 0 1234 1000 50 "
            "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 2 0 0 0 0 0")
    p = parse_pid_stat(line)
    assert (p.pid, p.comm, p.state, p.utime, p.stime, p.num_threads, p.processor) == \
        (4242, "a (weird) name", "R", 7, 3, 5, 2)
    with pytest.raises(ParseError, match="at least 24"):
        parse_pid_stat("1 (x) S 0 0")


def test_proc_stat_and_utilization() -> None:
    a = parse_proc_stat("cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 50 0 50 400 0 0 0 0 0 0\nctxt 99\nprocs_running 3\n")
    b = parse_proc_stat("cpu  150 0 150 900 0 0 0 0 0 0\n")
    assert len(a.cpus) == 1 and a.ctxt == 99 and a.procs_running == 3
    assert cpu_utilization(a.cpu, b.cpu) == pytest.approx(0.5)
    assert parse_proc_stat("cpu 1 2 3 4\n").cpu.iowait == 0  # old kernels: 4 counters
    with pytest.raises(ParseError, match="aggregate"):
        parse_proc_stat("intr 1 2 3\n")


def test_cpufreq_grep_format() -> None:
    text = ("/sys/devices/system/cpu/cpufreq/policy0/scaling_cur_freq:500000\n"
            "/sys/devices/system/cpu/cpufreq/policy0/related_cpus:0 1 2 3 4 5\n"
            "/sys/devices/system/cpu/cpufreq/policy6/scaling_cur_freq:1176000\n"
            "/sys/devices/system/cpu/cpufreq/policy6/scaling_governor:schedutil\n")
    pols = parse_cpufreq(text)
    assert [(p.policy, p.cur_khz, p.related_cpus, p.governor) for p in pols] == [
        (0, 500000, (0, 1, 2, 3, 4, 5), None), (6, 1176000, (), "schedutil")]
    with pytest.raises(ParseError, match="policyN"):
        parse_cpufreq("500000\n")


# ---- meminfo --------------------------------------------------------------------------------

MEM = (FIXTURES / "meminfo/android12_pixel3_systemui_meminfo.txt").read_text()


def test_meminfo_not_running() -> None:
    r = parse_meminfo("No process found for: com.android.chrome\n")
    assert r.processes == () and r.not_found == "com.android.chrome" and r.total_pss_kb == 0


def test_meminfo_truncated_before_total() -> None:
    body = strip_capture_header(MEM)
    cut = body[: body.index("        TOTAL")]
    with pytest.raises(ParseError, match="before its TOTAL row"):
        parse_meminfo(cut, source="cut.txt")


def test_meminfo_summary_without_total_line() -> None:
    body = strip_capture_header(MEM)
    cut = body[: body.index("           TOTAL PSS:")]
    with pytest.raises(ParseError, match="App Summary ended"):
        parse_meminfo(cut)


def test_meminfo_stripped_trailing_spaces_and_lost_alignment() -> None:
    body = strip_capture_header(MEM)
    stripped = "\n".join(ln.rstrip() for ln in body.splitlines())
    assert parse_meminfo(stripped).processes[0].row("Stack").values == parse_meminfo(body).processes[0].row(
        "Stack").values
    squashed = stripped.replace("                   Pss  Private", " Pss Private")
    assert parse_meminfo(squashed).processes[0].columns[0] == "pss"


def test_meminfo_garbage() -> None:
    with pytest.raises(ParseError, match="MEMINFO"):
        parse_meminfo("hello\nworld\n")


# ---- gfxinfo --------------------------------------------------------------------------------

HDR15 = ("Flags,FrameTimelineVsyncId,IntendedVsync,Vsync,InputEventId,HandleInputStart,AnimationStart,"
         "PerformTraversalsStart,DrawStart,FrameDeadline,FrameStartTime,FrameInterval,WorkloadTarget,SyncQueued,"
         "SyncStart,IssueDrawCommandsStart,SwapBuffers,FrameCompleted,DequeueBufferDuration,QueueBufferDuration,"
         "GpuCompleted,SwapBuffersCompleted,DisplayPresentTime,CommandSubmissionCompleted,")


def _row24(intended: int, completed: int, deadline: int, flags: int = 0) -> str:
    vals = [flags, 7, intended, intended, 0, intended + 1, intended + 2, intended + 3, intended + 4, deadline,
            intended + 5, 8333333, 8333333, intended + 6, intended + 7, intended + 8, intended + 9, completed,
            1000, 2000, completed, completed, -1, completed]
    return ",".join(str(v) for v in vals) + ","


def test_framestats_24_columns_android15() -> None:
    text = "\n".join(["---PROFILEDATA---", HDR15, _row24(1_000_000_000, 1_006_000_000, 1_016_666_667),
                      _row24(2_000_000_000, 2_030_000_000, 2_016_666_667), _row24(3, 4, 5, flags=4),
                      "---PROFILEDATA---"])
    g = parse_gfxinfo(text)
    assert len(HDR15.split(",")) - 1 == 24
    assert [(f.duration_ms, f.janky, f.frame_interval_ns) for f in g.frames] == [(6.0, False, 8333333),
                                                                                 (30.0, True, 8333333)]
    assert g.skipped_flagged_frames == 1 and g.frames[0].display_present_ns is None


def test_framestats_bad_rows() -> None:
    with pytest.raises(ParseError, match="fields, header has"):
        parse_gfxinfo("---PROFILEDATA---\n" + HDR15 + "\n0,1,2,\n---PROFILEDATA---\n")
    with pytest.raises(ParseError, match="Flags"):
        parse_gfxinfo("---PROFILEDATA---\nIntendedVsync,FrameCompleted,\n---PROFILEDATA---\n")
    with pytest.raises(ParseError, match="non-integer"):
        parse_gfxinfo("---PROFILEDATA---\n" + HDR15 + "\n" + _row24(1, 2, 3).replace("7", "x", 1) + "\n")
    with pytest.raises(ParseError, match="Graphics info"):
        parse_gfxinfo("nothing here\n")


def test_gfxinfo_bad_summary_value() -> None:
    with pytest.raises(ParseError, match="Janky frames"):
        parse_gfxinfo("** Graphics info for pid 1 [a] **\nTotal frames rendered: 3\nJanky frames: lots\n")


def test_surfaceflinger_pending_fence_and_empty_rows() -> None:
    sf = parse_surfaceflinger_latency("16666666\n0\t0\t0\n10\t9223372036854775807\t12\n20\t25\t22\n")
    assert [(f.desired_present_ns, f.actual_present_ns) for f in sf.frames] == [(10, None), (20, 25)]
    with pytest.raises(ParseError, match="refresh period"):
        parse_surfaceflinger_latency("hello\n")


# ---- benchmark_model -------------------------------------------------------------------------

def test_benchmark_logcat_brief_scientific_and_coverage() -> None:
    text = "\n".join(f"05-30 15:16:44.857 I/tflite  ( 3380): {ln}" for ln in [
        "STARTING!", "Num threads: [1]", "Use gpu: [1]",
        "62 nodes delegated out of 64 nodes with 2 partitions.",
        "count=3 first=2.81e+06 curr=2.7e+06 min=2.6e+06 max=2.81e+06 avg=2.71985e+06 std=5e+04",
        "count=10 first=2.7e+06 curr=2.7e+06 min=2.6e+06 max=2.8e+06 avg=2.7e+06 std=4e+04 p5=2.6e+06 "
        "median=2.7e+06 p95=2.8e+06",
        "Inference timings in us: Init: 5.66e+06, First inference: 2.81e+06, Warmup (avg): 2.73215e+06, "
        "Inference (avg): 2.7e+06",
        "Peak memory footprint (MB): init=120.5 overall=337",
    ])
    r = parse_benchmark_model(text)
    assert (r.init_us, r.warmup_avg_us, r.inference_avg_us, r.count) == (5.66e6, 2.73215e6, 2.7e6, 10)
    assert (r.nodes_delegated, r.nodes_total, r.peak_memory_mb, r.memory_overall_mb) == (62, 64, 337.0, None)
    assert r.params == {"Num threads": "1", "Use gpu": "1"} and r.warmup.avg_us == 2.71985e6


def test_benchmark_failed_run_reports_tool_error() -> None:
    with pytest.raises(ParseError, match="Failed to apply GPU delegate"):
        parse_benchmark_model("INFO: STARTING!\nERROR: Failed to apply GPU delegate.\n")
    with pytest.raises(ParseError, match="Inference timings"):
        parse_benchmark_model("INFO: STARTING!\nINFO: count=5 first=1 curr=1 min=1 max=1 avg=1 std=0\n")


def test_benchmark_monitor_peak_and_warnings() -> None:
    text = ("INFO: STARTING!\nWARNING: Unsupported TF op, falling back\n"
            "INFO: Running benchmark for at least 1 iterations and at least 0.5 seconds\n"
            "INFO: count=2 first=10 curr=12 min=10 max=12 avg=11 std=1 p5=10 median=11 p95=12\n"
            "INFO: count=20 first=9 curr=9 min=8 max=10 avg=9 std=0.5 p5=8 median=9 p95=10\n"
            "INFO: Inference timings in us: Init: 1000, First inference: 10, Warmup (avg): 11, Inference (avg): 9\n"
            "INFO: Memory footprint delta from the start of the tool (MB): init=1.5 overall=2.25\n"
            "INFO: Overall peak memory footprint (MB) via periodic monitoring: 40.5\n")
    r = parse_benchmark_model(text)
    assert (r.memory_init_mb, r.memory_overall_mb, r.peak_memory_mb) == (1.5, 2.25, 40.5)
    assert (r.count, r.inference_std_us, r.warmup.median_us) == (20, 0.5, 11)
    with pytest.raises(ParseError, match="count="):
        parse_benchmark_model(text.replace("count=20", "count=x20"))


@pytest.mark.parametrize(("raw", "celsius", "plausible"), [
    ("-50", -5.0, True),      # a phone in the cold: a real reading (Android health "cold" below 0 C)
    ("-400", -40.0, True),
    ("999", 99.9, True),
    ("1000", 100.0, False),   # >= 100 C: no working battery; a unit the profile does not declare, or a sentinel
    ("65535", 6553.5, False),
    ("-2731", -273.1, False),
])
def test_battery_temperatures_out_of_range_are_parsed_as_printed_and_judged_by_the_gate(raw, celsius, plausible):
    """The parser reads what the phone printed (tenths of a degree; a profile may declare another unit);
    the cool-down gate and the cell's maximum leave out what no battery can be (issue 22)."""
    from mobile_webinfer.targets.cooldown import battery_plausible

    b = parse_battery(f"Current Battery Service state:\n  AC powered: true\n  level: 80\n  scale: 100\n"
                      f"  temperature: {raw}\n")
    assert b.temperature_c == pytest.approx(celsius)
    assert battery_plausible(b.temperature_c) is plausible
