"""`mwi devices` JSON contract and `mwi devices capture` files, over the stub session."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mobile_webinfer.targets import capture as cap
from mobile_webinfer.adb import discovery
from mobile_webinfer.targets import devices
from mobile_webinfer.adb.device import Device
from mobile_webinfer.adb.shell import AdbDeviceEntry, AdbSession
from mobile_webinfer.parsers.capture import capture_header, strip_capture_header
from mobile_webinfer.parsers.getprop import parse_getprop
from mobile_webinfer.paths import REPO_ROOT

from .stubs import StubSession

FIX = REPO_ROOT / "tests" / "fixtures"
S25 = "device_info/samsung_galaxy_s25plus_SM-S936B_android16_getprop_full_CRLF.txt"


def fixture_text(rel: str) -> str:
    return strip_capture_header((FIX / rel).read_text(encoding="utf-8"))


@pytest.fixture
def phone() -> StubSession:
    s = StubSession(serial="R5CY12AB34C")
    # The fixture's identifiers are already "REDACTED"; give the phone a real-looking serial back.
    getprop = fixture_text(S25).replace("[ro.serialno]: [REDACTED]", "[ro.serialno]: [R5CY12AB34C]")
    assert "R5CY12AB34C" in getprop
    s.answers[("getprop",)] = (getprop, "", 0)
    s.answers[("getprop", "ro.product.model")] = ("SM-S936B\n", "", 0)
    s.answers[("dumpsys", "battery")] = (fixture_text("battery/xiaomi13tpro_android16_dumpsys_battery.txt"), "", 0)
    s.answers[("dumpsys", "thermalservice")] = (fixture_text("thermal/samsung_thermalservice_aidl1.txt"), "", 0)
    s.answers[("pm", "list", "packages")] = ("package:com.sec.android.app.sbrowser\npackage:com.android.chrome\n",
                                             "", 0)
    s.answers[("dumpsys", "package", "com.android.chrome")] = ("    versionName=131.0.6778.200\n", "", 0)
    s.answers[("dumpsys", "package", "com.sec.android.app.sbrowser")] = ("    versionName=27.1.2.6\n", "", 0)
    s.answers[("cat", "/proc/stat")] = ("cpu  1 2 3 4 5 6 7 0 0 0\n", "", 0)
    # no browser running: no DevTools socket open (`mwi devices` says so per measurable browser)
    s.answers[("cat", "/proc/net/unix")] = ("Num       RefCount Protocol Flags    Type St Inode Path\n", "", 0)
    s.answers[("cat", "/proc/cpuinfo")] = ("processor\t: 0\n", "", 0)
    s.answers[("cat", "/proc/meminfo")] = ("MemTotal:       11483648 kB\n", "", 0)
    s.answers[("wm", "size")] = ("Physical size: 1440x3120\n", "", 0)
    s.answers[("wm", "density")] = ("Physical density: 450\n", "", 0)
    s.answers[("sh", "-c", cap.CPUFREQ_SCRIPT)] = ("", "grep: not found\n", 127)   # falls back to cat
    s.answers[("cat", "/sys/devices/system/cpu/possible")] = ("0-1\n", "", 0)
    for cpu in (0, 1):
        for f in cap._CPU_FILES:
            s.answers[("cat", f"/sys/devices/system/cpu/cpu{cpu}/cpufreq/{f}")] = (f"{cpu}000\n", "", 0)
    for pkg in ("com.android.chrome", "com.sec.android.app.sbrowser"):
        s.answers[("dumpsys", "meminfo", "--package", pkg)] = (f"No process found for: {pkg}\n", "", 0)
        s.answers[("dumpsys", "gfxinfo", pkg)] = ("", "", 1)
    s.others = [AdbDeviceEntry("HUAWEI123", "unauthorized", (("transport_id", "3"),))]
    return s


def test_describe_contract_keys_and_values(phone):
    descs = devices.describe_all(phone)  # type: ignore[arg-type]
    recs = [d.record for d in descs]
    assert [list(r) for r in recs] == [list(devices.DEVICE_KEYS)] * 2
    r = recs[0]
    assert r["serial"] == "R5CY12AB34C" and r["state"] == "device"
    assert (r["model"], r["manufacturer"], r["android_release"], r["sdk"]) == ("SM-S936B", "samsung", "16", 36)
    assert (r["soc"], r["abi"]) == ("QTI SM8750", "arm64-v8a")
    assert r["fingerprint"].startswith("samsung/pa2qxeea/pa2q:16/")
    assert (r["battery_level"], r["battery_temperature_c"]) == (64, 32.8)
    assert r["thermal_status"] == "NONE"
    assert r["browsers"] == [{"package": "com.android.chrome", "name": "Chrome", "version": "131.0.6778.200"},
                             {"package": "com.sec.android.app.sbrowser", "name": "Samsung Internet",
                              "version": "27.1.2.6"}]
    assert r["profile"] == "samsung-galaxy-s25plus"
    u = recs[1]
    assert u["serial"] == "HUAWEI123" and u["state"] == "unauthorized" and u["browsers"] == []
    assert all(u[k] is None for k in devices.DEVICE_KEYS if k not in ("serial", "state", "browsers"))
    assert descs[0].problems == () and descs[1].problems == ()


def test_describe_failed_probe_leaves_nulls_and_a_problem(phone):
    from mobile_webinfer.errors import DeviceError
    phone.answers[("dumpsys", "thermalservice")] = DeviceError("Can't find service: thermalservice",
                                                                serial=phone.serial)
    d = devices.describe(discovery.list_devices(phone)[0], phone)  # type: ignore[arg-type]
    assert d.record["thermal_status"] is None and d.record["model"] == "SM-S936B"
    assert len(d.problems) == 1 and "thermal" in d.problems[0]


@pytest.mark.parametrize("status, name", [(0, "NONE"), (3, "SEVERE"), (6, "SHUTDOWN"), (None, None), (9, "9")])
def test_thermal_status_names(status, name):
    assert discovery.thermal_status_name(status) == name


def test_capture_writes_fixture_style_files(phone, tmp_path):
    out = tmp_path / "cap"
    rep = cap.capture(Device(phone.serial, client=phone), out)  # type: ignore[arg-type]
    names = sorted(p.name for p in rep.files)
    for expected in ("getprop.txt", "dumpsys_battery.txt", "dumpsys_thermalservice.txt", "proc_stat.txt",
                     "cpufreq.txt", "wm_size.txt", "dumpsys_package_com.android.chrome.txt",
                     "dumpsys_meminfo_com.sec.android.app.sbrowser.txt", "dumpsys_gfxinfo_com.android.chrome.txt"):
        assert expected in names
    for p in rep.files:
        head = capture_header(p.read_text(encoding="utf-8"))
        assert {"source", "device", "android", "command"} <= set(head), p.name
        assert "samsung SM-S936B" in head["device"] and head["android"].startswith("16 (SDK 36)")
    getprop = (out / "getprop.txt").read_text(encoding="utf-8")
    props = parse_getprop(strip_capture_header(getprop))
    assert props["ro.product.model"] == "SM-S936B"
    assert props["ro.serialno"] == "[REDACTED]" and "R5CY12AB34C" not in getprop
    assert "redact" in capture_header(getprop)["note"].lower()
    batt = strip_capture_header((out / "dumpsys_battery.txt").read_text(encoding="utf-8"))
    assert batt == fixture_text("battery/xiaomi13tpro_android16_dumpsys_battery.txt")
    cpufreq = (out / "cpufreq.txt").read_text()
    assert "/sys/devices/system/cpu/cpu1/cpufreq/scaling_cur_freq: 1000" in cpufreq
    assert sorted(rep.failures) == ["dumpsys_gfxinfo_com.android.chrome: exit status 1",
                                    "dumpsys_gfxinfo_com.sec.android.app.sbrowser: exit status 1"]


def test_capture_cpufreq_in_parse_cpufreq_format(phone, tmp_path):
    from mobile_webinfer.parsers.cpu import parse_cpufreq
    grep_out = ("/sys/devices/system/cpu/cpufreq/policy0/related_cpus:0 1 2 3\n"
                "/sys/devices/system/cpu/cpufreq/policy0/scaling_cur_freq:1804800\n"
                "/sys/devices/system/cpu/cpufreq/policy4/related_cpus:4 5 6 7\n"
                "/sys/devices/system/cpu/cpufreq/policy4/scaling_cur_freq:2419200\n")
    phone.answers[("sh", "-c", cap.CPUFREQ_SCRIPT)] = (grep_out, "", 0)
    cap.capture(Device(phone.serial, client=phone), tmp_path / "c")  # type: ignore[arg-type]
    text = strip_capture_header((tmp_path / "c" / "cpufreq.txt").read_text())
    assert [p.cur_khz for p in parse_cpufreq(text)] == [1804800, 2419200]


def test_capture_refuses_non_empty_folder(phone, tmp_path):
    from mobile_webinfer.errors import UsageError
    (tmp_path / "x").write_text("x")
    with pytest.raises(UsageError, match="not empty"):
        cap.capture(Device(phone.serial, client=phone), tmp_path)  # type: ignore[arg-type]


def test_redact_getprop_keeps_crlf_and_other_lines():
    text = ("[ro.serialno]: [R5CY12AB34C]\r\n[ro.product.model]: [SM-S936B]\r\n[ro.boot.em.did]: [a1b2c3d4e5]\r\n"
            "[ril.iccid.sim1]: [89984320001566073987]\r\n[ro.imei.check]: [yes]\r\n[ro.boot.serialconsole]: [0]\r\n")
    assert cap.redact_getprop(text) == ("[ro.serialno]: [[REDACTED]]\r\n[ro.product.model]: [SM-S936B]\r\n"
                                        "[ro.boot.em.did]: [[REDACTED]]\r\n[ril.iccid.sim1]: [[REDACTED]]\r\n"
                                        "[ro.imei.check]: [yes]\r\n[ro.boot.serialconsole]: [0]\r\n")


def run_cli(args: list[str]) -> int:
    """`mwi ARGS` in this process; returns the exit status (0 when main returns normally)."""
    from mobile_webinfer import cli
    try:
        cli.main(args)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_cli_json_and_unknown_serial(phone, monkeypatch, capsys):
    monkeypatch.setattr(AdbSession, "from_env", classmethod(lambda cls: phone))
    assert run_cli(["devices", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["serial"] for d in data] == ["R5CY12AB34C", "HUAWEI123"]
    assert run_cli(["devices", "capture", "NOPE999"]) == 3
    err = capsys.readouterr().err.strip()
    assert err.startswith("mwi: error:") and "NOPE999" in err and "\n" not in err


def test_cli_table(phone, monkeypatch, capsys):
    monkeypatch.setattr(AdbSession, "from_env", classmethod(lambda cls: phone))
    assert run_cli(["devices"]) == 0
    out = capsys.readouterr().out
    assert "R5CY12AB34C" in out and "unauthorized" in out and "samsung-galax" in out


def test_cli_help_has_example():
    out = subprocess.run([sys.executable, "-m", "mobile_webinfer", "devices", "capture", "--help"],
                         capture_output=True, text=True, timeout=60, cwd=REPO_ROOT).stdout
    assert "Example: mwi devices capture" in out


def test_fingerprint_of_nothing_is_all_none():
    from mobile_webinfer.adb.device import fingerprint_from_props
    fp = fingerprint_from_props({}, serial="X")
    assert fp["serial"] == "X" and all(v is None for k, v in fp.items() if k != "serial")
    assert fingerprint_from_props({"ro.build.version.sdk": "thirty"})["sdk"] is None


def test_redact_is_idempotent_on_every_getprop_capture():
    for path in sorted((FIX / "device_info").glob("*getprop*.txt")):
        text = strip_capture_header(path.read_text(encoding="utf-8"))
        once = cap.redact_getprop(text)
        assert cap.redact_getprop(once) == once
        assert once.count("\n") == text.count("\n")
        props, red = parse_getprop(text), parse_getprop(once)
        assert props.keys() == red.keys()
        changed = {k for k in props if props[k] != red[k]}
        assert all(red[k] == "[REDACTED]" for k in changed)
        assert "ro.product.model" not in changed and "ro.build.fingerprint" not in changed


def test_find_device(phone):
    from mobile_webinfer.errors import DeviceNotFound, UsageError
    assert discovery.find_device("HUAWEI123", phone).state == "unauthorized"  # type: ignore[arg-type]
    with pytest.raises(DeviceNotFound, match="attached: R5CY12AB34C, HUAWEI123"):
        discovery.find_device("NOPE", phone)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        discovery.find_device("a b", phone)  # type: ignore[arg-type]
