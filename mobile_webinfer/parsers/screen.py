"""Is the phone's screen usable for a page?  `dumpsys power` and `dumpsys window`, parsed.

Lines it reads (AOSP PowerManagerService / WindowManagerService dumps; names vary by release):

    dumpsys power:   mWakefulness=Awake             (Android 4-12; Asleep, Dozing, Dreaming)
                     getWakefulnessLocked()=Dozing  (some OEM builds)
                     Display Power: state=ON
    dumpsys window:  mCurrentFocus=Window{3c5d7e9 u0 com.android.chrome/com.google.android.apps.chrome.Main}
                     mCurrentFocus=Window{a1b2c3 u0 Application Not Responding: com.example.app}
                     mCurrentFocus=Window{a1b2c3 u0 Application Error: com.example.app}
                     mCurrentFocus=Window{4d5e6f u0 NotificationShade}   (the keyguard on Android 10+, or the
                         pulled-down shade when KeyguardStateMonitor says mIsShowing=false)
                     mShowingLockscreen=true  mDreamingLockscreen=true   (the keyguard on Android <= 9)
                     KeyguardStateMonitor ... mIsShowing=true ... mInputRestricted=true
                     mScreenOnFully=false    screenState=SCREEN_STATE_OFF
    Several displays print several focus lines, `=null` for idle ones: the first real one counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ._common import check_text

_WAKE_RE = re.compile(r"^\s*(?:mWakefulness|getWakefulnessLocked\(\))\s*=\s*(\w+)\s*$", re.M)
_DISPLAY_RE = re.compile(r"^\s*Display Power:\s*state=(\w+)", re.M)
_FOCUS_RE = re.compile(r"mCurrentFocus=(?:Window\{[0-9a-f]+ u\d+ ([^}]*)\}|null)")
_APP_RE = re.compile(r"mFocusedApp=.*?ActivityRecord\{[0-9a-f]+ u\d+ ([^\s}]+)")
_DIALOG_RE = re.compile(r"^(Application Not Responding|Application Error|Application Crash)\s*:\s*(\S+)", re.I)


@dataclass(frozen=True)
class PowerState:
    wakefulness: str | None     # Awake, Asleep, Dozing, Dreaming (None: not printed)
    display_on: bool | None

    @property
    def awake(self) -> bool:
        if self.wakefulness is not None:
            return self.wakefulness.lower() == "awake"
        return bool(self.display_on)


@dataclass(frozen=True)
class WindowState:
    focus: str | None            # the focused window's title: "pkg/activity", "NotificationShade", a dialog's
    focused_app: str | None      # "pkg/activity" of the focused activity
    keyguard_showing: bool
    screen_off: bool
    dialog: str | None           # "Application Not Responding: pkg" when a blocking system dialog has focus
    shade_open: bool = False     # the notification shade is pulled down (focus NotificationShade, no keyguard)

    @property
    def focus_package(self) -> str | None:
        if self.focus and "/" in self.focus:
            return self.focus.split("/", 1)[0]
        return None


def parse_power_state(text: str, *, source: str = "dumpsys power") -> PowerState:
    text = check_text(text, source)
    m = _WAKE_RE.search(text)
    d = _DISPLAY_RE.search(text)
    return PowerState(m.group(1) if m else None, (d.group(1).upper() == "ON") if d else None)


def parse_window_state(text: str, *, source: str = "dumpsys window") -> WindowState:
    text = check_text(text, source)
    focus = next((f for f in _FOCUS_RE.findall(text) if f), None)
    app = _APP_RE.search(text)
    # Android 10+ gives the keyguard and a pulled-down notification shade the same focused window
    # (NotificationShade): the keyguard's own state, where printed, tells them apart
    no_keyguard = ("mShowingLockscreen=false" in text
                   or bool(re.search(r"KeyguardStateMonitor[\s\S]*?mIsShowing=false", text)))
    shade_focus = bool(focus and re.search(r"NotificationShade|StatusBar", focus, re.I) and "/" not in focus)
    keyguard = ("mShowingLockscreen=true" in text or "mDreamingLockscreen=true" in text
                or bool(re.search(r"KeyguardStateMonitor[\s\S]*?mIsShowing=true", text)
                        and re.search(r"\bmInputRestricted=true", text))
                or bool(focus and re.search(r"keyguard", focus, re.I) and "/" not in focus)
                or (shade_focus and not no_keyguard))
    shade_open = shade_focus and not keyguard
    screen_off = bool(re.search(r"mScreenOnFully=false|screenState=SCREEN_STATE_OFF", text))
    dialog = None
    if focus:
        dm = _DIALOG_RE.match(focus.strip())
        if dm:
            dialog = f"{dm.group(1)}: {dm.group(2)}"
    return WindowState(focus.strip() if focus else None, app.group(1) if app else None, keyguard, screen_off, dialog,
                       shade_open)
