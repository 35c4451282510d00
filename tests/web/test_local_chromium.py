"""local_chromium.py without launching a browser: binary lookup and flags."""

from __future__ import annotations

import os

import pytest

from mobile_webinfer import hostproc as procmem

from mobile_webinfer.browsers import local_chromium as lc
from mobile_webinfer.errors import UsageError


def test_find_explicit_env_and_missing(tmp_path, monkeypatch):
    exe = tmp_path / "mychrome"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    assert lc.find_chromium(str(exe)) == exe
    monkeypatch.setenv("MWI_CHROMIUM", str(exe))
    assert lc.find_chromium() == exe
    with pytest.raises(UsageError, match="not found"):
        lc.find_chromium(str(tmp_path / "nope"))
    monkeypatch.delenv("MWI_CHROMIUM")
    monkeypatch.setattr(lc, "CANDIDATES", ("definitely-not-a-browser-xyz",))
    with pytest.raises(UsageError, match="apt-get install -y chromium"):
        lc.find_chromium()


def test_flags(monkeypatch):
    monkeypatch.setattr(lc, "_is_root", lambda: True)
    f = lc.chromium_flags(webgl=False, webgpu=False)
    assert "--no-sandbox" in f and "--disable-background-timer-throttling" in f
    assert "--disable-renderer-backgrounding" in f and "--disable-backgrounding-occluded-windows" in f
    assert "--enable-unsafe-webgpu" not in f and "--use-angle=swiftshader" not in f
    g = lc.chromium_flags(webgl=True, webgpu=False)
    assert "--use-angle=swiftshader" in g and "--enable-unsafe-swiftshader" in g and "--enable-unsafe-webgpu" not in g
    w = lc.chromium_flags(webgl=False, webgpu=True)
    for flag in ("--enable-unsafe-webgpu", "--use-vulkan=swiftshader",
                 "--use-webgpu-adapter=swiftshader", "--enable-unsafe-swiftshader"):
        assert flag in w
    features = [x for x in w if x.startswith("--enable-features=")]
    assert len(features) == 1 and "Vulkan" in features[0].split("=", 1)[1].split(",")
    assert len(w) == len(set(w))
    monkeypatch.setattr(lc, "_is_root", lambda: False)
    assert "--no-sandbox" not in lc.chromium_flags()


def test_descendants_of_this_process():
    pids = procmem.descendants(os.getpid())
    assert pids[0] == os.getpid() or os.getpid() in pids


def test_not_started():
    b = lc.LocalChromium()
    assert b.browser_pids() == []
    with pytest.raises(Exception, match="not running"):
        b.new_page()
    b.close()  # harmless


def test_ppid_and_cmdline_of_this_process():
    assert procmem.read_ppid(os.getpid()) == os.getppid()
    assert procmem.read_ppid(2 ** 22 + 12345) is None
    assert procmem.read_cmdline(os.getpid()) and procmem.read_cmdline(2 ** 22 + 12345) == []


def test_failed_launch_is_one_line_and_cleans_up(tmp_path):
    exe = tmp_path / "broken-chrome"
    exe.write_text("#!/bin/sh\necho 'cannot open display' >&2\nexit 3\n")
    exe.chmod(0o755)
    b = lc.LocalChromium(str(exe), webgl=False, webgpu=False)
    with pytest.raises(lc.BrowserError) as ei:
        b.start()
    assert str(ei.value).startswith(f"Chromium ({exe}) failed to start") and "\n" not in str(ei.value)
    assert b.user_data_dir is not None and not b.user_data_dir.exists()
    assert getattr(lc._local, "pw", None) is None  # the shared driver was released


def test_reap_stale_profiles(tmp_path):
    import subprocess

    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f"{lc.PROFILE_PREFIX}{dead.pid}-abc"
    live = tmp_path / f"{lc.PROFILE_PREFIX}{os.getpid()}-def"
    other = tmp_path / f"{lc.PROFILE_PREFIX}oldstyle"
    for d in (stale, live, other):
        d.mkdir()
    (stale / "Default").mkdir()
    assert lc.reap_stale_profiles(str(tmp_path)) == [stale]
    assert not stale.exists() and live.exists() and other.exists()


def test_flags_not_applied_reads_switches_and_features():
    line = ("/usr/lib/chromium/chromium --enable-features=CDPScreenshotNewSurface --headless --no-sandbox "
            "--enable-unsafe-webgpu --enable-features=Vulkan,WebMachineLearningNeuralNetwork about:blank")
    asked = ["--no-sandbox", "--enable-unsafe-webgpu", "--enable-features=Vulkan,WebMachineLearningNeuralNetwork"]
    assert lc.flags_not_applied(asked, line) == []
    assert lc.flags_not_applied([*asked, "--use-webgpu-adapter=swiftshader", "--enable-features=Vulkan,Foo"],
                                line) == ["--use-webgpu-adapter=swiftshader", "--enable-features=Foo"]


@pytest.mark.browser
def test_a_running_chromium_reports_the_flags_it_took():
    """Read back from the browser itself (chrome://version): every flag mwi asked for, a made-up one too."""
    with lc.LocalChromium(None, extra_flags=["--mwi-check-switch=1"]) as browser:
        line = browser.command_line()
        assert "--mwi-check-switch=1" in line.split()
        assert lc.flags_not_applied(browser.flags, line) == []
        assert lc.flags_not_applied(["--mwi-never-given"], line) == ["--mwi-never-given"]


def test_a_cell_whose_flags_did_not_apply_is_flagged():
    from mobile_webinfer.sweep.policy import validity

    assert validity(["flags-not-applied(--enable-unsafe-webgpu)"], measured=True) == \
        ("flagged", ["browser-flags-not-applied"])
