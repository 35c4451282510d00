"""Opt-in checks on a real phone: `MWI_DEVICE_SERIAL=R58M12345 pytest -m device tests/device`.

They read, and change only what they restore (brightness, stay-on, a reverse mapping).
"""

from __future__ import annotations

import os

import pytest

from mobile_webinfer.adb import Device
from mobile_webinfer.adb import conditioning as cond
from mobile_webinfer.adb.discovery import find_device, verify_profile
from mobile_webinfer.targets.devices import describe

SERIAL = os.environ.get("MWI_DEVICE_SERIAL", "")
pytestmark = [pytest.mark.device,
              pytest.mark.skipif(not SERIAL, reason="set MWI_DEVICE_SERIAL to run on a real phone")]


def test_real_phone_identity_and_profile():
    info = find_device(SERIAL)
    assert info.state == "device"
    rec = describe(info).record
    assert rec["model"] and rec["sdk"] and rec["abi"]
    profile, check = verify_profile(Device(SERIAL))
    print(f"\n{SERIAL}: profile {profile.name}: {check.to_json()}")


def test_real_phone_exit_codes_and_quoting():
    dev = Device(SERIAL)
    assert dev.shell(["ls", "/nonexistent-mwi"], check=False).exit_code != 0
    assert dev.shell(["echo", "a;b $(id)"]).stdout.strip() == "a;b $(id)"


def test_real_phone_conditioning_is_restored():
    dev = Device(SERIAL)
    keys = [("system", "screen_brightness"), ("system", "screen_brightness_mode"),
            ("global", "stay_on_while_plugged_in")]
    before = {k: dev.get_setting(*k) for k in keys}
    reverse_before = dev.list_reverse()
    with cond.conditioned(dev, brightness=64, reverse_ports=((18123, 18123),)):
        assert dev.get_setting("system", "screen_brightness") == "64"
    assert {k: dev.get_setting(*k) for k in keys} == before
    assert dev.list_reverse() == reverse_before
