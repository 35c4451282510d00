"""Probes and the sampler through the real device layer: Device -> private adb server -> fake phone."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mobile_webinfer.probes import Sampler, default_probes

pytestmark = pytest.mark.skipif(not Path("/usr/bin/adb").exists(), reason="needs Debian's adb")

CHROME = "com.android.chrome"


def test_ten_second_session_over_adb(adb_server, fake_phone) -> None:
    from mobile_webinfer.adb import Device

    phone = fake_phone("pixel")
    dev = Device(phone.serial)
    dev.shell(["am", "start", "-a", "android.intent.action.VIEW", "-d", "about:blank",
               "-n", f"{CHROME}/com.google.android.apps.chrome.Main"], check=False)
    rows: list[dict] = []
    with Sampler(dev, default_probes(CHROME), 1.0, rows.append, tags={"cell": "fake/chrome"}) as s:
        time.sleep(10.0)
    cost = s.cost()
    by: dict[str, list[dict]] = {}
    for r in rows:
        by.setdefault(r["probe"], []).append(r)
    failures = [r for r in rows if not r["ok"]]
    assert failures == []
    # defaults: gfxinfo/cpu every 1 s, thermal 2 s, meminfo/battery 5 s
    # (a loaded CI box may skip a tick or two: ticks are skipped, never bunched)
    assert len(by["cpu"]) >= 7 and len(by["gfxinfo"]) >= 7 and len(by["thermal"]) >= 4
    assert len(by["meminfo"]) >= 2 and len(by["battery"]) >= 2
    mem = by["meminfo"][-1]["data"]
    assert mem["not_found"] is None and mem["processes"]["com.android.chrome"]["pss_kb"] > 0
    assert any(":sandboxed_process" in name for name in mem["processes"])  # renderers are summed too
    assert mem["total_pss_kb"] == sum(p["pss_kb"] for p in mem["processes"].values())
    assert all(r["cell"] == "fake/chrome" for r in rows)
    assert by["cpu"][-1]["data"]["utilization"] is not None
    assert by["battery"][0]["data"]["level"] > 0
    assert 0 < cost["share"] < 0.5
    print("sampler cost over adb:", cost)  # shown with -s; numbers go in the closing note
