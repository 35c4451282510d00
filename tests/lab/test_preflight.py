"""`mwi doctor --phone` on the fake phone: the whole preflight passes, and each fault the fake can show
(no DevTools socket, `adb reverse` refused, hot, low battery, a benchmark_model for another ABI, a lock
screen that stays) fails exactly its own check, with a fix line; `mwi sweep` stops in seconds (exit 3)
on what would fail every cell."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from mobile_webinfer.targets.android.preflight import PreflightOptions, phone_checks
from mobile_webinfer.web.server import PageServer
from tests.lab.test_benchmark_setup import elf
from tests.sweep_helpers import MWI

pytestmark = pytest.mark.browser
CHROME = "com.android.chrome"


@pytest.fixture
def binaries(tmp_path):
    good, wrong = tmp_path / "arm64" / "benchmark_model", tmp_path / "x86_64" / "benchmark_model"
    for p, machine in ((good, 183), (wrong, 62)):
        p.parent.mkdir()
        p.write_bytes(elf(machine))
    return good, wrong


def _failed(report) -> dict[str, str]:
    return {c.name: c.fix for c in report.checks if c.status == "fail"}


def test_doctor_phone_passes_on_the_fake_phone(fake_phone, binaries):
    pixel = fake_phone("pixel")
    p = subprocess.run(MWI + ["doctor", "--no-host", "--phone", "all", "--browsers", CHROME,
                              "--benchmark-model", str(binaries[0]), "--json"],
                       capture_output=True, text=True, timeout=180)
    report = json.loads(p.stdout)
    by = {c["name"]: c for c in report["checks"]}
    assert p.returncode == 0 and report["ok"], p.stdout + p.stderr
    assert {c["target"] for c in report["checks"]} == {pixel.serial}
    assert set(by) == {"online", "identity", "screen", "battery", "thermal", "benchmark_model", "probes", "reverse",
                       "page:chrome", "devtools:chrome", "tap:chrome"}
    assert all(c["status"] == "ok" for c in report["checks"]), [c for c in report["checks"] if c["status"] != "ok"]
    assert "arm64-v8a" in by["identity"]["detail"] and "runs on the phone" in by["benchmark_model"]["detail"]
    assert "crossOriginIsolated True" in by["page:chrome"]["detail"] and "landed" in by["tap:chrome"]["detail"]
    assert any(c.startswith("input tap") for c in pixel.commands)
    text = subprocess.run(MWI + ["doctor", "--no-host", "--phone", pixel.serial, "--browsers", CHROME,
                                 "--benchmark-model", str(binaries[0])], capture_output=True, text=True, timeout=180)
    assert text.returncode == 0 and f"phone {pixel.serial}:" in text.stdout and "0 failed" in text.stdout


FAULTS = [  # (fault switches, expected failing check)
    ({"devtools_socket_missing": True}, "devtools:chrome"),
    ({"reverse_port_bound": True}, "reverse"),
    ({"thermal_status": 3}, "thermal"),
    ({"battery_temp_c": 41.0}, "thermal"),
    ({"battery_level": 9}, "battery"),
    ({"keyguard": True, "keyguard_secure": True}, "screen"),
    ({}, "benchmark_model"),  # the binary for another ABI
]


def test_each_fault_fails_exactly_its_check_with_a_fix(fake_phone, binaries):
    pixel = fake_phone("pixel")
    good, wrong = binaries
    with PageServer() as server:
        for faults, check in FAULTS:
            for k, v in faults.items():
                pixel.control.set_fault(k, v)
            opts = PreflightOptions(benchmark_model=str(wrong if check == "benchmark_model" else good),
                                    browsers=(CHROME,), page_timeout_s=20)
            t0 = time.monotonic()
            report = phone_checks(pixel.serial, opts, server=server)
            failed = _failed(report)
            assert list(failed) == [check], (faults, [c.to_json() for c in report.checks])
            assert failed[check], f"{check}: no fix line"
            assert time.monotonic() - t0 < 90
            for k, v in faults.items():
                pixel.control.set_fault(k, False if isinstance(v, bool) else None)
            if check == "reverse":  # what depends on the mapping is skipped, not failed
                assert {c.name: c.status for c in report.checks}["page:chrome"] == "skip"
    by = {c.name: c for c in report.checks}
    assert "x86_64" in by["benchmark_model"].detail and "mwi devices setup" in by["benchmark_model"].fix


def _sweep(pixel, out, *extra):
    t0 = time.monotonic()
    p = subprocess.run(MWI + ["sweep", "--target", pixel.serial, "--models", "tiny_cnn", "--threads", "1", "--quick",
                              "--runtimes", "tfjs", "--backends", "wasm", "--browsers", CHROME, "--no-capabilities",
                              "--out", str(out), *extra], capture_output=True, text=True, timeout=120)
    return p, time.monotonic() - t0


def test_sweep_stops_in_seconds_on_a_lock_screen_or_a_wrong_abi_benchmark_model(fake_phone, tmp_path, binaries):
    pixel = fake_phone("pixel")
    pixel.control.set_fault("keyguard", True)
    pixel.control.set_fault("keyguard_secure", True)
    p, took = _sweep(pixel, tmp_path / "a", "--no-native")
    assert p.returncode == 3 and took < 60, p.stderr[-2000:]
    assert f"preflight {pixel.serial} screen failed" in p.stderr and "fix: unlock the phone" in p.stderr
    assert not (tmp_path / "a" / "runs").exists() or not any((tmp_path / "a" / "runs").iterdir())
    assert not any(c.startswith("am start") for c in pixel.commands)
    pixel.control.set_fault("keyguard", False)
    pixel.control.set_fault("keyguard_secure", False)
    p, took = _sweep(pixel, tmp_path / "b", "--benchmark-model", str(binaries[1]), "--native-backends", "cpu")
    # a wrong-ABI --benchmark-model is bad input, refused before the preflight runs (exit 2, issue 23)
    assert p.returncode == 2 and took < 60, p.stderr[-2000:]
    assert "x86_64" in p.stderr and f"mwi devices setup {pixel.serial}" in p.stderr
    assert not any(c.startswith("am start") for c in pixel.commands)


def test_an_unauthorised_phone_fails_online_with_the_fix_and_skips_the_rest(fake_phone, adb_server):
    galaxy = fake_phone("galaxy", unauthorized=True)  # not connected yet: connect, as adb does
    adb_server.adb("connect", galaxy.serial, check=False)
    adb_server.wait_state(galaxy.serial, "unauthorized")
    report = phone_checks(galaxy.serial, PreflightOptions())
    assert _failed(report) == {"online": _failed(report)["online"]}
    assert "Allow USB debugging" in _failed(report)["online"]
    assert {c.status for c in report.checks if c.name != "online"} == {"skip"}
