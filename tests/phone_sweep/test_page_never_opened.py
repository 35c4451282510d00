"""`reverse-unavailable` only when the reverse itself failed: a browser that never opened the page
(the mapping listed all along) is `page-never-opened` (issue 23)."""

from __future__ import annotations

import pytest

from mobile_webinfer.cli.sweep_cmd import build_spec
from mobile_webinfer.sweep.runner import run_sweep
from mobile_webinfer.targets.android import browser_cell

pytestmark = pytest.mark.browser


def test_browser_that_never_opens_the_page_is_not_reverse_unavailable(fake_phone, tmp_path, monkeypatch):
    monkeypatch.setenv("MWI_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(browser_cell, "REACH_TIMEOUT_S", 2.0)  # 30 s on a phone: a cold browser start
    monkeypatch.setattr(browser_cell, "DIALOG_CHECK_S", 1.0)
    pixel = fake_phone("pixel")
    pixel.control.set_fault("am_start_ignored", True)
    spec = build_spec(targets=[pixel.serial], models=["tiny_cnn"], runtimes=["tfjs"], backends=["wasm"], threads=[1],
                      repeats=1, quick=True, native=False, iterations=3, warmups=None, time_budget=None, chromium=None,
                      browsers=["com.android.chrome"], capabilities=False, cooldown_timeout=5)
    (rec,) = run_sweep(spec, out_root=tmp_path / "out").store.results()
    assert rec["status"] == "error" and rec["error_kind"] == "page-never-opened", rec.get("error")
    assert "is listed" in rec["error"] and "never opened the URL" in rec["error"]
