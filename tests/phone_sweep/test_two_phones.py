"""`mwi sweep` on two fake phones over the real adb server: browsers through adb reverse in real
headless Chromium, native benchmark_model cells, sampling, cool-down records, agreement."""

import json
from pathlib import Path

import pytest

from tests.sweep_helpers import read_results as _records
from tests.sweep_helpers import run_mwi as _mwi

pytestmark = pytest.mark.browser


def test_two_phones_chrome_and_samsung_internet(fake_phone, tmp_path, bm_binary):
    pixel = fake_phone("pixel")
    galaxy = fake_phone("galaxy")
    proc = _mwi("sweep", "--target", pixel.serial, "--target", galaxy.serial, "--models", "tiny_cnn",
                "--runtimes", "tfjs,ort", "--backends", "wasm", "--threads", "1", "--repeats", "1", "--quick",
                "--native-backends", "cpu,gpu", "--benchmark-model", str(bm_binary), "--cooldown-timeout", "20",
                "--out", str(tmp_path))
    run_dir = Path(proc.stdout.strip().splitlines()[-1])
    recs = _records(run_dir)
    by_target = {}
    for r in recs:
        by_target.setdefault(r["cell"]["target"], []).append(r)
    assert set(by_target) == {pixel.serial, galaxy.serial}
    assert sorted(p.name for p in run_dir.glob("results*.jsonl")) == sorted(
        f"results.{s.replace(':', '_')}.jsonl" for s in (pixel.serial, galaxy.serial))
    for serial, rs in by_target.items():
        assert all(r["status"] == "ok" for r in rs), [(r["key"], r.get("error")) for r in rs if r["status"] != "ok"]
        browsers = {r["cell"]["browser"] for r in rs if r["cell"]["runtime"] != "tflite-native"}
        assert "com.android.chrome" in browsers
        for r in rs:
            assert r["context"]["cooldown"]["ok"] is True and "cooldown_s" in r["context"]
            if r["cell"]["runtime"] == "tflite-native":
                assert r["latency_summary_ms"]["avg"] > 0 and r["first_inference_ms"] > 0
                if r["cell"]["backend"] == "gpu":  # delegate coverage parsed, labelled honestly
                    eff = r["in_effect"]
                    assert eff["nodes_total"] and eff["nodes_delegated"] is not None
                    assert (eff["backend"] == "gpu") == (eff["nodes_delegated"] == eff["nodes_total"])
            else:
                assert r["agreement"]["ok"] and r["agreement"]["max_abs_diff"] < 1e-4
                assert r["agreement"]["reference"] == "host-native"
                assert r["memory"]["peak_total_mb"] > 0 and r["memory"]["samples"] >= 1
    galaxy_browsers = {r["cell"]["browser"] for r in by_target[galaxy.serial]}
    assert "com.sec.android.app.sbrowser" in galaxy_browsers
    samples = [json.loads(l) for l in (run_dir / "samples.jsonl").read_text().splitlines()]
    probes = {s["probe"] for s in samples}
    assert {"meminfo", "thermal", "battery"} <= probes
    rows = json.loads(_mwi("report", str(run_dir), "--json").stdout)
    for r in rows:
        for k in ("target", "browser", "thermal_status_max", "battery_temp_start_c", "battery_temp_max_c",
                  "cooldown_s"):
            assert k in r
    native = [r for r in rows if r["runtime"] == "tflite-native"]
    assert {r["backend"] for r in native} == {"cpu", "gpu"}
    web = [r for r in rows if r["runtime"] != "tflite-native"]
    assert all(r["gap"] and r["native_median_ms"] for r in web)
    m = json.loads((run_dir / "manifest.json").read_text())
    assert m["targets"][pixel.serial]["model"] == "Pixel 3"
    assert m["targets"][galaxy.serial]["manufacturer"].lower() == "samsung"
    # the capability matrix: every phone browser probed once, through adb reverse
    for ph in (pixel, galaxy):
        caps = m["capabilities"][ph.serial]
        assert set(caps) == {r["cell"]["browser"] for r in by_target[ph.serial]} - {"native"}
        for browser, c in caps.items():
            assert "error" not in c, (browser, c)
            assert c["cross_origin_isolated"] is True and c["wasm"]["simd"] is True and c["hardware_concurrency"]
    # the phones are left as found: no reverse mappings, browsers stopped
    for ph in (pixel, galaxy):
        assert ph.adb("reverse", "--list").stdout.strip() == ""
