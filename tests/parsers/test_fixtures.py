"""Every capture in tests/fixtures/ is parsed and checked against values read from the file.

A new fixture that is not in EXPECTED fails `test_every_fixture_has_an_expectation`, so
it cannot slip by untested.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mobile_webinfer.errors import ParseError
from mobile_webinfer.parsers import (
    cpu_utilization, parse_adb_devices, parse_battery, parse_benchmark_model, parse_benchmark_model_runs,
    parse_cpufreq_script, parse_dumpsys_cpuinfo, parse_getprop, parse_gfxinfo, parse_meminfo, parse_pid_stat,
    parse_proc_cpuinfo, parse_proc_meminfo, parse_proc_stat, parse_surfaceflinger_latency, parse_thermalservice,
    parse_uptime, strip_capture_header,
)
from mobile_webinfer.parsers.meminfo import GRAPHICS_ROWS

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ALL_FILES = sorted(p for p in FIXTURES.rglob("*") if p.is_file() and p.name != "INDEX.md")


def body(rel: str) -> str:
    raw = (FIXTURES / rel).read_bytes().decode("utf-8")
    return strip_capture_header(raw)


# ---- meminfo --------------------------------------------------------------------------------

def check_meminfo_arithmetic(rep) -> None:
    """INDEX.md checks: Graphics = Gfx dev + EGL mtrack + GL mtrack; TOTAL = sum(Pss) (+ sum(SwapPss))."""
    for p in rep.processes:
        rows = [r for r in p.rows if r.name != "TOTAL"]
        pss = sum(r.get("pss") or 0 for r in rows)
        swap_pss = sum(r.get("swap_pss") or 0 for r in rows)
        assert p.total_pss_kb == pss + swap_pss, p.name
        if "swap_pss" in p.columns:
            assert swap_pss > 0 and p.total_swap_pss_kb == swap_pss
        if p.summary.graphics_kb is not None:
            assert p.summary.graphics_kb == p.graphics_rows_pss_kb, p.name


def m_single(pid, name, pss, rss, swap, swap_is_pss, ncols, nrows, graphics, java, graphics_rows=()):
    def check(rel: str) -> None:
        rep = parse_meminfo(body(rel), source=rel)
        assert len(rep.processes) == 1
        p = rep.processes[0]
        assert (p.pid, p.name) == (pid, name)
        assert (p.total_pss_kb, p.total_rss_kb, p.total_swap_pss_kb, p.swap_is_pss) == (pss, rss, swap, swap_is_pss)
        assert len(p.columns) == ncols and len(p.rows) == nrows
        assert p.summary.graphics_kb == graphics and p.summary.java_heap_kb == java
        assert tuple(n for n in GRAPHICS_ROWS if p.row(n) is not None) == graphics_rows
        check_meminfo_arithmetic(rep)
    return check


def meminfo_launcher3(rel: str) -> None:
    m_single(21936, "com.android.launcher3", 105529, 187052, 0, False, 11, 19, 61692, 5604,
             ("Gfx dev", "EGL mtrack", "GL mtrack"))(rel)
    p = parse_meminfo(body(rel)).processes[0]
    assert p.columns == ("pss", "pss_clean", "shared_dirty", "private_dirty", "shared_clean", "private_clean",
                         "swap_dirty", "rss", "heap_size", "heap_alloc", "heap_free")
    assert len(p.dalvik_details) == 14 and p.dalvik_details[0].name == ".Heap"
    assert p.row("Native Heap").values["heap_free"] == 11037
    assert p.summary.rss_kb["Unknown"] == 5752 and p.summary.private_other_kb == 2364


def meminfo_pixel3(rel: str) -> None:
    m_single(2084, "com.android.systemui", 96932, 182691, 0, False, 8, 19, 27095, 15316,
             ("Gfx dev", "EGL mtrack", "GL mtrack"))(rel)
    p = parse_meminfo(body(rel)).processes[0]
    # INDEX: Java Heap = Dalvik Heap private dirty + .art mmap private dirty + private clean
    art = p.row(".art mmap")
    assert p.summary.java_heap_kb == p.row("Dalvik Heap").get("private_dirty") + art.get("private_dirty") + \
        art.get("private_clean")
    assert p.row("Stack").get("rss") == 1136 and p.row("Stack").get("heap_size") is None
    assert p.objects["Views"] == 863 and p.objects["Local Binders"] == 319


def meminfo_4_3(rel: str) -> None:
    m_single(29607, "com.sample.package", 28929, None, None, None, 6, 13, None, None)(rel)
    p = parse_meminfo(body(rel)).processes[0]
    assert p.columns == ("pss", "shared_dirty", "private_dirty", "heap_size", "heap_alloc", "heap_free")
    assert p.row("Dalvik").values == {"pss": 11976, "shared_dirty": 4696, "private_dirty": 11916,
                                      "heap_size": 13388, "heap_alloc": 7454, "heap_free": 5934}


def meminfo_chrome(rel: str) -> None:
    rep = parse_meminfo(body(rel), source=rel)
    names = [p.name for p in rep.processes]
    assert names == ["com.android.chrome:privileged_process0",
                     "com.android.chrome:sandboxed_process0:org.chromium.content.app.SandboxedProcessService0:0",
                     "com.android.chrome:sandboxed_process0:org.chromium.content.app.SandboxedProcessService0:1",
                     "com.android.chrome"]
    assert [p.total_pss_kb for p in rep.processes] == [29036, 27937, 44527, 168450]
    assert [p.total_rss_kb for p in rep.processes] == [207800, 180556, 205104, 413536]
    assert rep.total_pss_kb == 29036 + 27937 + 44527 + 168450
    assert rep.by_name()["com.android.chrome"].total_swap_pss_kb == 500  # the hand-edited value, as printed
    assert all(p.summary.graphics_kb == 0 and p.graphics_rows_pss_kb == 0 for p in rep.processes)
    check_meminfo_arithmetic(rep)
    d = rep.to_json()
    assert set(d["processes"][0]) >= {"pid", "name", "total_pss_kb", "total_rss_kb", "total_swap_pss_kb", "summary"}
    assert set(d["processes"][0]["summary"]) >= {"java_heap_kb", "native_heap_kb", "code_kb", "stack_kb",
                                                 "graphics_kb", "private_other_kb", "system_kb"}


# ---- gfxinfo ----------------------------------------------------------------------------------

def g_summary(total, janky, pct, missed, nframes=0, nproc=1):
    def check(rel: str) -> None:
        g = parse_gfxinfo(body(rel), source=rel)
        assert len(g.processes) == nproc
        assert (g.total_frames, g.janky_frames, g.missed_vsync) == (total, janky, missed)
        assert g.percentiles_ms == pct
        assert len(g.frames) == nframes
        j = g.to_json()
        assert set(j) >= {"total_frames", "janky_frames", "percentiles_ms", "frames"}
        assert set(j["percentiles_ms"]) == {"50", "90", "95", "99"}
    return check


NO_PCT = {"50": None, "90": None, "95": None, "99": None}


def gfx_120rows(rel: str) -> None:
    g_summary(516, 113, {"50": 11, "90": 31, "95": 65, "99": 101}, 42, nframes=120)(rel)
    g = parse_gfxinfo(body(rel))
    p = g.processes[0]
    assert p.stats.janky_frames_legacy == 356 and p.stats.frame_deadline_missed == 113
    assert p.stats.gpu_percentiles_ms == {"50": 3, "90": 3, "95": 4, "99": 8}
    assert p.stats.histogram[0] == (5, 0) and p.stats.gpu_histogram[-1] == (4950, 0)
    assert p.pipeline == "Skia (OpenGL)"
    assert p.windows[0].name == "com.soundvisualization.accessibility/com.soundvisualization.accessibility.MainActivity"
    assert p.windows[0].stats.total_frames == 516
    f0 = g.frames[0]
    # labels FrameInterval/FrameStartTime are swapped in this header: the interval is the 8.3 ms value
    assert f0.frame_interval_ns == 8311780
    assert f0.intended_vsync_ns == 314856675367713 and f0.frame_completed_ns == 314856686928950
    assert f0.duration_ms == pytest.approx(11.561237)
    assert f0.frame_deadline_ns == 314856692012826 and not f0.janky
    assert all(1 < f.duration_ms < 200 for f in g.frames)
    assert sum(f.janky for f in g.frames) == g.frame_summary()["janky"] == 10


def gfx_all_processes(rel: str) -> None:
    g = parse_gfxinfo(body(rel), source=rel)
    assert len(g.processes) == 47  # the header note says 47 processes
    with_stats = [p for p in g.processes if p.stats]
    assert len(with_stats) == 10
    assert g.percentiles_ms == NO_PCT  # several processes: percentiles do not combine
    assert g.total_frames == sum(p.stats.total_frames for p in with_stats)
    nav = next(p for p in g.processes if p.name == "de.codevoid.andronavibar")
    assert nav.stats.total_frames == 3370 and nav.stats.janky_frames == 363
    # rows are attributed to the `Window:` block printed before them (counts checked with awk)
    per_window = {w.name: len(w.frames) for p in g.processes for w in p.windows if w.frames}
    assert len(per_window) == 11
    assert per_window["Taskbar"] == 34 and per_window["StatusBar"] == 119 and per_window["InputMethod"] == 83
    assert len(g.frames) + g.skipped_flagged_frames + g.invalid_frames == 760 + 323 + 8
    settings = next(p for p in g.processes if p.name == "com.android.settings")
    assert [w.name for w in settings.windows if w.stats][:3] == [
        "com.android.settings/com.android.settings.homepage.SettingsHomepageActivity",
        "com.android.settings/com.android.settings.SubSettings",
        "com.android.settings/com.android.settings.spa.SpaActivity"]
    assert [w.stats.total_frames for w in settings.windows if w.stats][:3] == [65, 79, 160]


def gfx_after_reset(rel: str) -> None:
    g = parse_gfxinfo(body(rel), source=rel)
    # two dumps of pid 31520 (before/after reset): the later one wins
    assert [(p.pid, p.stats.total_frames) for p in g.processes] == [(31520, 2)]
    assert (g.total_frames, g.janky_frames) == (2, 2)
    assert g.percentiles_ms == {"50": 150, "90": 150, "95": 150, "99": 150}
    assert len(g.frames) == 1 and g.invalid_frames == 1  # 2nd row: FrameCompleted before IntendedVsync
    assert g.frames[0].duration_ms == pytest.approx(177.03475) and g.frames[0].janky


def gfx_summary_tablet(rel: str) -> None:
    g_summary(375, 60, {"50": 18, "90": 150, "95": 150, "99": 200}, 47)(rel)
    w = parse_gfxinfo(body(rel)).processes[0].windows[0]
    assert w.profile_columns == ("Draw", "Prepare", "Process", "Execute")
    assert len(w.profile_ms) == 120 and w.profile_ms[0] == (5.66, 3.65, 7.02, 3.83)


def gfx_android10_excerpt(rel: str) -> None:
    g = parse_gfxinfo(body(rel), source=rel)
    assert g.processes == () and len(g.frames) == 2 and g.total_frames is None
    f = g.frames[0]
    assert f.intended_vsync_ns == 594399833469194 and f.frame_completed_ns == 594399837228514
    assert f.duration_ms == pytest.approx(3.75932) and f.frame_deadline_ns is None and f.frame_interval_ns is None
    assert [f.janky for f in g.frames] == [False, False]  # 3.8 ms and 13.8 ms < 16.67 ms


def gfx_solox(rel: str) -> None:
    g = parse_gfxinfo(body(rel), source=rel)
    assert g.skipped_flagged_frames == 1 and len(g.frames) == 2  # Flags=1 row skipped
    last = g.frames[-1]
    assert last.frame_deadline_ns is None  # INT64_MAX sentinel
    assert last.display_present_ns is None  # -2 sentinel
    assert last.frame_interval_ns == 16653763


def gfx_failure(rel: str) -> None:
    with pytest.raises(ParseError, match="could not dump"):
        parse_gfxinfo(body(rel), source=rel)


def gfx_no_frames(rel: str) -> None:
    g = parse_gfxinfo(body(rel), source=rel)
    assert len(g.processes) == 1 and g.processes[0].stats is None
    assert g.total_frames is None and g.frames == () and g.percentiles_ms == NO_PCT
    assert g.processes[0].windows[0].name == "de.codevoid.aNavMode/de.codevoid.aNavMode.MainActivity"


def gfx_legacy(rel: str) -> None:
    g = parse_gfxinfo(body(rel), source=rel)
    assert g.processes[0].name == "com.android.chrome" and g.processes[0].stats is None
    assert g.total_frames is None


def sf_latency(rel: str) -> None:
    sf = parse_surfaceflinger_latency(body(rel), source=rel)
    assert sf.refresh_period_ns == 16666666 and len(sf.frames) == 13
    assert sf.frames[0].desired_present_ns == 597043335926672 and sf.frames[0].actual_present_ns == 597043380168807
    assert sf.frames[-1].frame_ready_ns == 597043813671047


# ---- thermal / battery ------------------------------------------------------------------------

def t(status, override, n, first, hal, ncool, max_status=0):
    def check(rel: str) -> None:
        r = parse_thermalservice(body(rel), source=rel)
        assert (r.status, r.override, r.source, r.hal) == (status, override, "current", hal)
        assert len(r.temperatures) == n and r.temperatures[0].to_json() == first
        assert len(r.cooling_devices) == ncool and r.max_sensor_status == max_status
    return check


def thermal_samsung_legacy(rel: str) -> None:
    t(0, False, 5, {"name": "TYPE_CPU", "type": 1, "value_c": 24.0, "status": 0}, "Sdhms", 4)(rel)
    r = parse_thermalservice(body(rel))
    assert r.temperatures[-1].name == "TYPE_POWER_AMPLIFIER" and r.temperatures[-1].value_c is None  # -99.9


def thermal_pixel(rel: str) -> None:
    t(0, False, 13, {"name": "cpu0-gold-usr", "type": 0, "value_c": 31.7, "status": 0}, "ThermalHAL 2.0", 5)(rel)
    r = parse_thermalservice(body(rel))
    # current block, not the (much hotter) cached one
    assert {x.name: x.value_c for x in r.temperatures}["cpu0-silver-usr"] == pytest.approx(32.300003)


def thermal_not(rel: str) -> None:
    with pytest.raises(ParseError, match="Thermal Status"):
        parse_thermalservice(body(rel), source=rel)


def b(level, temp, mv, status, ac, usb, stopped, counter):
    def check(rel: str) -> None:
        s = parse_battery(body(rel), source=rel)
        got = (s.level, s.scale, s.temperature_c, s.voltage_mv, s.status, s.health)
        assert got == (level, 100, temp, mv, status, 2)
        assert (s.ac_powered, s.usb_powered, s.wireless_powered) == (ac, usb, False)
        assert s.updates_stopped is stopped and s.charge_counter == counter
        assert set(s.to_json()) >= {"level", "temperature_c", "voltage_mv", "status", "ac_powered", "usb_powered"}
    return check


def battery_xiaomi16(rel: str) -> None:
    b(64, 32.8, 4320, 3, False, False, False, 4386000)(rel)
    s = parse_battery(body(rel))
    assert s.dock_powered is False and s.technology == "Li-poly" and s.extra == {}


# ---- cpu / device info ------------------------------------------------------------------------

def cpu_composite(rel: str) -> None:
    lines = body(rel).splitlines()
    assert parse_uptime(lines[0]) == (1502.19, 9732.25)
    st = parse_proc_stat(lines[1])
    assert (st.cpu.user, st.cpu.idle, st.cpu.guest_nice) == (69867, 973231, 0)
    assert st.cpu.total == 69867 + 28287 + 86375 + 973231 + 1656 + 18486 + 4392
    renderers = [parse_pid_stat(x) for x in lines[3:6]]
    assert [(r.pid, r.comm, r.utime, r.stime, r.num_threads) for r in renderers] == [
        (1829, "ocessService0:0", 15, 26, 29), (6338, "ocessService0:0", 114, 78, 34),
        (26892, "ocessService0:0", 126, 61, 31)]
    k = parse_pid_stat(lines[7])
    assert (k.pid, k.comm, k.ppid, k.stime, k.processor) == (92, "kswapd0", 2, 4836, 7)
    assert cpu_utilization(st.cpu, st.cpu) is None


def cpufreq_script(rel: str) -> None:
    cores = parse_cpufreq_script(body(rel), source=rel)
    assert len(cores) == 8
    assert cores[0].to_json() == {"cpu": 0, "online": True, "max_khz": 1800000, "cur_khz": 500000,
                                  "governor": None, "cluster": [0, 1, 2, 3, 4, 5]}
    assert cores[7].max_khz == 2000000 and cores[7].cluster == (6, 7)


def cpuinfo_t865(rel: str) -> None:
    c = parse_proc_cpuinfo(body(rel), source=rel)
    assert len(c.processors) == 8 and c.hardware == "MT6769"
    assert c.core_names == ("Cortex-A55",) * 6 + ("Cortex-A75",) * 2


def cpuinfo_old(rel: str) -> None:
    c = parse_proc_cpuinfo(body(rel), source=rel)
    assert len(c.processors) == 8 and c.core_names == ("Cortex-A53",) * 8
    assert c.hardware == "Qualcomm Technologies, Inc MSM8953"


def proc_meminfo(rel: str) -> None:
    m = parse_proc_meminfo(body(rel), source=rel)
    assert (m["MemTotal"], m["MemAvailable"], m["CmaFree"], len(m)) == (3895780, 1972036, 12348, 37)


def dumpsys_cpuinfo_44(rel: str) -> None:
    d = parse_dumpsys_cpuinfo(body(rel), source=rel)
    assert d.load == (20.88, 17.57, 10.31) and d.window_ms == (7077, 1571) and len(d.processes) == 26
    assert d.total_pct == 96.0 and d.total_parts == {"user": 49.0, "kernel": 20.0, "iowait": 26.0, "softirq": 0.5}
    chrome = next(p for p in d.processes if p.name == "com.android.chrome")
    assert (chrome.pid, chrome.total_pct, chrome.minor_faults, chrome.major_faults) == (24263, 6.0, 1361, 17)


def dumpsys_cpuinfo_miui(rel: str) -> None:
    d = parse_dumpsys_cpuinfo(body(rel), source=rel)
    assert d.window_ms == (476124, 176038) and d.total_pct is None
    assert [(p.pid, p.name) for p in d.processes] == [(5407, "com.miui.voiceassist:voice_trigger"),
                                                      (704, "android.hardware.audio@2.0-service")]


def getprop_check(n, model, sdk, history_lines):
    def check(rel: str) -> None:
        raw = (FIXTURES / rel).read_bytes().decode("utf-8")
        props = parse_getprop(strip_capture_header(raw), source=rel)
        assert len(props) == n and props["ro.product.model"] == model and props["ro.build.version.sdk"] == sdk
        hist = props.get("persist.sys.boot.reason.history")
        assert (len(hist.split("\n")) if hist is not None else 0) == history_lines
        assert not any("\r" in v for v in props.values())
    return check


def devices_legacy(rel: str) -> None:
    d = parse_adb_devices(body(rel), source=rel)
    assert [(x.serial, x.state, x.model, x.transport_id) for x in d] == [
        ("emulator-5556", "device", "Android_SDK_built_for_x86_64", None), ("0a388e93", "device", "Nexus_7", None)]
    assert d[1].props["usb"] == "1-1"


def devices_huawei(rel: str) -> None:
    d = parse_adb_devices(body(rel), source=rel)
    assert [(x.state, x.model, x.transport_id) for x in d] == [("device", "ALP_AL00", 23), ("unauthorized", None, 23)]


def bench(n_runs, init, first, warm, avg, std, count, mem, nodes=(None, None)):
    def check(rel: str) -> None:
        runs = parse_benchmark_model_runs(body(rel), source=rel)
        assert len(runs) == n_runs
        r = parse_benchmark_model(body(rel), source=rel)
        assert r == runs[-1]
        assert (r.init_us, r.first_inference_us, r.warmup_avg_us, r.inference_avg_us) == (init, first, warm, avg)
        assert (r.inference_std_us, r.count, (r.memory_init_mb, r.memory_overall_mb)) == (std, count, mem)
        assert (r.nodes_delegated, r.nodes_total) == nodes
        assert set(r.to_json()) >= {"init_us", "first_inference_us", "warmup_avg_us", "inference_avg_us",
                                    "inference_std_us", "count", "memory_init_mb", "memory_overall_mb",
                                    "nodes_delegated", "nodes_total"}
    return check


def bench_cpu_gpu(rel: str) -> None:
    bench(2, 1361236, 125113, 115344, 115246, 1329, 50, (132.816, 132.816))(rel)
    cpu, gpu = parse_benchmark_model_runs(body(rel))
    assert cpu.params["Use gpu"] == "0" and gpu.params["Use gpu"] == "1"
    assert gpu.delegate == "GPU" and gpu.fully_delegated is True and cpu.delegate is None
    assert cpu.inference.p95_us == 106281 and cpu.warmup.count == 5
    assert gpu.session_init_ms == 1361.24


def bench_xnnpack(rel: str) -> None:
    bench(1, 102320, 670083, 670083, 699438, 325425, 50, (98.0977, 99.2031), (49, 49))(rel)
    r = parse_benchmark_model(body(rel))
    assert r.warmup.count == 1 and r.warmup.avg_us is None and r.warmup.median_us == 670083  # count=1 line
    assert r.params["Num threads"] == "4"


def bench_nnapi(rel: str) -> None:
    bench(1, 126059, 32942, 12581.9, 12167.6, 325, 75, (None, None))(rel)
    r = parse_benchmark_model(body(rel))
    assert (r.delegate, r.fully_delegated, r.delegate_kernels) == ("NNAPI", False, 44)
    assert r.inference.p5_us is None  # TF 2.9: no percentiles


def bench_old(rel: str) -> None:
    bench(1, 9933, 127425, 76605.9, 66767.6, 39, 15, (None, None))(rel)
    assert parse_benchmark_model(body(rel)).old_format


def not_ours(parser, match: str):
    """Formats no parser here reads (toybox top, am start, wm size, ...): the nearest parser must
    refuse them with a clear ParseError instead of returning something wrong."""
    def check(rel: str) -> None:
        with pytest.raises(ParseError, match=match):
            parser(body(rel), source=rel)
    return check


EXPECTED: dict[str, Callable[[str], None]] = {
    "meminfo/android11_launcher3_meminfo_-a-d.txt": meminfo_launcher3,
    "meminfo/android12_pixel3_systemui_meminfo.txt": meminfo_pixel3,
    "meminfo/android14_mt6769_tablet_app_meminfo_swappss_no_gl_mtrack.txt": m_single(
        24175, "de.codevoid.aNavMode", 152666, 247357, 178, True, 8, 17, 5333, 16748, ("EGL mtrack",)),
    "meminfo/android15plus_memorylab_meminfo_-d.txt": m_single(
        20602, "com.androidperformance.memorylab", 337790, 421296, 162, True, 8, 19, 57172, 69716,
        ("Gfx dev", "EGL mtrack", "GL mtrack")),
    "meminfo/android4.3_sample_app_meminfo.txt": meminfo_4_3,
    "meminfo/android4.4_sample_app_meminfo.txt": m_single(
        30125, "com.sample.package", 44563, None, 0, False, 7, 13, None, None),
    "meminfo/android6.0_sample_app_meminfo.txt": m_single(
        22861, "com.sample.package", 145991, None, 22236, False, 7, 17, 40829, 17976, ("EGL mtrack", "GL mtrack")),
    "meminfo/android9or10_oppo_coloros_launcher_meminfo.txt": m_single(
        10396, "com.oppo.launcher", 148046, None, 0, False, 7, 19, 43532, 10908,
        ("Gfx dev", "EGL mtrack", "GL mtrack")),
    "meminfo/chrome_multiprocess_meminfo_--package_privileged_sandboxed.txt": meminfo_chrome,
    "meminfo/flutter_app_emulator_meminfo_native_allocations_asset_allocations.txt": m_single(
        3794, "com.example.app_movil", 353574, 508256, 0, False, 8, 16, 0, 34292),
    "meminfo/reactnative_app_meminfo_high_swappss_new_sqlite_stats_CRLF.txt": m_single(
        25723, "com.nareshkumarbalamurugan.YuvaUpdate", 237980, 347552, 60454, True, 8, 17, 428, 13752, ("GL mtrack",)),

    "gfxinfo/android10_framestats_16col_excerpt.txt": gfx_android10_excerpt,
    "gfxinfo/android13or14_120hz_app_gfxinfo_framestats_120rows.txt": gfx_120rows,
    "gfxinfo/android13plus_framestats_excerpt_solox_issue249.txt": gfx_solox,
    "gfxinfo/android14_mt6769_tablet_app_gfxinfo_framestats_after_reset.txt": gfx_after_reset,
    "gfxinfo/android14_mt6769_tablet_app_gfxinfo_no_frames_yet.txt": gfx_no_frames,
    "gfxinfo/android14_mt6769_tablet_app_gfxinfo_summary.txt": gfx_summary_tablet,
    "gfxinfo/android14_mt6769_tablet_dumpsys_gfxinfo_ALL_PROCESSES_with_profiledata.txt": gfx_all_processes,
    "gfxinfo/android15plus_memorylab_gfxinfo.txt": g_summary(103, 50, {"50": 5, "90": 24, "95": 32, "99": 150}, 48),
    "gfxinfo/android4.x_chrome_gfxinfo.txt": gfx_legacy,
    "gfxinfo/android5.x_chrome_gfxinfo.txt": gfx_legacy,
    "gfxinfo/android6.0_chrome_gfxinfo.txt": g_summary(3, 2, {"50": None, "90": 101, "95": 101, "99": 101}, 2),
    "gfxinfo/android7_settings_gfxinfo.txt": g_summary(24, 14, {"50": 19, "90": 65, "95": 150, "99": 300}, 3),
    "gfxinfo/android9_chrome_gfxinfo.txt": g_summary(43, 7, {"50": 5, "90": 69, "95": 150, "99": 200}, 5),
    "gfxinfo/gfxinfo_failure_while_dumping_the_app_CRLF.txt": gfx_failure,
    "gfxinfo/surfaceflinger_latency_excerpt_tab_separated.txt": sf_latency,

    "thermal/emulator_thermalservice.txt": t(
        0, None, 1, {"name": "test temperature sensor", "type": 3, "value_c": 30.8, "status": 0}, "ThermalHAL 2.0", 1),
    "thermal/pixel3_thermalservice_hal2.0.txt": thermal_pixel,
    "thermal/qualcomm_8cpu_thermalservice_status2_hal2.0.txt": t(
        2, False, 11, {"name": "battery", "type": 2, "value_c": 43.8, "status": 0}, "ThermalHAL 2.0", 9, 2),
    "thermal/samsung_sdhms_thermalservice_legacy_type_names.txt": thermal_samsung_legacy,
    "thermal/samsung_thermalservice_aidl1.txt": t(
        0, False, 6, {"name": "AP", "type": 0, "value_c": 34.6, "status": 0}, "ThermalHAL AIDL 1", 0),
    "thermal/sony_xperia_x_compact_kugo_thermal_zone_types_PARTIAL.txt": thermal_not,

    "battery/skia_lab_device_dumpsys_battery_ac_charging.txt": b(94, 28.0, 4248, 2, True, False, False, 2448973),
    "battery/xiaomi13tpro_android16_dumpsys_battery.txt": battery_xiaomi16,
    "battery/xiaomi_mi9tpro_android11_dumpsys_battery_updates_stopped.txt": b(
        15, 30.7, 4427, 2, False, False, True, 2228457),

    "cpu/android14_mt6769_tablet_cpufreq_script_formatted.txt": cpufreq_script,
    "cpu/android14_mt6769_tablet_proc_cpuinfo.txt": cpuinfo_t865,
    "cpu/android14_mt6769_tablet_proc_meminfo.txt": proc_meminfo,
    "cpu/android4.4_dumpsys_cpuinfo.txt": dumpsys_cpuinfo_44,
    "cpu/android_top_single_chrome_line.txt": not_ours(parse_dumpsys_cpuinfo, "CPU usage from"),
    "cpu/arm64_proc_cpuinfo_old_kernel_Processor_line.txt": cpuinfo_old,
    "cpu/sony_xperia_toybox_top_M_units.txt": not_ours(parse_proc_stat, "aggregate 'cpu' line"),
    "cpu/xiaomi13tpro_android16_uptime_procstat_webview_renderer_pidstat_CRLF.txt": cpu_composite,
    "cpu/xiaomi_miui_dumpsys_cpuinfo_with_wallclock_PARTIAL.txt": dumpsys_cpuinfo_miui,
    "cpu/xiaomi_miui_toybox_top_k_units_PARTIAL.txt": not_ours(parse_proc_stat, "aggregate 'cpu' line"),

    "device_info/adb_devices_l_emulator_and_nexus7_legacy_no_transport_id.txt": devices_legacy,
    "device_info/adb_devices_l_lines_huawei_mate10_device_and_unauthorized.txt": devices_huawei,
    "device_info/am_start_ok_and_error_type3_interactive_transcript.txt": not_ours(
        parse_getprop, r"\[key\]: \[value\]"),
    "device_info/android14_mt6769_tablet_surfaceflinger_gles_grep.txt": not_ours(
        parse_surfaceflinger_latency, "refresh period"),
    "device_info/android14_mt6769_tablet_wm_size_density.txt": not_ours(
        parse_getprop, r"\[key\]: \[value\]"),
    "device_info/cmd_package_resolve-activity_launcher_full_output_PARTIAL.txt": not_ours(
        parse_adb_devices, "unknown adb device state"),
    "device_info/dumpsys_window_focus_multidisplay_samsung_flip_subscreen.txt": not_ours(
        parse_adb_devices, "expected '<serial> <state>|unknown adb device state"),
    "device_info/lg_velvet_LM-V600_android11_getprop_full.txt": getprop_check(1158, "LM-V600", "30", 3),
    "device_info/oneplus_nord_n10_BE2028_android11_getprop_full.txt": getprop_check(1120, "BE2028", "30", 3),
    "device_info/samsung_galaxy_s25plus_SM-S936B_android16_getprop_full_CRLF.txt": getprop_check(
        1582, "SM-S936B", "36", 3),
    "device_info/xiaomi_rom_on_mt6589_android4.4_getprop_full.txt": getprop_check(429, "G700-U20", "19", 0),

    "tflite_benchmark/NOT_ANDROID_qualcomm_rb1_linux_benchmark_model_cpu_then_gpu.txt": bench_cpu_gpu,
    "tflite_benchmark/OLD_FORMAT_2019_benchmark_model_android_no_INFO_prefix_PARTIAL.txt": bench_old,
    "tflite_benchmark/android_benchmark_logcat_threadtime_nnapi_PARTIAL.txt": bench_nnapi,
    "tflite_benchmark/android_benchmark_model_cpu_xnnpack_4threads.txt": bench_xnnpack,
}


def getprop_utf16_raw(rel: str) -> None:
    """The byte-exact PowerShell original (UTF-16LE + BOM, CRLF, no header) named in INDEX.md."""
    from mobile_webinfer.parsers import parse_getprop_bytes

    props = parse_getprop_bytes((FIXTURES / rel).read_bytes(), source=rel)
    text = body("device_info/samsung_galaxy_s25plus_SM-S936B_android16_getprop_full_CRLF.txt")
    assert props == parse_getprop(text) and props["ro.product.model"] == "SM-S936B"


# listed in INDEX.md but not (yet) copied into tests/fixtures: checked when present
OPTIONAL: dict[str, Callable[[str], None]] = {
    "device_info/samsung_galaxy_s25plus_SM-S936B_android16_getprop_full.utf16le.raw": getprop_utf16_raw,
}
PARSED = {**EXPECTED, **{k: v for k, v in OPTIONAL.items() if (FIXTURES / k).exists()}}


def test_every_fixture_has_an_expectation() -> None:
    on_disk = {p.relative_to(FIXTURES).as_posix() for p in ALL_FILES}
    assert on_disk - set(EXPECTED) - set(OPTIONAL) == set(), "new fixture(s) without a parser expectation"
    assert set(EXPECTED) - on_disk == set(), "expectation for a fixture that is gone"


@pytest.mark.parametrize("rel", sorted(PARSED))
def test_fixture(rel: str) -> None:
    PARSED[rel](rel)


def test_every_fixture_has_a_header() -> None:
    for p in ALL_FILES:
        if p.suffix == ".raw":  # byte-exact originals carry no header
            continue
        text = p.read_text(encoding="utf-8")
        assert strip_capture_header(text) != text, p.name
