"""Android browsers as data: package, how to open a URL, DevTools socket, first-run handling.

No subclasses and no branching on a browser's name elsewhere: code reads these fields.
A device profile may override fields per phone model (`Profile.browser_overrides`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..adb.profiles import OVERRIDABLE_FIELDS
from ..errors import UsageError

if TYPE_CHECKING:
    from ..adb.profiles import Profile

VIEW_ACTION = "android.intent.action.VIEW"


@dataclass(frozen=True)
class BrowserSpec:
    """One browser on Android.

    key: short name used on the command line (`chrome`, `samsung`).
    activity: launch activity when `cmd package resolve-activity` gives nothing (None: must resolve).
    devtools_socket: abstract unix socket for `adb forward tcp:N localabstract:<socket>` (None: none).
    devtools_verified: False when the socket name comes from secondary sources only.
    devtools_hint: what to do when the socket is missing or lists no pages (shown by `mwi devices`).
    measurable: whether mwi runs benchmark pages in it (the others are only listed by `mwi devices`).
    """

    key: str
    name: str
    package: str
    activity: str | None = None
    devtools_socket: str | None = None
    devtools_verified: bool = False
    engine: str = "chromium"
    measurable: bool = False
    notes: str = ""
    devtools_hint: str = ""

    def component(self, activity: str | None = None) -> str:
        act = activity or self.activity
        if not act:
            raise UsageError(f"no launch activity known for {self.package}")
        return f"{self.package}/{act}"

    def with_overrides(self, overrides: dict[str, object]) -> BrowserSpec:
        """A copy with profile overrides applied (only known fields)."""
        bad = set(overrides) - set(OVERRIDABLE_FIELDS)
        if bad:
            raise UsageError(f"unknown browser override field(s) for {self.package}: {sorted(bad)}")
        return dataclasses.replace(self, **overrides)  # type: ignore[arg-type]


# What a device profile's `[browsers."PKG"]` table may change: the profile format's vocabulary
# (adb.profiles), which must name fields of BrowserSpec and never the key or the package.
assert set(OVERRIDABLE_FIELDS) <= {f.name for f in dataclasses.fields(BrowserSpec)} - {"key", "package"}

_CHROME_MAIN = "com.google.android.apps.chrome.Main"
_SAMSUNG_HINT = ("Samsung Internet lists pages over DevTools only with its developer setting "
                 "'USB Debugging of WebViews' on (Settings > About Samsung Internet: tap the version "
                 "to unlock developer settings)")

SPECS: tuple[BrowserSpec, ...] = (
    BrowserSpec("chrome", "Chrome", "com.android.chrome", _CHROME_MAIN, "chrome_devtools_remote", True,
                measurable=True),
    BrowserSpec("chrome-beta", "Chrome Beta", "com.chrome.beta", _CHROME_MAIN, "chrome_devtools_remote", True,
                measurable=True),
    BrowserSpec("chrome-dev", "Chrome Dev", "com.chrome.dev", _CHROME_MAIN, "chrome_devtools_remote", True,
                measurable=True),
    BrowserSpec("chrome-canary", "Chrome Canary", "com.chrome.canary", _CHROME_MAIN, "chrome_devtools_remote",
                True, measurable=True),
    BrowserSpec("samsung", "Samsung Internet", "com.sec.android.app.sbrowser", ".SBrowserMainActivity",
                "com.sec.android.app.sbrowser_devtools_remote", False, measurable=True,
                notes="DevTools socket name from public automation drivers (Appium, Playwright-based tools); "
                      "not yet seen on a phone of ours",
                devtools_hint=_SAMSUNG_HINT),
    BrowserSpec("samsung-beta", "Samsung Internet Beta", "com.sec.android.app.sbrowser.beta",
                ".SBrowserMainActivity", "com.sec.android.app.sbrowser.beta_devtools_remote", False,
                notes="DevTools socket name assumed from the stable one's pattern (package + _devtools_remote)",
                devtools_hint=_SAMSUNG_HINT),
    BrowserSpec("firefox", "Firefox", "org.mozilla.firefox", None, None, engine="gecko"),
    BrowserSpec("firefox-beta", "Firefox Beta", "org.mozilla.firefox_beta", None, None, engine="gecko"),
    BrowserSpec("edge", "Microsoft Edge", "com.microsoft.emmx", None, "com.microsoft.emmx_devtools_remote", False,
                notes="DevTools socket name from public automation drivers"),
    BrowserSpec("brave", "Brave", "com.brave.browser", None, None),
    BrowserSpec("opera", "Opera", "com.opera.browser", None, None),
    BrowserSpec("opera-mini", "Opera Mini", "com.opera.mini.native", None, None, engine="presto/chromium"),
    BrowserSpec("vivaldi", "Vivaldi", "com.vivaldi.browser", None, None),
    BrowserSpec("duckduckgo", "DuckDuckGo", "com.duckduckgo.mobile.android", None, None, engine="webview"),
    BrowserSpec("mi-browser", "Mi Browser", "com.mi.globalbrowser", None, None),
    BrowserSpec("huawei-browser", "Huawei Browser", "com.huawei.browser", None, None),
    BrowserSpec("uc", "UC Browser", "com.UCMobile.intl", None, None),
)

_BY_KEY = {s.key: s for s in SPECS}
_BY_PACKAGE = {s.package: s for s in SPECS}


def get_spec(name: str) -> BrowserSpec:
    """A spec by key (`chrome`, `samsung`) or package (`com.android.chrome`); UsageError if unknown."""
    spec = _BY_KEY.get(name) or _BY_PACKAGE.get(name)
    if spec is None:
        known = ", ".join(s.key for s in SPECS)
        raise UsageError(f"unknown browser {name!r} (known: {known})")
    return spec


def spec_for_package(package: str) -> BrowserSpec | None:
    return _BY_PACKAGE.get(package)


def known_packages() -> tuple[str, ...]:
    return tuple(s.package for s in SPECS)


def spec_with_profile(name: str, profile: Profile | None = None) -> BrowserSpec:
    """The spec for `name`, with the phone profile's `[browsers."PKG"]` overrides applied."""
    spec = get_spec(name)
    if profile is None:
        return spec
    overrides = profile.overrides_for(spec.package)
    return spec.with_overrides(overrides) if overrides else spec


def specs_for_socket(socket_name: str) -> tuple[BrowserSpec, ...]:
    """The known browsers that open this DevTools socket (Chrome's channels share one name)."""
    return tuple(s for s in SPECS if s.devtools_socket == socket_name)
