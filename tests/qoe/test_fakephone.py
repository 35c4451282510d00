"""`mwi qoe` on the fake phone end to end: the QoE page opens in the phone's browser over adb reverse,
the host's `adb shell input tap X Y` reaches that page (the fake phone turns it into a real press in
its Chromium), and a runtime that cannot run in a Web Worker (LiteRT.js) records `unsupported` there."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.sweep_helpers import read_results, run_mwi

pytestmark = pytest.mark.browser


def test_qoe_cells_run_on_a_phone_with_taps_through_input_tap(fake_phone, tmp_path):
    pixel = fake_phone("pixel")
    spec = tmp_path / "qoe.toml"
    spec.write_text("qoe_rounds = 2\n")   # a short window: this checks the path, not the numbers
    proc = run_mwi("qoe", "--spec", str(spec), "--target", pixel.serial, "--models", "tiny_cnn", "--runtimes", "litert", "--backends",
                   "wasm", "--threads", "1", "--repeats", "1", "--browsers", "com.android.chrome",
                   "--no-capabilities", "--cooldown-timeout", "20", "--no-html", "--out", str(tmp_path), timeout=400)
    run_dir = Path(proc.stdout.strip().splitlines()[-1])
    recs = {r["cell"]["qoe_mode"]: r for r in read_results(run_dir)}
    assert set(recs) == {"baseline", "main", "worker"} and all(r["cell"]["kind"] == "qoe" for r in recs.values())
    taps = [c for c in pixel.commands if c.startswith("input tap ")]
    assert taps and all(re.fullmatch(r"input tap \d+ \d+", c) for c in taps)
    for mode in ("baseline", "main"):
        q = recs[mode]["qoe"]
        assert recs[mode]["status"] == "ok", recs[mode]["error"]
        assert q["tap_source"] == "adb shell input tap" and q["taps_sent"] >= 1
        assert q["taps"], f"{mode}: no tap reached the page"   # timed in the page: timestamp -> handler
        assert all(t["delay_ms"] >= 0 for t in q["taps"])
        assert all(t["on_pad"] for t in q["taps"]), q["taps"]   # screen pixels -> the page's pad, through the browser's UI
        assert q["first_tap_wait_ms"] is not None   # the rounds began once taps were landing
    assert recs["main"]["qoe"]["inferences"] > 0
    worker = recs["worker"]
    assert worker["status"] == "unsupported" and "cannot run in a Web Worker" in worker["error"]
    rows = json.loads(run_mwi("report", str(run_dir), "--json", "--no-html").stdout)
    by_mode = {r["qoe_mode"]: r for r in rows}
    assert by_mode["main"]["gui_delay_pct"] is not None and by_mode["main"]["inferences_per_s"] > 0
    assert "unsupported" in by_mode["worker"]["flags"]
    assert not any(f == "no-taps-reached-page" or f.startswith("taps-off-pad") for f in by_mode["main"]["flags"])
