"""The device layer against fake phones, through the real adb server and adbutils.

Fixtures `adb_server` / `fake_phone` come from tests/fakephone/pytest_fixtures.py (a private
adb server on a free port; ANDROID_ADB_SERVER_PORT set while it lives).
"""

from __future__ import annotations

import http.server
import json
import os
import shlex
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mobile_webinfer.adb import Device, list_devices
from mobile_webinfer.adb import conditioning as cond
from mobile_webinfer.adb.shell import AdbSession, quote_argv
from mobile_webinfer.browsers import android as br
from mobile_webinfer.browsers.devtools import devtools
from mobile_webinfer.browsers.specs import get_spec
from mobile_webinfer.errors import (CommandTimeout, DeviceError, DeviceNotFound, DeviceOffline,
                                    DeviceUnauthorized, TransientDeviceError, UsageError)
from mobile_webinfer.paths import REPO_ROOT
from mobile_webinfer.retry import deadline

from .unauthorized import UnauthorizedPhone

pytestmark = pytest.mark.skipif(not Path("/usr/bin/adb").exists(), reason="needs Debian's adb")


def mwi(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mobile_webinfer", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO_ROOT, env=env or dict(os.environ))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- identity ---------------------------------------------------------------------------

def test_adb_devices_and_mwi_devices_json(adb_server, fake_phone):
    phone = fake_phone("galaxy")
    listing = adb_server.adb("devices", "-l").stdout
    assert any(line.startswith(phone.serial) and " device " in line for line in listing.splitlines())
    res = mwi("devices", "--json", env=adb_server.env)
    assert res.returncode == 0, res.stderr
    rec = next(r for r in json.loads(res.stdout) if r["serial"] == phone.serial)
    assert list(rec) == ["serial", "state", "model", "manufacturer", "android_release", "sdk", "soc", "abi",
                         "fingerprint", "battery_level", "battery_temperature_c", "thermal_status", "browsers",
                         "profile"]
    assert rec["state"] == "device"
    assert (rec["model"], rec["manufacturer"], rec["android_release"], rec["sdk"]) == ("SM-S936B", "samsung", "16", 36)
    assert (rec["soc"], rec["abi"]) == ("QTI SM8750", "arm64-v8a")
    assert rec["fingerprint"] == "samsung/pa2qxeea/pa2q:16/BP4A.251205.006/S936BXXUACZF1_OXMACZF1:user/release-keys"
    assert isinstance(rec["battery_level"], int) and isinstance(rec["battery_temperature_c"], float)
    assert rec["thermal_status"] == "NONE"
    pkgs = {b["package"]: b for b in rec["browsers"]}
    assert pkgs["com.android.chrome"]["version"] == "131.0.6778.200"
    assert pkgs["com.sec.android.app.sbrowser"]["name"] == "Samsung Internet"
    assert rec["profile"] == "samsung-galaxy-s25plus"
    table = mwi("devices", env=adb_server.env)
    assert table.returncode == 0 and phone.serial in table.stdout


def test_adb_server_socket_env_is_honoured(adb_server, fake_phone):
    phone = fake_phone("pixel")
    env = dict(adb_server.env, ADB_SERVER_SOCKET=f"tcp:127.0.0.1:{adb_server.port}",
               ANDROID_ADB_SERVER_PORT="1")   # ADB_SERVER_SOCKET wins, as with adb
    res = mwi("devices", "--json", env=env)
    assert res.returncode == 0, res.stderr
    assert phone.serial in [r["serial"] for r in json.loads(res.stdout)]


def test_two_fake_phones_addressed_by_serial(adb_server, fake_phone):
    a, b = fake_phone("pixel"), fake_phone("galaxy")
    assert a.serial != b.serial
    states = {i.serial: i.state for i in list_devices()}
    assert states[a.serial] == states[b.serial] == "device"
    da, db = Device(a.serial), Device(b.serial)
    assert (da.getprop("ro.product.model"), db.getprop("ro.product.model")) == ("Pixel 3", "SM-S936B")
    a.control.clear_log()
    b.control.clear_log()
    da.shell(["echo", "only-a"])
    assert "echo only-a" in a.commands and "echo only-a" not in b.commands
    from mobile_webinfer.targets.devices import describe_all
    profiles = {d.record["serial"]: d.record["profile"] for d in describe_all()}
    assert profiles[a.serial] == "google-pixel3" and profiles[b.serial] == "samsung-galaxy-s25plus"


def test_exit_codes_are_real(fake_phone):
    dev = Device(fake_phone("pixel").serial)
    res = dev.shell(["ls", "/nonexistent"], check=False)
    assert res.exit_code == 1 and "No such file" in res.stderr
    with pytest.raises(DeviceError) as ei:
        dev.shell(["no-such-command"])
    assert ei.value.status == 127 and ei.value.serial == dev.serial and ei.value.command == "no-such-command"


# ---- quoting ----------------------------------------------------------------------------

def test_metacharacters_reach_the_device_literally(fake_phone):
    phone = fake_phone("pixel")
    dev = Device(phone.serial)
    nasty = "a;b && reboot | $(id) `id` 'q' \"d\" * ~ > /sdcard/x"
    phone.control.clear_log()
    res = dev.shell(["echo", nasty])
    assert res.stdout == nasty + "\n"
    line = phone.commands[-1]
    assert line == quote_argv(["echo", nasty]) and shlex.split(line) == ["echo", nasty]


def test_bad_names_rejected_before_the_device_sees_anything(fake_phone):
    phone = fake_phone("pixel")
    dev = Device(phone.serial)
    phone.control.clear_log()
    bad = get_spec("chrome").with_overrides({"name": "Chrome"})
    import dataclasses
    bad = dataclasses.replace(bad, package="com.android.chrome;reboot")
    with pytest.raises(UsageError):
        br.force_stop(dev, bad)
    with pytest.raises(UsageError):
        br.open_url(dev, get_spec("chrome"), "http://127.0.0.1:1/x';reboot;'")
    with pytest.raises(UsageError):
        dev.push(REPO_ROOT / "pyproject.toml", "/data/local/tmp/$(reboot)")
    with pytest.raises(UsageError):
        dev.getprop("ro.x;reboot")
    assert phone.commands == []


# ---- files and ports --------------------------------------------------------------------

def test_push_pull_round_trip(fake_phone, tmp_path):
    dev = Device(fake_phone("pixel").serial)
    src = tmp_path / "blob.bin"
    src.write_bytes(os.urandom(300_000))
    dev.push(src, "/data/local/tmp/mwi_blob.bin")
    dst = tmp_path / "back.bin"
    dev.pull("/data/local/tmp/mwi_blob.bin", dst)
    assert dst.read_bytes() == src.read_bytes()
    assert not (tmp_path / "back.bin.part").exists()
    with pytest.raises(DeviceError):
        dev.pull("/data/local/tmp/does_not_exist", tmp_path / "nope")
    assert not (tmp_path / "nope").exists()


def test_reverse_and_forward_restore_previous_mappings(fake_phone):
    dev = Device(fake_phone("pixel").serial)
    p1, p2, p3 = free_port(), free_port(), free_port()
    session = dev.session
    session.reverse(dev.serial, f"tcp:{p1}", f"tcp:{p2}")     # somebody else's mapping
    try:
        before = dev.list_reverse()
        with dev.reverse(p1, p3):
            assert {(e.remote, e.local) for e in dev.list_reverse()} >= {(f"tcp:{p1}", f"tcp:{p3}")}
        assert dev.list_reverse() == before
    finally:
        session.reverse_remove(dev.serial, f"tcp:{p1}")
    assert dev.list_reverse() == []
    with dev.forward(None, "tcp:9") as host_port:
        assert any(e.local == f"tcp:{host_port}" for e in dev.list_forward())
    assert dev.list_forward() == []


# ---- faults -----------------------------------------------------------------------------

def test_dropped_connection_is_transient_and_retried_once(fake_phone):
    phone = fake_phone("pixel")
    dev = Device(phone.serial)
    phone.control.clear_log()
    phone.control.set_fault("drop_on", {"pattern": "dumpsys battery", "times": 1})
    assert dev.battery().level == 87
    assert phone.commands.count("dumpsys battery") == 2             # the drop and exactly one retry

    phone.control.clear_log()
    phone.control.set_fault("drop_on", {"pattern": "dumpsys battery", "times": 2})
    with pytest.raises((TransientDeviceError, DeviceOffline)) as ei:
        dev.battery()
    assert ei.value.serial == phone.serial and "dumpsys battery" in ei.value.one_line()
    assert phone.commands.count("dumpsys battery") == 2             # no third try

    adb_wait = time.monotonic() + 15
    while Device(phone.serial).session.state(phone.serial) != "device" and time.monotonic() < adb_wait:
        time.sleep(0.1)
    phone.control.clear_log()
    phone.control.set_fault("drop_on", {"pattern": "am force-stop", "times": 1})
    with pytest.raises(TransientDeviceError):
        dev.shell(["am", "force-stop", "com.android.chrome"])    # not idempotent: not retried
    assert phone.commands.count("am force-stop com.android.chrome") == 1


def test_hung_command_times_out_within_its_deadline(fake_phone):
    phone = fake_phone("pixel")
    dev = Device(phone.serial)
    phone.control.set_fault("hang_on", {"pattern": "dumpsys thermalservice", "times": 2})
    t0 = time.monotonic()
    with pytest.raises(CommandTimeout) as ei:
        with deadline(1.5):
            dev.thermal_status()
    took = time.monotonic() - t0
    assert 1.4 <= took < 4.0, took                                  # slack for a loaded 2-core host
    assert phone.serial in ei.value.one_line()
    t0 = time.monotonic()
    with pytest.raises(CommandTimeout):
        dev.shell(["dumpsys", "thermalservice"], timeout=1.0)
    assert 0.9 <= time.monotonic() - t0 < 3.5
    assert dev.thermal_status().status == 0                          # the phone is fine afterwards


def test_offline_phone_is_listed_and_refused(adb_server, fake_phone):
    phone = fake_phone("pixel")
    phone.control.go_offline()
    try:
        t_end = time.monotonic() + 20
        while adb_server.devices().get(phone.serial) == "device" and time.monotonic() < t_end:
            time.sleep(0.1)
        state = adb_server.devices().get(phone.serial)
        assert state in ("offline", None)
        res = mwi("devices", "--json", env=adb_server.env)
        recs = {r["serial"]: r for r in json.loads(res.stdout)}
        if state == "offline":
            assert recs[phone.serial]["state"] == "offline" and recs[phone.serial]["model"] is None
        with pytest.raises((DeviceOffline, DeviceNotFound, TransientDeviceError, CommandTimeout)):
            with deadline(5):
                Device(phone.serial).shell(["getprop"])
    finally:
        phone.control.come_online()


def test_unknown_serial_is_one_line(adb_server, fake_phone):
    fake_phone("pixel")
    with pytest.raises(DeviceNotFound) as ei:
        Device("127.0.0.1:1").shell(["getprop"])
    assert "\n" not in ei.value.one_line()
    res = mwi("devices", "capture", "127.0.0.1:1", env=adb_server.env)
    assert res.returncode == 3
    err = res.stderr.strip()
    assert err.startswith("mwi: error:") and "127.0.0.1:1" in err and len(err.splitlines()) == 1
    res = mwi("devices", "capture", "bad;serial", env=adb_server.env)
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1


def test_unauthorized_phone_is_listed_and_one_line(adb_server):
    phone = UnauthorizedPhone()
    try:
        adb_server.adb("connect", phone.serial, check=False)
        adb_server.wait_state(phone.serial, "unauthorized", timeout=15)
        res = mwi("devices", "--json", env=adb_server.env)
        rec = next(r for r in json.loads(res.stdout) if r["serial"] == phone.serial)
        assert rec["state"] == "unauthorized" and rec["model"] is None and rec["browsers"] == []
        with pytest.raises(DeviceUnauthorized):
            Device(phone.serial).shell(["getprop"])
        res = mwi("devices", "capture", phone.serial, env=adb_server.env)
        assert res.returncode == 3 and "unauthorized" in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1
    finally:
        adb_server.adb("disconnect", phone.serial, check=False)
        phone.close()


def test_adb_server_started_when_absent(tmp_path):
    port = free_port()
    env = dict(os.environ, HOME=str(tmp_path))
    session = AdbSession("127.0.0.1", port, adb_path="/usr/bin/adb")
    assert not session.server_running()
    try:
        old_home = os.environ.get("HOME")
        os.environ["HOME"] = str(tmp_path)
        try:
            assert session.list_devices() == []
        finally:
            if old_home is not None:
                os.environ["HOME"] = old_home
        assert session.server_running()
    finally:
        subprocess.run(["/usr/bin/adb", "-P", str(port), "kill-server"], env=env, capture_output=True, timeout=30)


# ---- capture ----------------------------------------------------------------------------

def test_profile_claims_checked_on_the_fake(fake_phone):
    from mobile_webinfer.adb.discovery import verify_profile
    for name, expected in (("galaxy", "samsung-galaxy-s25plus"), ("pixel", "google-pixel3")):
        profile, check = verify_profile(Device(fake_phone(name).serial))
        assert profile.name == expected
        held = dict(check.held)
        assert held["thermal_sensors"] is True and held["battery_temperature_unit"] is True, check.notes
        assert check.ok, check.notes


def test_capture_against_the_fake(adb_server, fake_phone, tmp_path):
    phone = fake_phone("galaxy")
    out = tmp_path / "cap"
    res = mwi("devices", "capture", phone.serial, "--out", str(out), env=adb_server.env)
    assert res.returncode == 0, res.stderr
    from mobile_webinfer.parsers import capture as capmod
    from mobile_webinfer.parsers.battery import parse_battery
    from mobile_webinfer.parsers.getprop import parse_getprop
    from mobile_webinfer.parsers.thermal import parse_thermalservice
    files = {p.name: p.read_text(encoding="utf-8") for p in out.iterdir()}
    for name in ("getprop.txt", "dumpsys_battery.txt", "dumpsys_thermalservice.txt", "proc_stat.txt", "cpufreq.txt",
                 "wm_size.txt", "dumpsys_package_com.android.chrome.txt",
                 "dumpsys_meminfo_com.sec.android.app.sbrowser.txt", "dumpsys_gfxinfo_com.android.chrome.txt"):
        head = capmod.capture_header(files[name])
        assert head["command"].startswith("adb shell ") and "SM-S936B" in head["device"], name
    assert parse_getprop(capmod.strip_capture_header(files["getprop.txt"]))["ro.serialno"] == "[REDACTED]"
    assert parse_battery(capmod.strip_capture_header(files["dumpsys_battery.txt"])).level == 64
    assert parse_thermalservice(capmod.strip_capture_header(files["dumpsys_thermalservice.txt"])).status == 0
    assert "versionName=131.0.6778.200" in files["dumpsys_package_com.android.chrome.txt"]


# ---- the browser, end to end ------------------------------------------------------------

class _Host(http.server.ThreadingHTTPServer):
    daemon_threads = True


def _page_server() -> tuple[_Host, list[str]]:
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            hits.append(self.path)
            if self.path.startswith("/page.html"):
                body = (b"<!doctype html><title>mwi reverse test</title><script>"
                        b"fetch('/result?ok=1&ua=' + encodeURIComponent(navigator.userAgent.length))</script>")
            else:
                body = b"ok"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    srv = _Host(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, hits


@pytest.mark.browser
@pytest.mark.parametrize("browser", ["chrome", "samsung"])
def test_open_local_page_in_browser_through_adb_reverse(fake_phone, browser):
    phone = fake_phone("galaxy")
    dev = Device(phone.serial)
    chrome = get_spec(browser)
    srv, hits = _page_server()
    host_port, device_port = srv.server_address[1], free_port()
    settings_before = phone.control.settings()
    reverse_before = dev.list_reverse()
    try:
        with cond.conditioned(dev, brightness=100, animations_off=True, reverse_ports=((device_port, host_port),)):
            during = phone.control.settings()
            assert during["system"]["screen_brightness"] == "100"
            assert during["global"]["window_animation_scale"] == "0"
            br.open_url(dev, chrome, f"http://127.0.0.1:{device_port}/page.html?run=1&cell=a")
            t_end = time.monotonic() + 30
            while not any(h.startswith("/result?ok=1") for h in hits) and time.monotonic() < t_end:
                time.sleep(0.1)
            assert any(h.startswith("/result?ok=1") for h in hits), hits
            assert br.pids(dev, chrome)
            with devtools(dev, chrome) as dt:
                assert dt.find_page("page.html") is not None
                assert dt.evaluate("document.title", url_contains="page.html") == "mwi reverse test"
                assert dt.crashed("page.html") is False
            br.force_stop(dev, chrome)
            assert br.pids(dev, chrome) == {}
            assert chrome.package not in phone.control.browsers()
    finally:
        srv.shutdown()
        srv.server_close()
    assert phone.control.settings() == settings_before
    assert dev.list_reverse() == reverse_before
    assert dev.list_forward() == []


@pytest.mark.browser
def test_renderer_crash_seen_through_devtools(fake_phone):
    phone = fake_phone("pixel")
    dev = Device(phone.serial)
    chrome = get_spec("chrome")
    srv, hits = _page_server()
    try:
        device_port = free_port()   # the fake binds the phone's side on this host too
        with dev.reverse(device_port, srv.server_address[1]):
            br.open_url(dev, chrome, f"http://127.0.0.1:{device_port}/page.html")
            try:
                with devtools(dev, chrome) as dt:
                    t_end = time.monotonic() + 20
                    while dt.find_page("page.html") is None and time.monotonic() < t_end:
                        time.sleep(0.1)
                    assert dt.crashed("page.html") is False
                    assert phone.control.kill_renderer(chrome.package)
                    t_end = time.monotonic() + 15
                    while not dt.crashed("page.html") and time.monotonic() < t_end:
                        time.sleep(0.2)
                    assert dt.crashed("page.html") is True
            finally:
                br.force_stop(dev, chrome)
    finally:
        srv.shutdown()
        srv.server_close()


def test_adb_server_restart_is_survived(tmp_path, monkeypatch):
    """The server dies mid-run: the next call starts it again, wait_until_ready reconnects the phone."""
    from tests.fakephone.pytest_fixtures import AdbServer, start_fake_phone
    from tests.fakephone.pytest_fixtures import free_port as adb_free_port

    port = adb_free_port()
    home = tmp_path / "home"
    home.mkdir()
    env = dict(os.environ, HOME=str(home), TMPDIR=str(home), ANDROID_ADB_SERVER_PORT=str(port),
               ADBUTILS_ADB_PATH="/usr/bin/adb")
    server = AdbServer(port, str(home), env)
    server.adb("start-server")
    monkeypatch.setenv("HOME", str(home))       # the server mwi restarts lives in this HOME too
    monkeypatch.setenv("TMPDIR", str(home))
    handle = None
    try:
        handle = start_fake_phone(server, "pixel")
        session = AdbSession("127.0.0.1", port, adb_path="/usr/bin/adb")
        dev = Device(handle.serial, client=session)
        assert dev.getprop("ro.product.model") == "Pixel 3"
        server.adb("kill-server")
        t_end = time.monotonic() + 10
        while session.server_running() and time.monotonic() < t_end:
            time.sleep(0.1)
        with pytest.raises(DeviceNotFound):
            dev.shell(["getprop", "ro.product.model"])     # a fresh server knows no network phone
        assert session.server_running()
        dev.wait_until_ready(timeout=20)
        assert dev.state() == "device"
        assert dev.getprop("ro.product.model") == "Pixel 3"
    finally:
        if handle is not None:
            handle.stop()
        server.adb("kill-server", check=False)


def test_two_phones_in_parallel_threads_share_one_session(fake_phone):
    """One worker per phone, as a sweep runs them: answers never cross between serials."""
    from concurrent.futures import ThreadPoolExecutor

    a, b = fake_phone("pixel"), fake_phone("galaxy")
    session = AdbSession.from_env()
    expected = {a.serial: "Pixel 3", b.serial: "SM-S936B"}

    def worker(serial: str) -> list[str]:
        dev = Device(serial, client=session)
        return [dev.getprop("ro.product.model") for _ in range(15)]

    with ThreadPoolExecutor(2) as pool:
        results = dict(zip(expected, pool.map(worker, expected)))
    for serial, models in results.items():
        assert models == [expected[serial]] * 15


def test_unreachable_remote_adb_server_is_one_line():
    env = dict(os.environ, ADB_SERVER_SOCKET="tcp:192.0.2.1:5037")   # TEST-NET-1: nobody there
    res = mwi("devices", "--json", env=env)
    assert res.returncode == 3
    assert res.stderr.strip().startswith("mwi: error:") and len(res.stderr.strip().splitlines()) == 1
    assert "192.0.2.1" in res.stderr
