"""A pulled-down notification shade is not a lock screen (issue 22): on Android 10+ both give the
NotificationShade window focus; the keyguard's own state tells them apart, and BACK closes the shade."""

from __future__ import annotations

import pytest

from mobile_webinfer.parsers.screen import parse_window_state

SHADE = "  mCurrentFocus=Window{4d5e6f u0 NotificationShade}\n"
MONITOR = "    KeyguardStateMonitor\n      mIsShowing={}\n      mSimSecure=false\n      mInputRestricted={}\n"


@pytest.mark.parametrize("text,keyguard,shade", [
    (SHADE + MONITOR.format("false", "false"), False, True),   # the shade, pulled down over an unlocked phone
    (SHADE + MONITOR.format("true", "true"), True, False),     # the lock screen
    (SHADE, True, False),                                      # nothing says: the safe reading, a lock screen
    ("  mCurrentFocus=Window{3c5d u0 com.android.chrome/com.google.android.apps.chrome.Main}\n"
     + MONITOR.format("false", "false"), False, False),
])
def test_shade_and_lock_screen_told_apart(text, keyguard, shade):
    w = parse_window_state(text)
    assert (w.keyguard_showing, w.shade_open) == (keyguard, shade)


def test_the_fake_phone_shade_is_closed_not_dismissed_as_a_lock_screen(fake_phone):
    from mobile_webinfer.adb.device import Device
    from mobile_webinfer.targets.android.ui import ensure_screen_ready

    phone = fake_phone("galaxy")
    phone.control.set_fault("notification_shade", True)
    ui = ensure_screen_ready(Device(phone.serial))
    assert ui["done"] == ["closed the notification shade"]
    assert "wm dismiss-keyguard" not in phone.commands and "input keyevent KEYCODE_BACK" in phone.commands
    assert phone.control.faults()["notification_shade"] is False
