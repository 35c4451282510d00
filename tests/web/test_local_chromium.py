"""local_chromium.py without launching a browser: binary lookup and flags."""

from __future__ import annotations

import os

import pytest

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
    for flag in ("--enable-unsafe-webgpu", "--enable-features=Vulkan", "--use-vulkan=swiftshader",
                 "--use-webgpu-adapter=swiftshader", "--enable-unsafe-swiftshader"):
        assert flag in w
    assert len(w) == len(set(w))
    monkeypatch.setattr(lc, "_is_root", lambda: False)
    assert "--no-sandbox" not in lc.chromium_flags()


def test_descendants_of_this_process():
    pids = lc._descendants(os.getpid())
    assert pids[0] == os.getpid() or os.getpid() in pids


def test_not_started():
    b = lc.LocalChromium()
    assert b.browser_pids() == []
    with pytest.raises(Exception, match="not running"):
        b.new_page()
    b.close()  # harmless
