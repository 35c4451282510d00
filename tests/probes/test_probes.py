"""Probes against an in-process fake phone answering from the real captures."""

from __future__ import annotations

import pytest

from mobile_webinfer.errors import DeviceError, ParseError, UsageError
from mobile_webinfer.probes import (BatteryProbe, CpuProbe, GfxinfoProbe, MeminfoProbe, ShellLike, ThermalProbe,
                                    cpu_script, default_probes, validate_package)

from .fake import CHROME, FakeShell, capture, full_phone


def test_fake_matches_protocol() -> None:
    assert isinstance(full_phone(), ShellLike)


def test_meminfo_probe_sums_every_chrome_process() -> None:
    dev = full_phone()
    p = MeminfoProbe(CHROME)
    assert p.supported(dev)
    d = p.data(p.sample(dev))
    assert d["total_pss_kb"] == 29036 + 27937 + 44527 + 168450
    assert d["processes"]["com.android.chrome:privileged_process0"]["rss_kb"] == 207800
    assert len(d["processes"]) == 4
    assert dev.calls[-1] == ("dumpsys", "meminfo", "--package", CHROME)


def test_gfxinfo_probe_reports_each_frame_once() -> None:
    dev = full_phone()
    p = GfxinfoProbe(CHROME)
    first = p.data(p.sample(dev))
    assert first["new_frames"] == 120 and first["total_frames"] == 516 and first["new_janky"] == 10
    assert first["frames"][0][0] == 314856675367713
    again = p.data(p.sample(dev))  # same ring buffer: nothing new
    assert again["new_frames"] == 0 and again["frames"] == []
    p.reset()
    assert p.data(p.sample(dev))["new_frames"] == 120


def test_gfxinfo_probe_failure_dump_is_parse_error() -> None:
    dev = full_phone(**{f"dumpsys|gfxinfo|{CHROME}|framestats":
                        capture("gfxinfo/gfxinfo_failure_while_dumping_the_app_CRLF.txt")})
    with pytest.raises(ParseError, match="could not dump"):
        GfxinfoProbe(CHROME).sample(dev)


def test_thermal_and_battery_probes() -> None:
    dev = full_phone()
    t = ThermalProbe().data(ThermalProbe().sample(dev))
    assert t["status"] == 2 and t["source"] == "current" and t["temperatures"]["skin"] == 44.637
    b = BatteryProbe().data(BatteryProbe().sample(dev))
    assert b == {"level": 64, "temperature_c": 32.8, "voltage_mv": 4320, "status": 3, "ac_powered": False,
                 "usb_powered": False, "wireless_powered": False, "updates_stopped": False}


def test_cpu_probe_utilization_between_samples() -> None:
    dev = full_phone()
    p = CpuProbe()
    assert p.supported(dev)
    assert p.cpus == (0, 1)
    first = p.data(p.sample(dev))
    assert first["utilization"] is None and first["freq_khz"] == {"cpu0": 500000, "cpu1": None}
    second = p.data(p.sample(dev))
    assert second["utilization"] == pytest.approx(0.5) and second["per_cpu"] == {"cpu0": 0.5, "cpu1": 0.5}
    assert second["freq_khz"] == {"cpu0": 501000, "cpu1": None}
    assert cpu_script([0, 1]) == ("cat /proc/stat; echo @cpu0; cat /sys/devices/system/cpu/cpu0/cpufreq/"
                                  "scaling_cur_freq 2>/dev/null; echo @cpu1; cat /sys/devices/system/cpu/cpu1/"
                                  "cpufreq/scaling_cur_freq 2>/dev/null; true")


def test_supported_falls_back_when_service_command_is_missing() -> None:
    dev = full_phone()
    del dev.table[("service", "check", "battery")]
    dev.table[("service", "check", "battery")] = ("/system/bin/sh: service: not found", 127)
    assert BatteryProbe().supported(dev)
    assert dev.calls[-1] == ("dumpsys", "battery")
    dev.table[("dumpsys", "battery")] = ("Can't find service: battery", 0)
    assert not BatteryProbe().supported(dev)


def test_app_not_running() -> None:
    dev = full_phone(**{f"dumpsys|gfxinfo|{CHROME}|framestats": f"No process found for: {CHROME}\n",
                        f"dumpsys|meminfo|--package|{CHROME}": f"No process found for: {CHROME}\n"})
    g = GfxinfoProbe(CHROME)
    assert g.data(g.sample(dev))["not_found"] == CHROME
    m = MeminfoProbe(CHROME)
    assert m.data(m.sample(dev)) == {"total_pss_kb": 0, "not_found": CHROME, "processes": {}}


def test_unsupported_service_and_unknown_command() -> None:
    dev = full_phone(**{"service|check|thermalservice": "Service thermalservice: not found"})
    assert not ThermalProbe().supported(dev)
    bare = FakeShell({})
    with pytest.raises(DeviceError, match="unknown command"):
        BatteryProbe().sample(bare)
    assert not CpuProbe().supported(FakeShell({("cat", "/proc/stat"): ("cat: /proc/stat: denied", 1)}))


def test_package_names_are_validated() -> None:
    assert validate_package("com.android.chrome") == "com.android.chrome"
    for bad in ["chrome", "com.android.chrome; reboot", "-x.y", "com..a", "", "a.b c"]:
        with pytest.raises(UsageError):
            MeminfoProbe(bad)
    assert [p.name for p in default_probes(CHROME)] == ["meminfo", "gfxinfo", "thermal", "battery", "cpu"]
