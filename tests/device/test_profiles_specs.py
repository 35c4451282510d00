"""Device profiles (TOML as data), browser specs and first-run handling."""

from __future__ import annotations


import pytest

from mobile_webinfer.adb.device import Device, fingerprint_from_props
from mobile_webinfer.adb.profiles import (FirstRunStep, check_profile, load_profile, load_profiles,
                                          match_profile)
from mobile_webinfer.browsers.firstrun import dismiss_first_run
from mobile_webinfer.browsers.specs import SPECS, get_spec, spec_for_package, spec_with_profile
from mobile_webinfer.errors import BrowserError, UsageError
from mobile_webinfer.parsers.capture import strip_capture_header
from mobile_webinfer.parsers.getprop import parse_getprop
from mobile_webinfer.parsers.thermal import parse_thermalservice
from mobile_webinfer.paths import REPO_ROOT

FIX = REPO_ROOT / "tests" / "fixtures"


def props_of(name: str) -> dict[str, str]:
    return parse_getprop(strip_capture_header((FIX / "device_info" / name).read_text(encoding="utf-8")))


def thermal_names(name: str) -> set[str]:
    rep = parse_thermalservice(strip_capture_header((FIX / "thermal" / name).read_text(encoding="utf-8")))
    return {t.name for t in rep.temperatures}


@pytest.fixture(scope="module")
def profiles():
    return load_profiles(REPO_ROOT / "device_profiles")


def test_repo_profiles_load(profiles):
    names = [p.name for p in profiles]
    assert names[0] == "default"
    assert {"samsung-galaxy-s25plus", "google-pixel3", "lg-velvet", "oneplus-nord-n10"} <= set(names)
    for p in profiles:
        for src in p.sources:      # every claimed source exists in the repo
            assert (REPO_ROOT / src).is_file(), src


@pytest.mark.parametrize("capture, expected", [
    ("samsung_galaxy_s25plus_SM-S936B_android16_getprop_full_CRLF.txt", "samsung-galaxy-s25plus"),
    ("lg_velvet_LM-V600_android11_getprop_full.txt", "lg-velvet"),
    ("oneplus_nord_n10_BE2028_android11_getprop_full.txt", "oneplus-nord-n10"),
    ("xiaomi_rom_on_mt6589_android4.4_getprop_full.txt", "default"),
])
def test_match_and_claims_hold_on_the_captures(profiles, capture, expected):
    props = props_of(capture)
    prof = match_profile(props, profiles)
    assert prof.name == expected
    check = check_profile(prof, fingerprint_from_props(props), battery_raw_temperature=280)
    assert check.ok, check.notes


def test_samsung_thermal_claim_checked_against_captures(profiles):
    prof = next(p for p in profiles if p.name == "samsung-galaxy-s25plus")
    good = check_profile(prof, {"soc": "QTI SM8750", "abi": "arm64-v8a"},
                         thermal_sensor_names=thermal_names("samsung_thermalservice_aidl1.txt"))
    assert good.ok and dict(good.held)["thermal_sensors"] is True
    bad = check_profile(prof, {"soc": "QTI SM8750", "abi": "arm64-v8a"},
                        thermal_sensor_names=thermal_names("samsung_sdhms_thermalservice_legacy_type_names.txt"))
    assert not bad.ok and any("missing" in n for n in bad.notes)
    unchecked = check_profile(prof, {"soc": "QTI SM8750", "abi": "arm64-v8a"})
    assert dict(unchecked.held)["thermal_sensors"] is None and unchecked.ok


def test_pixel_profile_matches_pixel3_thermal_capture(profiles):
    prof = match_profile({"ro.product.device": "crosshatch"}, profiles)
    assert prof.name == "google-pixel3"
    check = check_profile(prof, {}, thermal_sensor_names=thermal_names("pixel3_thermalservice_hal2.0.txt"))
    assert check.ok and check.to_json()["held"] == {"thermal_sensors": True}


def test_wrong_soc_is_recorded(profiles):
    prof = next(p for p in profiles if p.name == "lg-velvet")
    check = check_profile(prof, {"soc": "lito", "abi": "arm64-v8a"}, battery_raw_temperature=28)
    held = dict(check.held)
    assert held["soc"] is False and held["battery_temperature_unit"] is False and not check.ok


def test_default_first_run_steps(profiles):
    steps = profiles[0].first_run_steps("com.android.chrome")
    assert steps and steps[0].resource_id == "com.android.chrome:id/terms_accept"


@pytest.mark.parametrize("text, msg", [
    ('name = "x"\n', "only the default"),
    ('name = "x"\n[match]\n"a" = "1"\n"b" = "2"\n', "exactly one"),
    ('name = "x"\nfoo = 1\n[match]\n"a" = "1"\n', "unknown keys"),
    ('name = "x"\n[match]\n"a" = "1"\n[battery]\ntemperature_unit = "kelvin"\n', "temperature_unit"),
    ('name = "x"\n[match]\n"a" = "1"\n[[first_run."com.x.y"]]\nbogus = 1\n', "first_run"),
    ('name = \n', "not valid TOML"),
])
def test_bad_profiles_one_line_error(tmp_path, text, msg):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(UsageError, match=msg) as ei:
        load_profile(p)
    assert "bad.toml" in ei.value.one_line()


def test_profiles_dir_needs_default_and_unique_matches(tmp_path):
    (tmp_path / "a.toml").write_text('name = "a"\n[match]\n"ro.product.model" = "X"\n')
    with pytest.raises(UsageError, match="default"):
        load_profiles(tmp_path)
    (tmp_path / "default.toml").write_text('name = "default"\n')
    (tmp_path / "b.toml").write_text('name = "b"\n[match]\n"ro.product.model" = "X"\n')
    with pytest.raises(UsageError, match="same phone"):
        load_profiles(tmp_path)


# ---- specs ----------------------------------------------------------------------------

def test_specs_are_data():
    chrome = get_spec("chrome")
    assert get_spec("com.android.chrome") is chrome
    assert chrome.devtools_socket == "chrome_devtools_remote" and chrome.devtools_verified
    sam = get_spec("samsung")
    assert sam.package == "com.sec.android.app.sbrowser" and sam.activity == ".SBrowserMainActivity"
    assert sam.devtools_socket == "com.sec.android.app.sbrowser_devtools_remote" and not sam.devtools_verified
    for key in ("chrome-beta", "chrome-dev", "chrome-canary"):
        assert get_spec(key).activity == "com.google.android.apps.chrome.Main"
    assert len({s.package for s in SPECS}) == len(SPECS)
    assert spec_for_package("org.mozilla.firefox").engine == "gecko"
    with pytest.raises(UsageError, match="unknown browser"):
        get_spec("netscape")
    assert sam.with_overrides({"activity": ".Other"}).component() == "com.sec.android.app.sbrowser/.Other"
    with pytest.raises(UsageError):
        sam.with_overrides({"package": "x.y"})


# ---- first run ------------------------------------------------------------------------

class FakeUi:
    """Screens as a list of sets of visible selectors; clicking one advances when the set is empty."""

    def __init__(self, screens, stuck=False):
        self.screens = [set(s) for s in screens]
        self.clicks = []
        self.stuck = stuck

    def __call__(self, **sel):
        key = tuple(sorted(sel.items()))
        ui = self

        class El:
            def exists(self, timeout=0):
                return bool(ui.screens) and key in ui.screens[0]

            def click(self):
                ui.clicks.append(key)
                if not ui.stuck:
                    ui.screens[0].discard(key)
                    if not ui.screens[0]:
                        ui.screens.pop(0)
        return El()


def _sel(step):
    return tuple(sorted(step.selector().items()))


def test_first_run_clicks_through_screens():
    steps = (FirstRunStep(resource_id="com.android.chrome:id/terms_accept"), FirstRunStep(text="No thanks"))
    ui = FakeUi([{_sel(steps[0])}, {_sel(steps[1])}])
    res = dismiss_first_run(Device("S1"), get_spec("chrome"), steps, settle_s=0, connect=lambda s: ui)
    assert res.clicked == ("resourceId=com.android.chrome:id/terms_accept", "text=No thanks")
    assert ui.screens == []


def test_first_run_nothing_to_do():
    steps = (FirstRunStep(text="Accept"),)
    res = dismiss_first_run(Device("S1"), get_spec("chrome"), steps, settle_s=0, connect=lambda s: FakeUi([]))
    assert res.clicked == () and res.attempts == 1


def test_first_run_stuck_is_a_clear_error():
    steps = (FirstRunStep(text="Accept & continue"),)
    ui = FakeUi([{_sel(steps[0])}], stuck=True)
    with pytest.raises(BrowserError, match="stuck after 3 attempts") as ei:
        dismiss_first_run(Device("S1"), get_spec("chrome"), steps, attempts=3, settle_s=0, connect=lambda s: ui)
    assert len(ui.clicks) == 3 and "\n" not in ei.value.one_line()


def test_first_run_required_step_missing():
    steps = (FirstRunStep(text="Accept", optional=False),)
    with pytest.raises(BrowserError, match="never appeared"):
        dismiss_first_run(Device("S1"), get_spec("chrome"), steps, settle_s=0, connect=lambda s: FakeUi([]))


def test_profile_overrides_reach_the_spec(profiles, tmp_path):
    sam = next(p for p in profiles if p.name == "samsung-galaxy-s25plus")
    assert spec_with_profile("samsung", sam).notes == "Samsung Internet preinstalled on One UI"
    assert spec_with_profile("chrome", sam) is get_spec("chrome")
    assert spec_with_profile("samsung") is get_spec("samsung")
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "b"\n[match]\n"ro.product.model" = "Z"\n[browsers."com.android.chrome"]\nflavour = 1\n')
    with pytest.raises(UsageError, match="bad.toml.*unknown override field.*flavour"):
        load_profile(bad)


def test_first_run_agent_failure_is_one_line():
    def broken(**sel):
        raise RuntimeError("uiautomator2 agent not responding\ntraceback...")
    with pytest.raises(BrowserError, match="uiautomator2 failed: uiautomator2 agent not responding") as ei:
        dismiss_first_run(Device("S1"), get_spec("chrome"), (FirstRunStep(text="x"),), settle_s=0,
                          connect=lambda s: broken)
    assert "\n" not in ei.value.one_line()
