"""The project's parsers (mobile_webinfer.parsers, lead-owned) read what the fake prints.

If one of these fails, either the fake's layout drifted from the captures or a parser
changed: both matter, because the fake stands in for real phones in every library test.
"""

from __future__ import annotations

import pytest

from tests.fakephone.bench import stand_in_elf
from tests.fakephone.pytest_fixtures import start_fake_phone

parsers = pytest.importorskip("mobile_webinfer.parsers")


@pytest.fixture(scope="module")
def pixel(adb_server):
    handle = start_fake_phone(adb_server, "pixel", in_process=True)
    yield handle
    handle.stop()


def out(handle, line: str) -> str:
    r = handle.device().shell2(line, v2=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_getprop_thermal_battery_cpu(pixel):
    props = parsers.parse_getprop(out(pixel, "getprop"))
    assert props["ro.product.model"] == "Pixel 3"
    pixel.control.set_fault("thermal_status", 4)
    try:
        assert parsers.parse_thermalservice(out(pixel, "dumpsys thermalservice")).status == 4
    finally:
        pixel.control.set_fault("thermal_status", None)
    battery = parsers.parse_battery(out(pixel, "dumpsys battery"))
    assert battery.level == 87
    stat = parsers.parse_proc_stat(out(pixel, "cat /proc/stat"))
    assert stat is not None
    up, _idle = parsers.parse_uptime(out(pixel, "cat /proc/uptime"))
    assert up > 73000


@pytest.mark.browser
def test_meminfo_and_gfxinfo_of_the_real_browser(pixel):
    out(pixel, "am start -W -a android.intent.action.VIEW -d about:blank -n "
               "com.android.chrome/com.google.android.apps.chrome.Main")
    try:
        report = parsers.parse_meminfo(out(pixel, "dumpsys meminfo --package com.android.chrome"))
        names = [p.name for p in report.processes]
        assert "com.android.chrome" in names and len(names) >= 2
        assert all(p.total_pss_kb > 0 for p in report.processes)
        gfx = parsers.parse_gfxinfo(out(pixel, "dumpsys gfxinfo com.android.chrome framestats"))
        assert gfx is not None
    finally:
        out(pixel, "am force-stop com.android.chrome")
    gone = parsers.parse_meminfo(out(pixel, "dumpsys meminfo --package com.android.chrome"))
    assert gone.not_found == "com.android.chrome" and gone.processes == ()


def test_benchmark_model_cpu_and_gpu(pixel, tiny_model, tmp_path):
    from .test_benchmark_model import BIN, GRAPH

    d = pixel.device()
    d.sync.push(str(tiny_model), GRAPH)
    (tmp_path / "bm").write_bytes(stand_in_elf())
    d.sync.push(str(tmp_path / "bm"), BIN, mode=0o755)
    common = "--num_runs=10 --min_secs=0.05 --warmup_min_secs=0.01"
    cpu = d.shell2(f"{BIN} --graph={GRAPH} --num_threads=4 --use_xnnpack=true {common}", v2=True)
    res = parsers.parse_benchmark_model(cpu.stderr)
    assert res.inference_avg_us > 0 and res.count >= 10
    gpu = d.shell2(f"{BIN} --graph={GRAPH} --use_gpu=true {common}", v2=True)
    res = parsers.parse_benchmark_model(gpu.stderr)
    assert res.nodes_total is not None and res.nodes_delegated < res.nodes_total
    assert res.fully_delegated is False
