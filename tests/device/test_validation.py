"""Validation helpers, quoting and the adb server address (pure, no adb)."""

from __future__ import annotations

import shlex
import socket

import pytest
from adbutils.errors import AdbConnectionError, AdbError, AdbTimeout
from hypothesis import given, settings
from hypothesis import strategies as st

from mobile_webinfer.adb import shell as sh
from mobile_webinfer.errors import (
    AdbServerError,
    CommandTimeout,
    DeviceError,
    DeviceNotFound,
    DeviceOffline,
    DeviceUnauthorized,
    TransientDeviceError,
    UsageError,
)


@pytest.mark.parametrize("name", ["com.android.chrome", "com.sec.android.app.sbrowser", "org.mozilla.firefox_beta",
                                  "com.UCMobile.intl"])
def test_valid_packages(name):
    assert sh.validate_package(name) == name


@pytest.mark.parametrize("name", ["", "chrome", "com.x;reboot", "com.x y", "com..x", ".com.x", "com.x$(id)",
                                  "com.x\nreboot", "1com.x", "com.x'", None, 42])
def test_invalid_packages(name):
    with pytest.raises(UsageError) as ei:
        sh.validate_package(name)
    assert "\n" not in ei.value.one_line()


@pytest.mark.parametrize("url", ["http://127.0.0.1:8123/harness.html?model=mobilenet&runtime=tfjs",
                                 "https://localhost/x#frag", "http://[::1]:80/"])
def test_valid_urls(url):
    assert sh.validate_url(url) == url


@pytest.mark.parametrize("url", ["javascript:alert(1)", "file:///sdcard/x.html", "http://a/'x'", 'http://a/"',
                                 "http://a/b c", "http://a/\nx", "http://a/;reboot", "http://a/$(id)",
                                 "http://a/`id`", "ftp://a/", "http:///nohost", "", "http://a/\x01"])
def test_invalid_urls(url):
    with pytest.raises(UsageError):
        sh.validate_url(url)


@pytest.mark.parametrize("s", ["R58M12345", "127.0.0.1:40123", "emulator-5554", "0123456789ABCDEF",
                               "adb-R58M-abc._adb-tls-connect._tcp"])
def test_valid_serials(s):
    assert sh.validate_serial(s) == s


@pytest.mark.parametrize("s", ["", "a b", "x;y", "x$(id)", "x'y", "x\ny", "a" * 200])
def test_invalid_serials(s):
    with pytest.raises(UsageError):
        sh.validate_serial(s)


@pytest.mark.parametrize("p", ["/data/local/tmp/model.tflite", "/sdcard/Download/a-b_c.txt"])
def test_valid_device_paths(p):
    assert sh.validate_device_path(p) == p


@pytest.mark.parametrize("p", ["data/local/tmp", "/data/../etc", "/data/$(id)", "/data/a b", "/x;y", "/x'y", ""])
def test_invalid_device_paths(p):
    with pytest.raises(UsageError):
        sh.validate_device_path(p)


def test_quote_argv_quotes_metacharacters():
    argv = ["echo", "a;b", "$(reboot)", "it's", "x|y", "*", "&&", ""]
    cmd = sh.quote_argv(argv)
    assert shlex.split(cmd) == argv
    assert "'$(reboot)'" in cmd and "''" in cmd


@pytest.mark.parametrize("argv", [[], "getprop", ["echo", "a\nb"], ["echo", "a\x00"], ["echo", None]])
def test_quote_argv_rejects(argv):
    with pytest.raises(UsageError):
        sh.quote_argv(argv)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(blacklist_characters="\x00\n\r", blacklist_categories=("Cs",)),
                        max_size=20), min_size=1, max_size=6))
def test_quote_argv_round_trips(argv):
    assert shlex.split(sh.quote_argv(argv)) == argv


# ---- server address -----------------------------------------------------------------

def test_server_address_default():
    assert sh.server_address({}) == sh.ServerAddress("127.0.0.1", 5037)


def test_server_address_port_env():
    assert sh.server_address({"ANDROID_ADB_SERVER_PORT": "5123"}).port == 5123


def test_server_address_socket_wins():
    env = {"ADB_SERVER_SOCKET": "tcp:10.0.0.2:5038", "ANDROID_ADB_SERVER_PORT": "5123"}
    assert sh.server_address(env) == sh.ServerAddress("10.0.0.2", 5038)
    assert sh.server_address({"ADB_SERVER_SOCKET": "tcp:5040"}) == sh.ServerAddress("127.0.0.1", 5040)


@pytest.mark.parametrize("env", [{"ADB_SERVER_SOCKET": "localfilesystem:/x"}, {"ADB_SERVER_SOCKET": "tcp:host:"},
                                 {"ANDROID_ADB_SERVER_PORT": "abc"}, {"ANDROID_ADB_SERVER_PORT": "70000"}])
def test_server_address_bad(env):
    with pytest.raises(UsageError):
        sh.server_address(env)


def test_adb_binary_env_must_exist(tmp_path):
    with pytest.raises(AdbServerError):
        sh.adb_binary({"ADBUTILS_ADB_PATH": str(tmp_path / "nope")})


def test_adb_binary_prefers_env(tmp_path):
    exe = tmp_path / "adb"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    assert sh.adb_binary({"ADBUTILS_ADB_PATH": str(exe)}) == str(exe)


def test_session_constructor_talks_to_nothing():
    s = sh.AdbSession("127.0.0.1", 1)  # nothing listens on port 1; constructing must not fail
    assert (s.host, s.port) == ("127.0.0.1", 1)


def test_remote_server_is_not_started():
    s = sh.AdbSession("192.0.2.1", 5037)   # TEST-NET: never answers
    s.server_running = lambda: False       # type: ignore[method-assign]
    with pytest.raises(AdbServerError, match="remote"):
        s.ensure_server()


# ---- error translation ----------------------------------------------------------------

@pytest.mark.parametrize("exc, kind", [
    (AdbError("device 'XYZ' not found"), DeviceNotFound),
    (AdbError("device unauthorized.\nThis adb server's $ADB_VENDOR_KEYS is not set"), DeviceUnauthorized),
    (AdbError("device offline"), DeviceOffline),
    (AdbTimeout("adb read timeout"), CommandTimeout),
    (socket.timeout("timed out"), CommandTimeout),
    (AdbConnectionError("connect to adb server failed"), AdbServerError),
    (EOFError("Expected 5 bytes, got 0"), TransientDeviceError),
    (ConnectionResetError(104, "reset"), TransientDeviceError),
    (AdbError("connection closed"), TransientDeviceError),
    (AdbError("something else"), DeviceError),
])
def test_translate(exc, kind):
    out = sh._translate(exc, "XYZ", "getprop")
    assert type(out) is kind
    assert "\n" not in out.one_line()


def test_translate_keeps_serial_and_command():
    out = sh._translate(EOFError("x"), "SER1", "dumpsys battery")
    assert isinstance(out, TransientDeviceError)
    assert out.serial == "SER1" and out.command == "dumpsys battery"
    assert sh.is_transient(out) and not sh.is_transient(DeviceError("x"))
