"""Fault scripts: set at start (CLI flags / constructor) and at run time (control API)."""

from __future__ import annotations

import re
import time

import adbutils
import pytest


def sh(handle, line: str, timeout: float = 20):
    return handle.device().shell2(line, v2=True, timeout=timeout)


def test_drop_connection_mid_stream_then_reconnect(fake_phone, adb_server):
    phone = fake_phone("pixel")  # subprocess; fault set at run time over the control socket
    phone.control.set_fault("drop_on", {"pattern": r"^dumpsys battery$", "times": 1})
    with pytest.raises((adbutils.AdbError, ConnectionError, OSError, EOFError)):
        r = sh(phone, "dumpsys battery")
        # adbutils may return the partial output when the stream ends early; a real client sees
        # no exit packet.  Either way the output must not be the full answer.
        assert r.returncode != 0 and "technology" not in r.stdout
        raise adbutils.AdbError("partial")
    phone.reconnect()
    r = sh(phone, "dumpsys battery")
    assert r.returncode == 0 and "technology: Li-ion" in r.stdout
    assert phone.control.faults()["drop_on"][0]["times"] == 0


def test_drop_given_at_start_with_cli_flag(fake_phone):
    phone = fake_phone("pixel", drop_on=["getprop ro.build.fingerprint"])
    with pytest.raises((adbutils.AdbError, ConnectionError, OSError, EOFError)):
        r = sh(phone, "getprop ro.build.fingerprint")
        assert r.returncode != 0
        raise adbutils.AdbError("partial")
    phone.reconnect()
    assert sh(phone, "getprop ro.build.fingerprint").stdout.startswith("google/blueline/")


def test_hung_command_times_out_and_phone_stays_usable(fake_phone):
    phone = fake_phone("galaxy", hang_on=["dumpsys thermalservice"])
    t0 = time.monotonic()
    with pytest.raises(adbutils.AdbTimeout):
        sh(phone, "dumpsys thermalservice", timeout=1.0)
    assert time.monotonic() - t0 < 5
    assert sh(phone, "getprop ro.product.model").stdout == "SM-S936B\n"
    assert "Thermal Status: 0" in sh(phone, "dumpsys thermalservice").stdout  # used once only


def test_hang_forever_set_at_run_time(fake_phone):
    phone = fake_phone("pixel", in_process=True)
    phone.control.set_fault("hang_on", {"pattern": "^uptime$", "times": -1})
    for _ in range(2):
        with pytest.raises(adbutils.AdbTimeout):
            sh(phone, "uptime", timeout=0.5)
    phone.control.set_fault("hang_on", [])
    assert " up " in sh(phone, "uptime").stdout


def test_offline_and_back(fake_phone, adb_server):
    phone = fake_phone("pixel")
    phone.control.go_offline()
    deadline = time.monotonic() + 15
    while adb_server.devices().get(phone.serial) == "device" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert adb_server.devices().get(phone.serial) != "device"
    with pytest.raises((adbutils.AdbError, adbutils.AdbTimeout)):
        sh(phone, "echo hi", timeout=3)
    phone.control.come_online()
    phone.reconnect()
    assert sh(phone, "echo back").stdout == "back\n"


def test_offline_for_a_while_comes_back_by_itself(fake_phone, adb_server):
    phone = fake_phone("pixel", in_process=True)
    phone.control.go_offline(for_s=1.0)
    time.sleep(0.3)
    assert adb_server.devices().get(phone.serial) != "device"
    time.sleep(1.0)
    phone.reconnect()
    assert sh(phone, "echo back").stdout == "back\n"


def _thermal(phone) -> int:
    return int(re.search(r"^Thermal Status: (\d+)$", sh(phone, "dumpsys thermalservice").stdout, re.M).group(1))


def test_thermal_status_rises_over_time(fake_phone):
    phone = fake_phone("pixel", in_process=True)
    assert _thermal(phone) == 0
    phone.control.set_fault("thermal_rise_every_s", 0.4)
    seen = []
    for _ in range(6):
        seen.append(_thermal(phone))
        time.sleep(0.3)
    assert seen == sorted(seen) and seen[-1] >= 3 and seen[-1] <= 4
    out = sh(phone, "dumpsys thermalservice").stdout
    assert "\tTemperature{" in out  # TABs of the real layout restored for the Pixel capture
    temp = int(sh(phone, "cat /sys/class/thermal/thermal_zone0/temp").stdout)
    assert temp > 32300
    phone.control.set_fault("thermal_status", 0)
    assert _thermal(phone) == 0


def test_thermal_status_given_at_start(fake_phone):
    phone = fake_phone("galaxy", thermal_status=3)
    assert _thermal(phone) == 3


def _battery_temp(phone) -> float:
    return int(re.search(r"temperature: (\d+)", sh(phone, "dumpsys battery").stdout).group(1)) / 10


def test_battery_temperature_never_falls(fake_phone):
    phone = fake_phone("galaxy", battery_temp_c=41.0, battery_rise_c_per_s=0.5)
    temps = []
    for i in range(5):
        if i == 2:
            sh(phone, "dumpsys battery reset")
            sh(phone, "dumpsys battery set temp 250")  # a conditioning attempt must not cool it
        temps.append(_battery_temp(phone))
        time.sleep(0.25)
    assert temps[0] >= 41.0
    assert all(b >= a for a, b in zip(temps, temps[1:])) and temps[-1] > temps[0]
    sysfs = int(sh(phone, "cat /sys/class/power_supply/battery/temp").stdout) / 10
    assert sysfs >= temps[-1]


@pytest.mark.browser
def test_renderer_dies_after_start(fake_phone):
    phone = fake_phone("pixel", renderer_dies_after_s=1.0)
    r = sh(phone, "am start -W -a android.intent.action.VIEW -d about:blank -n "
                  "com.android.chrome/com.google.android.apps.chrome.Main", timeout=60)
    assert r.returncode == 0, r.stderr
    renderers = [p["pid"] for p in phone.control.browsers()["com.android.chrome"]["processes"]
                 if p["kind"] == "renderer"]
    assert renderers
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        ps = sh(phone, "ps -A -o PID,NAME").stdout
        if not any(re.search(rf"^\s*{pid}\s", ps, re.M) for pid in renderers):
            break
        time.sleep(0.2)
    else:
        pytest.fail("renderers still alive")
    assert sh(phone, "pidof com.android.chrome").returncode == 0  # the browser process survives
    log = sh(phone, "logcat -d").stdout
    assert f"(pid {renderers[0]}) has died" in log
    lmk = sh(phone, "logcat -d -b main -s lowmemorykiller").stdout.splitlines()
    assert lmk and all(" I lowmemorykiller: Kill '" in line for line in lmk)
    sh(phone, "am force-stop com.android.chrome")


@pytest.mark.browser
def test_kill_renderer_at_run_time(fake_phone):
    phone = fake_phone("galaxy", in_process=True)
    sh(phone, "am start -W -a android.intent.action.VIEW -d about:blank -p com.android.chrome", timeout=60)
    killed = phone.control.kill_renderer("com.android.chrome")
    assert killed
    time.sleep(0.3)
    out = sh(phone, "dumpsys meminfo --package com.android.chrome").stdout
    assert all(f"pid {pid} " not in out for pid in killed)
    sh(phone, "am force-stop com.android.chrome")


def test_unknown_fault_name_is_rejected(fake_phone):
    phone = fake_phone("pixel", in_process=True)
    with pytest.raises(ValueError, match="unknown fault"):
        phone.control.set_fault("explode", True)


def test_unauthorized_phone_then_allowed(fake_phone, adb_server):
    phone = fake_phone("galaxy", unauthorized=True)  # not connected yet: no "device" to wait for
    adb_server.adb("connect", phone.serial, check=False)
    adb_server.wait_state(phone.serial, "unauthorized")
    with pytest.raises(adbutils.AdbError, match="unauthorized"):
        sh(phone, "echo hi")
    r = phone.adb("shell", "echo", "hi")
    assert r.returncode != 0 and "unauthorized" in r.stderr
    phone.control.set_fault("unauthorized", False)
    adb_server.wait_state(phone.serial, "device")
    assert sh(phone, "echo hi").stdout == "hi\n"


def test_drop_during_push(fake_phone, tmp_path):
    phone = fake_phone("pixel", in_process=True)
    phone.control.set_fault("drop_on", r"^sync:SEND /data/local/tmp/model\.tflite")
    src = tmp_path / "model.tflite"
    src.write_bytes(b"\0" * 100_000)
    with pytest.raises((adbutils.AdbError, ConnectionError, OSError, EOFError)):
        phone.device().sync.push(str(src), "/data/local/tmp/model.tflite")
    phone.reconnect()
    assert phone.device().sync.stat("/data/local/tmp/model.tflite").size == 0  # nothing was written
    phone.device().sync.push(str(src), "/data/local/tmp/model.tflite")
    assert phone.device().sync.stat("/data/local/tmp/model.tflite").size == 100_000
    assert any(op.startswith("sync:SEND /data/local/tmp/model.tflite") for op in phone.control.sync_ops())
