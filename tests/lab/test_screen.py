"""The screen before a browser cell: the power / window parsers, and the fake phone's lock screen,
system dialogs and dark screen handled (or failing the cell `ui-blocked`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mobile_webinfer.parsers.capture import strip_capture_header
from mobile_webinfer.parsers.screen import parse_power_state, parse_window_state
from tests.sweep_helpers import MWI, read_results

FIXTURES = Path(__file__).parent / "fixtures" / "window"


def test_power_states():
    assert parse_power_state("Power Manager State:\n  mWakefulness=Awake\nDisplay Power: state=ON\n").awake
    p = parse_power_state("  getWakefulnessLocked()=Dozing\n")
    assert p.wakefulness == "Dozing" and not p.awake
    assert not parse_power_state("Display Power: state=OFF\n").awake


def test_window_focus_of_a_real_multi_display_dump():
    text = strip_capture_header((FIXTURES / "dumpsys_window_focus_multidisplay_samsung_flip_subscreen.txt").read_text())
    w = parse_window_state(text)
    assert w.focus == "eu.niko.smart.universal/crc648a3abc16689e594e.MainActivity"  # not the idle display's null
    assert w.focus_package == "eu.niko.smart.universal" and not w.keyguard_showing and w.dialog is None


@pytest.mark.parametrize("text,keyguard,dialog", [
    ("  mCurrentFocus=Window{a1b2c3 u0 Application Not Responding: com.example.app}\n", False,
     "Application Not Responding: com.example.app"),
    ("  mCurrentFocus=Window{a1b2c3 u0 Application Error: com.example.app}\n", False,
     "Application Error: com.example.app"),
    ("  mCurrentFocus=Window{4d5e6f u0 NotificationShade}\n", True, None),              # Android 10+
    ("  mShowingLockscreen=true mDreamingLockscreen=false\n", True, None),               # Android <= 9
    ("KeyguardStateMonitor\n    mIsShowing=true\n    mInputRestricted=true\n", True, None),
    ("KeyguardStateMonitor\n    mIsShowing=true\n    mInputRestricted=false\n", False, None),
    ("  mCurrentFocus=Window{3c5d u0 com.android.chrome/com.google.android.apps.chrome.Main}\n", False, None),
])
def test_lock_screens_and_dialogs(text, keyguard, dialog):
    w = parse_window_state(text)
    assert w.keyguard_showing is keyguard and w.dialog == dialog


class _Phone:
    """A stub phone for the wake-up path: asleep until KEYCODE_WAKEUP (or forever)."""

    serial = "STUB"

    def __init__(self, wakes: bool):
        self.wakes, self.awake, self.sent = wakes, False, []

    def read(self, argv):
        if argv == ["dumpsys", "power"]:
            return f"  mWakefulness={'Awake' if self.awake else 'Asleep'}\n"
        return "  mCurrentFocus=Window{1 u0 com.android.chrome/com.google.android.apps.chrome.Main}\n"

    def shell(self, argv, **kw):
        self.sent.append(argv)
        if argv[-1] == "KEYCODE_WAKEUP" and self.wakes:
            self.awake = True


def test_a_dark_screen_is_woken_or_the_cell_is_ui_blocked():
    from mobile_webinfer.targets.android.ui import UiBlocked, ensure_screen_ready

    phone = _Phone(wakes=True)
    assert ensure_screen_ready(phone)["done"] == ["woke the screen"]  # type: ignore[arg-type]
    assert phone.sent == [["input", "keyevent", "KEYCODE_WAKEUP"]]
    with pytest.raises(UiBlocked, match="screen stays off"):
        ensure_screen_ready(_Phone(wakes=False))  # type: ignore[arg-type]


def _sweep(phone, tmp_path) -> dict:
    """A sweep without its preflight (which would dismiss the lock screen itself, or stop the sweep on a PIN:
    tests/lab/test_preflight.py): these tests are about what each cell does with the screen."""
    p = subprocess.run(MWI + ["sweep", "--no-preflight", "--target", phone.serial, "--models", "tiny_cnn", "--threads", "1", "--quick",
                              "--no-native", "--runtimes", "tfjs", "--backends", "wasm", "--browsers",
                              "com.android.chrome", "--no-capabilities", "--cooldown-timeout", "20",
                              "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    (rec,) = read_results(Path(p.stdout.strip().splitlines()[-1]))
    assert p.returncode == (0 if rec["status"] == "ok" else 5), p.stderr[-2000:]  # 5: nothing measured
    return rec


@pytest.mark.browser
def test_the_fake_phone_screen_is_made_usable_or_the_cell_is_ui_blocked(fake_phone, tmp_path):
    pixel = fake_phone("pixel")
    pixel.adb("shell", "input", "keyevent", "KEYCODE_SLEEP")
    pixel.control.set_fault("keyguard", True)
    pixel.control.set_fault("ui_dialog", "Application Not Responding: com.example.app")
    pixel.control.set_fault("ui_dialog_presses", 3)
    rec = _sweep(pixel, tmp_path / "a")
    assert rec["status"] == "ok", rec.get("error")
    done = rec["context"]["ui"]["done"]
    assert "dismissed the lock screen" in done  # (the sweep's conditioning already woke the screen)
    assert done.count("dismissed Application Not Responding: com.example.app") == 3
    pixel.control.set_fault("keyguard", True)
    pixel.control.set_fault("keyguard_secure", True)  # a PIN: nothing the host can do
    rec = _sweep(pixel, tmp_path / "b")
    assert rec["status"] == "error" and rec["error_kind"] == "ui-blocked" and "lock screen" in rec["error"]
    pixel.control.set_fault("keyguard", False)
    pixel.control.set_fault("keyguard_secure", False)
    pixel.control.set_fault("ui_dialog", "Application Error: com.example.app")
    pixel.control.set_fault("ui_dialog_presses", 50)  # a dialog that keeps coming back
    rec = _sweep(pixel, tmp_path / "c")
    assert rec["status"] == "error" and rec["error_kind"] == "ui-blocked" and "10 dismissals" in rec["error"]
    assert not any(c.startswith("am start") for c in pixel.commands[-40:])  # no page opened behind it


def test_a_first_run_screen_in_focus_is_named():
    from mobile_webinfer.targets.android.ui import UiBlocked, check_not_first_run

    class FreShown(_Phone):
        def read(self, argv):
            if argv == ["dumpsys", "window"]:
                return "  mCurrentFocus=Window{1 u0 com.android.chrome/org.chromium.chrome.browser.firstrun.FirstRunActivity}\n"
            return super().read(argv)

    with pytest.raises(UiBlocked, match="FirstRunActivity is in focus"):
        check_not_first_run(FreShown(wakes=True), "com.android.chrome")  # type: ignore[arg-type]
    check_not_first_run(_Phone(wakes=True), "com.android.chrome")  # type: ignore[arg-type]  # the page: fine
