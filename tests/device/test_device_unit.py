"""The Device facade, conditioning and browser control over an in-process stub session."""

from __future__ import annotations

from pathlib import Path

import pytest

from mobile_webinfer.adb import conditioning as cond
from mobile_webinfer.adb.device import Device, fingerprint_from_props
from mobile_webinfer.browsers import android as br
from mobile_webinfer.browsers.specs import get_spec
from mobile_webinfer.errors import BrowserError, DeviceError, TransientDeviceError, UsageError
from mobile_webinfer.parsers.capture import strip_capture_header

from .stubs import StubSession

FIX = Path(__file__).resolve().parents[1] / "fixtures"


def fixture_text(rel: str) -> str:
    return strip_capture_header((FIX / rel).read_text(encoding="utf-8"))


@pytest.fixture
def stub() -> StubSession:
    return StubSession()


@pytest.fixture
def dev(stub) -> Device:
    return Device(stub.serial, client=stub)  # type: ignore[arg-type]


def test_constructor_stores_only():
    d = Device("ABC")
    assert d.serial == "ABC" and d._client is None


def test_shell_check_raises_with_context(stub, dev):
    stub.answers[("ls", "/nope")] = ("", "ls: /nope: No such file or directory\n", 1)
    with pytest.raises(DeviceError) as ei:
        dev.shell(["ls", "/nope"])
    e = ei.value
    assert (e.serial, e.status, e.command) == (stub.serial, 1, "ls /nope")
    assert "No such file" in e.output
    assert dev.shell(["ls", "/nope"], check=False).exit_code == 1


def test_idempotent_read_retried_exactly_once(stub, dev):
    attempts = []

    def flaky(argv):
        attempts.append(1)
        if len(attempts) == 1:
            raise TransientDeviceError("dropped", serial=stub.serial)
        return ("ok\n", "", 0)

    stub.answers[("getprop", "ro.x")] = flaky
    assert dev.shell(["getprop", "ro.x"], idempotent=True).stdout == "ok\n"
    assert len(attempts) == 2


def test_transient_twice_gives_up_after_one_retry(stub, dev):
    calls = []

    def always(argv):
        calls.append(1)
        raise TransientDeviceError("dropped", serial=stub.serial)

    stub.answers[("dumpsys", "battery")] = always
    with pytest.raises(TransientDeviceError):
        dev.shell(["dumpsys", "battery"], idempotent=True)
    assert len(calls) == 2


def test_non_idempotent_not_retried(stub, dev):
    calls = []

    def once(argv):
        calls.append(1)
        raise TransientDeviceError("dropped", serial=stub.serial)

    stub.answers[("am", "force-stop", "com.android.chrome")] = once
    with pytest.raises(TransientDeviceError):
        dev.shell(["am", "force-stop", "com.android.chrome"])
    assert len(calls) == 1


def test_getprop_key_validated(dev):
    with pytest.raises(UsageError):
        dev.getprop("ro.x; reboot")


def test_getprop_all_uses_parser(stub, dev):
    stub.answers[("getprop",)] = (fixture_text(
        "device_info/samsung_galaxy_s25plus_SM-S936B_android16_getprop_full_CRLF.txt"), "", 0)
    fp = dev.fingerprint()
    assert fp["model"] == "SM-S936B" and fp["soc"] == "QTI SM8750" and fp["sdk"] == 36
    assert fp["abi"] == "arm64-v8a" and fp["android_release"] == "16"


def test_fingerprint_android11_soc_falls_back_to_platform():
    from mobile_webinfer.parsers.getprop import parse_getprop
    props = parse_getprop(fixture_text("device_info/oneplus_nord_n10_BE2028_android11_getprop_full.txt"))
    fp = fingerprint_from_props(props)
    assert (fp["model"], fp["soc"], fp["manufacturer"], fp["sdk"]) == ("BE2028", "lito", "OnePlus", 30)


def test_reverse_removes_new_mapping(stub, dev):
    with dev.reverse(8123, 9000):
        assert stub.reverses == {"tcp:8123": "tcp:9000"}
    assert stub.reverses == {}


def test_reverse_restores_previous_mapping_even_on_error(stub, dev):
    stub.reverses["tcp:8123"] = "tcp:7000"
    stub.reverses["tcp:1"] = "tcp:2"
    with pytest.raises(RuntimeError):
        with dev.reverse(8123, 9000):
            assert stub.reverses["tcp:8123"] == "tcp:9000"
            raise RuntimeError("boom")
    assert stub.reverses == {"tcp:8123": "tcp:7000", "tcp:1": "tcp:2"}


def test_forward_yields_port_and_removes(stub, dev):
    with dev.forward(None, "localabstract:chrome_devtools_remote") as port:
        assert port == 41000 and stub.forwards == {"tcp:41000": "localabstract:chrome_devtools_remote"}
    assert stub.forwards == {}


def test_forward_rejects_bad_ports(dev):
    with pytest.raises(UsageError):
        with dev.forward(70000, "tcp:1"):
            pass
    with pytest.raises(UsageError):
        with dev.reverse(0, 1):
            pass


# ---- conditioning ---------------------------------------------------------------------

def test_conditioning_restores_everything(stub, dev):
    stub.settings[("system", "screen_brightness")] = "77"
    stub.settings[("system", "screen_brightness_mode")] = "1"
    stub.settings[("global", "stay_on_while_plugged_in")] = "0"
    stub.answers[("input", "keyevent", "KEYCODE_WAKEUP")] = ("", "", 0)
    before = dict(stub.settings)
    with cond.conditioned(dev, brightness=200, animations_off=True, reverse_ports=((8123, 8124),)):
        assert stub.settings[("system", "screen_brightness")] == "200"
        assert stub.settings[("system", "screen_brightness_mode")] == "0"
        assert stub.settings[("global", "stay_on_while_plugged_in")] == "7"
        assert stub.settings[("global", "window_animation_scale")] == "0"
        assert stub.reverses == {"tcp:8123": "tcp:8124"}
    assert stub.settings == before          # unset animation scales deleted again
    assert stub.reverses == {}
    assert ["svc", "power", "stayon", "usb"] in stub.calls


def test_conditioning_restores_on_keyboard_interrupt(stub, dev):
    stub.settings[("system", "screen_brightness")] = "10"
    with pytest.raises(KeyboardInterrupt):
        with cond.fixed_brightness(dev, 255):
            raise KeyboardInterrupt
    assert stub.settings == {("system", "screen_brightness"): "10"}   # mode was unset: deleted again


def test_conditioning_bad_values(dev):
    with pytest.raises(UsageError):
        with cond.fixed_brightness(dev, 300):
            pass
    with pytest.raises(UsageError):
        with cond.stay_on_while_plugged(dev, 9):
            pass


# ---- browser control ------------------------------------------------------------------

def test_open_url_checks_am_output(stub, dev):
    chrome = get_spec("chrome")
    url = "http://127.0.0.1:8123/harness.html?a=1&b=2"
    stub.answers[("cmd", "package", "resolve-activity", "--brief", "-a", "android.intent.action.VIEW", "-d", url,
                  "com.android.chrome")] = ("priority=0 preferredOrder=0 match=0x208000 specificIndex=-1 "
                                            "isDefault=true\ncom.android.chrome/com.google.android.apps.chrome."
                                            "IntentDispatcher\n", "", 0)
    ok_start = ["am", "start", "-a", "android.intent.action.VIEW", "-d", url, "-n",
                "com.android.chrome/com.google.android.apps.chrome.IntentDispatcher"]
    stub.answers[tuple(ok_start)] = ("Starting: Intent { act=android.intent.action.VIEW dat=http://127.0.0.1:8123/... "
                                     "cmp=com.android.chrome/com.google.android.apps.chrome.IntentDispatcher }\n",
                                     "", 0)
    assert br.open_url(dev, chrome, url) == "com.android.chrome/com.google.android.apps.chrome.IntentDispatcher"
    assert stub.calls[-1] == ok_start


def test_open_url_error_with_exit_zero_is_a_failure(stub, dev):
    """`am start` prints `Error type 3` and still exits 0 on many versions (captured transcript)."""
    chrome = get_spec("chrome")
    url = "http://127.0.0.1:8123/x.html"
    transcript = fixture_text("device_info/am_start_ok_and_error_type3_interactive_transcript.txt")
    error_part = transcript.split("SplashActivity1\n", 1)[1]
    stub.answers[("am", "start", "-a", "android.intent.action.VIEW", "-d", url, "-n",
                  "com.android.chrome/com.google.android.apps.chrome.Main")] = (error_part, "", 0)
    with pytest.raises(BrowserError, match="Error"):
        br.open_url(dev, chrome, url, activity="com.google.android.apps.chrome.Main")


def test_open_url_rejects_bad_url_before_any_command(stub, dev):
    with pytest.raises(UsageError):
        br.open_url(dev, get_spec("chrome"), "http://x/';reboot;'")
    assert stub.calls == []


def test_resolve_activity_falls_back_to_spec(stub, dev):
    url = "http://127.0.0.1:1/"
    stub.answers[("cmd", "package", "resolve-activity", "--brief", "-a", "android.intent.action.VIEW", "-d", url,
                  "com.sec.android.app.sbrowser")] = ("No activity found\n", "", 0)
    assert br.resolve_activity(dev, get_spec("samsung"), url) == "com.sec.android.app.sbrowser/.SBrowserMainActivity"
    stub.answers[("cmd", "package", "resolve-activity", "--brief", "-a", "android.intent.action.VIEW", "-d", url,
                  "org.mozilla.firefox")] = ("No activity found\n", "", 0)
    with pytest.raises(BrowserError):
        br.resolve_activity(dev, get_spec("firefox"), url)


def test_installed_browsers_and_versions(stub, dev):
    stub.answers[("pm", "list", "packages")] = (
        "package:com.android.settings\npackage:com.android.chrome\npackage:com.sec.android.app.sbrowser\n", "", 0)
    stub.answers[("dumpsys", "package", "com.android.chrome")] = (
        "Packages:\n  Package [com.android.chrome] (3b1c2f):\n    versionCode=677812033 minSdk=29 targetSdk=35\n"
        "    versionName=131.0.6778.200\n    splits=[base]\n", "", 0)
    stub.answers[("dumpsys", "package", "com.sec.android.app.sbrowser")] = ("Packages:\n", "", 0)
    got = [b.to_json() for b in br.installed_browsers(dev)]
    assert got == [{"package": "com.android.chrome", "name": "Chrome", "version": "131.0.6778.200"},
                   {"package": "com.sec.android.app.sbrowser", "name": "Samsung Internet", "version": None}]


def test_force_stop_and_clear(stub, dev):
    stub.answers[("am", "force-stop", "com.android.chrome")] = ("", "", 0)
    br.force_stop(dev, get_spec("chrome"))
    stub.answers[("pm", "clear", "com.android.chrome")] = ("Failed\n", "", 0)
    with pytest.raises(DeviceError):
        br.clear_data(dev, get_spec("chrome"))


def test_pids_of_every_browser_process(stub, dev):
    stub.answers[("ps", "-A", "-o", "PID,NAME")] = (
        "  PID NAME\n  812 com.android.chrome\n  900 com.android.chrome:privileged_process0\n"
        "  933 com.android.chrome:sandboxed_process0:org.chromium.content.app.SandboxedProcessService0:0\n"
        "  950 com.android.chromex\n  1 init\n", "", 0)
    assert br.pids(dev, get_spec("chrome")) == {
        "com.android.chrome": 812, "com.android.chrome:privileged_process0": 900,
        "com.android.chrome:sandboxed_process0:org.chromium.content.app.SandboxedProcessService0:0": 933}


def test_failing_undo_never_hides_the_blocks_error(stub, dev):
    from mobile_webinfer.adb.device import undo_on_exit

    def bad_undo():
        raise DeviceError("undo failed", serial="S")

    with pytest.raises(ValueError, match="the real problem"):
        with undo_on_exit(bad_undo, "x", "S"):
            raise ValueError("the real problem")
    with pytest.raises(DeviceError, match="undo failed"):
        with undo_on_exit(bad_undo, "x", "S"):
            pass


def test_restore_survives_one_dropped_connection(stub, dev):
    stub.settings[("system", "screen_brightness")] = "42"
    real_shell = stub.shell
    drops = []

    def flaky_shell(serial, argv, *, timeout=30.0):
        if argv[:2] == ["settings", "put"] and argv[-1] == "42" and not drops:
            drops.append(argv)
            raise TransientDeviceError("dropped", serial=serial)
        return real_shell(serial, argv, timeout=timeout)

    stub.shell = flaky_shell  # type: ignore[method-assign]
    with cond.setting(dev, "system", "screen_brightness", "200"):
        assert stub.settings[("system", "screen_brightness")] == "200"
    assert drops and stub.settings[("system", "screen_brightness")] == "42"


def test_setting_restored_even_when_the_put_itself_failed(stub, dev):
    stub.settings[("global", "window_animation_scale")] = "1.0"
    real_shell = stub.shell

    def put_applies_then_fails(serial, argv, *, timeout=30.0):
        res = real_shell(serial, argv, timeout=timeout)
        if argv[:2] == ["settings", "put"] and argv[-1] == "0":
            raise DeviceError("exit 1 after applying", serial=serial)
        return res

    stub.shell = put_applies_then_fails  # type: ignore[method-assign]
    with pytest.raises(DeviceError):
        with cond.setting(dev, "global", "window_animation_scale", "0"):
            pass
    assert stub.settings[("global", "window_animation_scale")] == "1.0"
