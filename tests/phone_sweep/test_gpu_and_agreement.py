"""Issue 22 item 7: a GPU context lost mid-cell fails the cell `gpu-context-lost` (fake phone, real
Chromium, WebGL lost through WEBGL_lose_context); outputs past the model's tolerance make a cell
`invalid` with the reason (local target), so a fast wrong number is never published valid."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.sweep_helpers import MWI, interruptible
from tests.sweep_helpers import read_results as _records
from tests.sweep_helpers import run_mwi as _mwi

pytestmark = pytest.mark.browser


def test_a_lost_webgl_context_fails_the_cell_gpu_context_lost(fake_phone, tmp_path):
    pixel = fake_phone("pixel")
    proc = subprocess.Popen(MWI + ["sweep", "--target", pixel.serial, "--models", "tiny_cnn", "--threads", "1", "--quick",
                                   "--no-native", "--runtimes", "tfjs", "--backends", "webgl", "--browsers",
                                   "com.android.chrome", "--no-capabilities", "--repeats", "1", "--time-budget", "30",
                                   "--iterations", "1000000", "--precision", "0", "--cooldown-timeout", "20",
                                   "--out", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=interruptible)
    try:
        lost, t_end = "", time.monotonic() + 240
        while not lost and time.monotonic() < t_end and proc.poll() is None:
            time.sleep(0.5)
            try:
                lost = pixel.control.lose_gpu_context("com.android.chrome")
            except Exception:  # noqa: BLE001 - no page yet: the fake's DevTools answers once the browser runs
                lost = ""
        assert lost == "webgl", "the page never had a WebGL context to lose"
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    (rec,) = _records(Path(out.strip().splitlines()[-1]))
    assert rec["status"] == "error" and rec["error_kind"] == "gpu-context-lost", rec.get("error")
    assert "WebGL context lost" in rec["error"] and not rec.get("latencies_ms")
    assert "gpu-context-lost" in rec["flags"] and rec["validity"] == "invalid"


def test_outputs_past_the_models_tolerance_make_the_cell_invalid(tmp_path):
    from mobile_webinfer.models.build import ensure_built

    src = ensure_built("tiny_cnn").dir
    models = tmp_path / "models"
    shutil.copytree(src, models / src.name)
    mf = models / src.name / "manifest.json"
    data = json.loads(mf.read_text())
    data["agreement_tolerance_rel"] = 1e-15  # the model's own tolerance: float rounding alone is past it
    mf.write_text(json.dumps(data))
    env = {**os.environ, "MWI_MODELS_DIR": str(models)}
    proc = _mwi("sweep", "--quick", "--models", "tiny_cnn", "--runtimes", "tfjs", "--backends", "wasm", "--threads",
                "1", "--no-native", "--no-capabilities", "--out", str(tmp_path / "out"), env=env)
    run_dir = Path(proc.stdout.strip().splitlines()[-1])
    (rec,) = _records(run_dir)
    assert rec["status"] == "ok" and rec["agreement"]["ok"] is True and rec["agreement"]["max_abs_diff"] > 0
    assert "outputs-disagree" in rec["flags"] and rec["validity"] == "invalid"
    assert rec["browser_flags"]["asked"] > 5 and rec["browser_flags"]["missing"] == []  # read back from chrome://version
    assert "outputs-disagree" in rec["validity_reasons"] and "allowed 1e-15 relative" in rec["disagreement"]
    (row,) = json.loads(_mwi("report", str(run_dir), "--json", env=env).stdout)
    assert row["validity"] == "invalid" and "outputs-disagree" in row["validity_reasons"]
