"""A sampling session whose sink is the run store: Device -> private adb server -> fake phone ->
Sampler -> RunStore.append_samples -> samples.jsonl, read back as time series."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import pytest

from mobile_webinfer.probes import Sampler, default_probes
from mobile_webinfer.store import SCHEMA_VERSION, RunStore

pytestmark = pytest.mark.skipif(not Path("/usr/bin/adb").exists(), reason="needs Debian's adb")

CHROME = "com.android.chrome"
SESSION_S = 10.0
WAKE_S = 0.25  # how late a thread may wake on a loaded 2-core box
TAGS = {"cell": "fake/chrome/about-blank", "target": "fake-pixel"}


def _open_page(dev) -> None:
    dev.shell(["am", "start", "-a", "android.intent.action.VIEW", "-d", "about:blank",
               "-n", f"{CHROME}/com.google.android.apps.chrome.Main"], check=False)


def test_sampling_session_into_run_store(adb_server, fake_phone, tmp_path: Path) -> None:
    from mobile_webinfer.adb import Device

    phone = fake_phone("pixel")
    dev = Device(phone.serial)
    _open_page(dev)
    store = RunStore.create(tmp_path, {"purpose": "sampler->store test", "target": "fake-pixel"}, label="fake")
    probes = default_probes(CHROME)
    intervals = {p.name: p.default_interval_s for p in probes}
    seen: list[dict] = []  # what the sampler handed over, to compare with what the store gives back

    sink_max_s = 0.0

    def sink(row: dict) -> None:
        nonlocal sink_max_s
        t = time.perf_counter()
        seen.append(row)
        store.append_samples([row])
        sink_max_s = max(sink_max_s, time.perf_counter() - t)

    with Sampler(dev, probes, 1.0, sink, tags=TAGS) as sampler:
        time.sleep(SESSION_S)
    cost = sampler.cost()
    print("sampler cost into the store:", cost)  # shown with -s
    store.update_manifest(lambda m: m.update(sampler={"cost": cost, "package": CHROME,
                                                      "intervals_s": intervals}))

    # ---- read back through a fresh handle, as `mwi report` would -------------------------------
    again = RunStore.open(store.run_dir)
    rows = again.samples()
    assert len(rows) == len(seen) == cost["rows"] > 0
    assert all(r["schema_version"] == SCHEMA_VERSION for r in rows)
    assert [{k: v for k, v in r.items() if k != "schema_version"} for r in rows] == \
        json.loads(json.dumps(seen)), "the store must give back exactly the rows the sampler emitted"
    assert [r for r in rows if not r["ok"]] == []
    assert all(r["cell"] == TAGS["cell"] and r["target"] == TAGS["target"] for r in rows)

    # ---- one time series per probe --------------------------------------------------------------
    ts = [r["t_s"] for r in rows]
    assert ts == sorted(ts) and ts[0] >= 0 and ts[-1] <= cost["wall_s"]
    by: dict[str, list[dict]] = {}
    for r in rows:
        by.setdefault(r["probe"], []).append(r)
    assert set(by) == set(intervals) == {"meminfo", "gfxinfo", "thermal", "battery", "cpu"}
    sampled_s = cost["wall_s"] - cost["setup_s"]
    order = [p.name for p in probes]
    for name, series in by.items():
        interval = intervals[name]
        times = [r["t_s"] for r in series]
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert all(g > 0 for g in gaps), f"{name}: t_s not strictly increasing: {times}"
        # ticks may be skipped on a loaded box (counted in missed_ticks), never bunched
        most = int(sampled_s / interval) + 2
        least = max(2, int(0.6 * SESSION_S / interval))
        assert least <= len(series) <= most, f"{name}: {len(series)} rows in {sampled_s:.1f}s at {interval}s"
        # Samples run on a fixed grid of ticks; a sample starts late by at most the time the probes
        # (and sink calls) ahead of it in its tick took, plus a wake-up delay.  The grid starts at t0,
        # before the supported() checks (setup_s), so the first sample may sit close to the second.
        ahead = order[:order.index(name)]
        late_max = sum(cost["probes"][p]["max_s"] for p in ahead) + (len(ahead) + 1) * sink_max_s + WAKE_S
        if len(gaps) > 1:
            assert min(gaps[1:]) >= interval - late_max, f"{name}: bunched samples {gaps} (late <= {late_max})"
            assert 0.8 * interval <= statistics.median(gaps[1:]) <= 2.0 * interval, f"{name}: gaps {gaps}"
        assert cost["probes"][name]["calls"] == len(series) and cost["probes"][name]["errors"] == 0
        assert all(r["cost_s"] > 0 for r in series)
        assert sum(r["cost_s"] for r in series) == pytest.approx(cost["probes"][name]["total_s"], abs=1e-3)

    # ---- what each series holds ------------------------------------------------------------------
    for r in by["meminfo"]:
        procs = r["data"]["processes"]
        assert r["data"]["not_found"] is None
        assert CHROME in procs and len(procs) >= 3, sorted(procs)
        assert any(":sandboxed_process" in n for n in procs) and any(":privileged_process" in n for n in procs)
        assert all(p["pss_kb"] > 0 and p["pid"] > 0 for p in procs.values())
        assert len({p["pid"] for p in procs.values()}) == len(procs)
        assert r["data"]["total_pss_kb"] == sum(p["pss_kb"] for p in procs.values())
    assert by["cpu"][0]["data"]["utilization"] is None  # needs two /proc/stat readings
    assert all(r["data"]["utilization"] is not None and 0 <= r["data"]["utilization"] <= 1
               for r in by["cpu"][1:])
    for r in by["thermal"]:
        assert 0 <= r["data"]["status"] <= 6 and r["data"]["temperatures"]
        assert all(isinstance(c, (int, float)) for c in r["data"]["temperatures"].values())
    for r in by["battery"]:
        assert 0 < r["data"]["level"] <= 100 and 0 < r["data"]["temperature_c"] < 80

    # ---- the sampler's cost sits in the manifest ---------------------------------------------------
    m = again.manifest()
    assert m["sampler"]["cost"] == json.loads(json.dumps(cost))
    assert m["sampler"]["intervals_s"] == intervals and m["purpose"] == "sampler->store test"
    assert "updated_at" in m and m["run_id"] == store.run_dir.name
    assert 0 < m["sampler"]["cost"]["share"] < 0.5
    assert m["sampler"]["cost"]["busy_s"] == pytest.approx(sum(p["total_s"] for p in cost["probes"].values()),
                                                           abs=1e-3)


def test_store_series_follow_the_phone(adb_server, fake_phone, tmp_path: Path) -> None:
    """What the phone does mid-session shows in the stored series: thermal status and battery
    temperature climb, and after the renderers are killed meminfo lists no renderer."""
    from mobile_webinfer.adb import Device

    phone = fake_phone("pixel")
    dev = Device(phone.serial)
    _open_page(dev)
    store = RunStore.create(tmp_path, {"purpose": "series"}, label="fake")
    phone.control.set_fault("thermal_rise_every_s", 2.0)
    phone.control.set_fault("battery_rise_c_per_s", 0.5)
    with Sampler(dev, default_probes(CHROME), 1.0, lambda row: store.append_samples([row])) as sampler:
        started = time.monotonic()  # just after the sampler's own t=0: kill times come out early, not late
        time.sleep(3.5)
        killed_at = time.monotonic() - started
        assert phone.control.kill_renderer(CHROME), "the fake had no Chrome renderer to kill"
        time.sleep(5.0)
    store.update_manifest(lambda m: m.update(sampler_cost=sampler.cost(), renderers_killed_at_s=killed_at))

    again = RunStore.open(store.run_dir)
    by: dict[str, list[dict]] = {}
    for r in again.samples():
        assert r["ok"], r
        by.setdefault(r["probe"], []).append(r)
    killed_at = again.manifest()["renderers_killed_at_s"]

    status = [r["data"]["status"] for r in by["thermal"]]
    assert status == sorted(status) and status[-1] > status[0], status
    temps = [r["data"]["temperature_c"] for r in by["battery"]]
    assert temps == sorted(temps) and temps[-1] > temps[0], temps

    def renderers(row: dict) -> list[str]:
        return [n for n in row["data"]["processes"] if ":sandboxed_process" in n]

    before = [r for r in by["meminfo"] if r["t_s"] + r["cost_s"] < killed_at]
    after = [r for r in by["meminfo"] if r["t_s"] > killed_at + 0.5]
    assert before and after, [(r["t_s"], renderers(r)) for r in by["meminfo"]]
    assert all(renderers(r) for r in before) and not any(renderers(r) for r in after)
    assert all(CHROME in r["data"]["processes"] for r in after)  # the browser process lives on
    assert after[-1]["data"]["total_pss_kb"] < before[-1]["data"]["total_pss_kb"]
