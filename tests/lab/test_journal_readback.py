"""The restore journal is deleted only once the originals were read back from the phone (issue 22):
a value that did not take keeps it, for the next contact to try again."""

from __future__ import annotations

import pytest

from mobile_webinfer.adb.device import Device
from mobile_webinfer.errors import DeviceError
from mobile_webinfer.targets.android import AndroidTarget
from mobile_webinfer.targets.android.journal import journal_path, restore_from_journal, write_journal


def test_a_restore_that_did_not_take_keeps_the_journal(fake_phone, tmp_path, monkeypatch):
    monkeypatch.setenv("MWI_CACHE", str(tmp_path / "cache"))
    phone = fake_phone("pixel")
    before = phone.control.settings()
    t = AndroidTarget(phone.serial)
    t.connect()
    with t.conditions():
        phone.control.set_fault("settings_ignored", True)  # from now on nothing the host puts takes
    assert t.left_conditioned and "screen_brightness" in t.left_conditioned
    assert journal_path(phone.serial).is_file()  # kept: the originals were not read back
    phone.control.set_fault("settings_ignored", False)

    dev = Device(phone.serial)
    phone.control.set_fault("settings_ignored", True)
    with pytest.raises(DeviceError, match="did not take"):
        restore_from_journal(dev)
    assert journal_path(phone.serial).is_file()
    phone.control.set_fault("settings_ignored", False)
    done = restore_from_journal(dev)  # the next contact: replayed, read back, deleted
    assert done is not None and "system/screen_brightness" in done["restored"]
    assert not journal_path(phone.serial).exists()
    assert phone.control.settings() == before


def test_a_journal_for_a_value_that_was_unset_deletes_it(fake_phone, tmp_path, monkeypatch):
    monkeypatch.setenv("MWI_CACHE", str(tmp_path / "cache"))
    phone = fake_phone("pixel")
    dev = Device(phone.serial)
    dev.put_setting("global", "window_animation_scale", "0")
    write_journal(phone.serial, {"global/window_animation_scale": None}, 0)
    assert restore_from_journal(dev) is not None and not journal_path(phone.serial).exists()
    assert dev.get_setting("global", "window_animation_scale") is None
