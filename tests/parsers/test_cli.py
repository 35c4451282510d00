"""`mwi parse`: tables, --json with the issue-5 names, stdin, and exit code 2 on bad input."""

from __future__ import annotations

import codecs
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mobile_webinfer.cli import main

FIX = Path(__file__).resolve().parents[1] / "fixtures"
MWI = Path(sys.executable).with_name("mwi")


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = 0
    try:
        main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


CONTRACT = {
    "meminfo": ("meminfo/chrome_multiprocess_meminfo_--package_privileged_sandboxed.txt", {"processes"}),
    "gfxinfo": ("gfxinfo/android13or14_120hz_app_gfxinfo_framestats_120rows.txt",
                {"total_frames", "janky_frames", "percentiles_ms", "frames"}),
    "thermal": ("thermal/qualcomm_8cpu_thermalservice_status2_hal2.0.txt", {"status", "source", "temperatures"}),
    "battery": ("battery/xiaomi13tpro_android16_dumpsys_battery.txt",
                {"level", "temperature_c", "voltage_mv", "status", "ac_powered", "usb_powered"}),
    "benchmark-model": ("tflite_benchmark/android_benchmark_model_cpu_xnnpack_4threads.txt",
                        {"init_us", "first_inference_us", "warmup_avg_us", "inference_avg_us", "inference_std_us",
                         "count", "memory_init_mb", "memory_overall_mb", "nodes_delegated", "nodes_total"}),
}


@pytest.mark.parametrize("kind", sorted(CONTRACT))
def test_json_contract_names(kind: str, capsys) -> None:
    rel, keys = CONTRACT[kind]
    code, out, err = run(["parse", kind, str(FIX / rel), "--json"], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert keys <= set(data)
    if kind == "meminfo":
        p = data["processes"][3]
        assert p["name"] == "com.android.chrome" and p["total_pss_kb"] == 168450
        assert {"pid", "name", "total_pss_kb", "total_rss_kb", "total_swap_pss_kb", "summary"} <= set(p)
    if kind == "gfxinfo":
        assert data["percentiles_ms"] == {"50": 11, "90": 31, "95": 65, "99": 101}
        assert {"intended_vsync_ns", "frame_completed_ns", "duration_ms"} <= set(data["frames"][0])
    if kind == "thermal":
        assert data["status"] == 2 and data["source"] == "current"
        assert set(data["temperatures"][0]) >= {"name", "type", "value_c", "status"}


def test_getprop_json_is_flat(capsys) -> None:
    code, out, _ = run(["parse", "getprop", str(FIX / "device_info/lg_velvet_LM-V600_android11_getprop_full.txt"),
                        "--json"], capsys)
    data = json.loads(out)
    assert code == 0 and data["ro.product.model"] == "LM-V600" and all(isinstance(v, str) for v in data.values())


def test_table_output(capsys) -> None:
    code, out, _ = run(["parse", "meminfo", str(FIX / "meminfo/chrome_multiprocess_meminfo_--package_privileged_"
                                                     "sandboxed.txt")], capsys)
    assert code == 0 and "com.android.chrome:privileged_process0" in out and "168450" in out
    assert "all processes: PSS 269950 kB" in out


def test_benchmark_two_runs_json(capsys) -> None:
    code, out, _ = run(["parse", "benchmark-model", str(FIX / "tflite_benchmark/NOT_ANDROID_qualcomm_rb1_linux_"
                                                             "benchmark_model_cpu_then_gpu.txt"), "--json"], capsys)
    data = json.loads(out)
    assert code == 0 and data["inference_avg_us"] == 115246 and len(data["runs"]) == 2


def test_unparseable_fixture_exits_2_with_one_line(capsys) -> None:
    code, out, err = run(["parse", "gfxinfo", str(FIX / "gfxinfo/gfxinfo_failure_while_dumping_the_app_CRLF.txt")],
                         capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("mwi: error: ") and "could not dump" in err


def test_unknown_kind_and_missing_file(capsys, tmp_path) -> None:
    code, _, err = run(["parse", "nope", str(tmp_path / "x")], capsys)
    assert code == 2 and "unknown kind" in err
    code, _, err = run(["parse", "battery", str(tmp_path / "missing.txt")], capsys)
    assert code == 2 and "no such file" in err


def test_help_has_example() -> None:
    out = subprocess.run([str(MWI), "parse", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "Example:" in out.stdout


def test_stdin_utf16_and_garbage_via_entry_point() -> None:
    raw = (FIX / "battery/skia_lab_device_dumpsys_battery_ac_charging.txt").read_text()
    utf16 = codecs.BOM_UTF16_LE + raw.replace("\n", "\r\n").encode("utf-16-le")
    ok = subprocess.run([str(MWI), "parse", "battery", "-", "--json"], input=utf16, capture_output=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["temperature_c"] == 28.0
    bad = subprocess.run([str(MWI), "parse", "thermal", "-"], input=b"\x00\xff garbage \x01", capture_output=True,
                         timeout=60)
    assert bad.returncode == 2 and bad.stdout == b""
    lines = bad.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mwi: error: <stdin>")
