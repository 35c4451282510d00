"""The plan `--dry-run` prints is exactly what a run stores; Ctrl-C during a cool-down wait
ends the sweep at once with every phone restored."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.sweep_helpers import MWI, interruptible, read_results, run_mwi

pytestmark = pytest.mark.browser
SMALL = ["--models", "tiny_cnn", "--runtimes", "tfjs", "--backends", "wasm", "--quick", "--repeats", "1",
         "--iterations", "3"]


def _dry_run_keys(*args: str) -> set[str]:
    p = run_mwi("sweep", *args, "--dry-run", timeout=300)
    lines = p.stdout.strip().splitlines()
    assert lines[-1].endswith("min") and int(lines[-1].split()[0]) == len(lines) - 1
    return set(lines[:-1])


def _stored_keys(tmp_path: Path, *args: str) -> set[str]:
    p = run_mwi("sweep", *args, "--out", str(tmp_path), timeout=900)
    return {r["key"] for r in read_results(Path(p.stdout.strip().splitlines()[-1]))}


@pytest.mark.parametrize("extra", [["--threads", "1,2"], ["--threads", "1", "--no-native"],
                                   ["--threads", "1", "--native-backends", "cpu,xnnpack"]])
def test_local_dry_run_is_the_plan_the_run_stores(tmp_path, extra):
    args = ["--target", "local", *SMALL, *extra]
    planned = _dry_run_keys(*args)
    assert planned and planned == _stored_keys(tmp_path, *args)


def test_two_phone_dry_run_is_the_plan_the_run_stores(fake_phone, tmp_path, bm_binary):
    pixel, galaxy = fake_phone("pixel"), fake_phone("galaxy")
    args = ["--target", pixel.serial, "--target", galaxy.serial, *SMALL, "--threads", "1",
            "--native-backends", "cpu", "--benchmark-model", str(bm_binary), "--cooldown-timeout", "20"]
    planned = _dry_run_keys(*args)
    # every installed measurable browser of each phone (not "Chrome" whatever the phone has)
    assert {k.split("|")[1] for k in planned if k.startswith(galaxy.serial)} >= {"com.sec.android.app.sbrowser"}
    assert {k.split("|")[4] for k in planned if "|native|" in k} == {"cpu"}
    assert planned == _stored_keys(tmp_path, *args)
    chrome_only = _dry_run_keys(*args, "--browsers", "com.android.chrome")
    assert {k.split("|")[1] for k in chrome_only} == {"com.android.chrome", "native"}
    assert _dry_run_keys(*args, "--no-native") == {k for k in planned if "|native|" not in k}


def test_ctrl_c_during_cooldown_ends_within_5s_and_restores(fake_phone, tmp_path):
    pixel = fake_phone("pixel", battery_temp_c=44.0)
    galaxy = fake_phone("galaxy", battery_temp_c=44.0)
    before = {p.serial: p.control.settings() for p in (pixel, galaxy)}
    proc = subprocess.Popen(MWI + ["sweep", "--target", pixel.serial, "--target", galaxy.serial, *SMALL,
                                   "--threads", "1", "--no-native", "--browsers", "com.android.chrome",
                                   "--cooldown-timeout", "600", "--out", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=interruptible)
    try:
        t_end = time.monotonic() + 180
        # both phones are in the gate: their battery is being polled and no page was opened
        while time.monotonic() < t_end and not all(
                sum("dumpsys battery" in c for c in p.commands) >= 2 for p in (pixel, galaxy)):
            time.sleep(0.2)
        assert not any(c.startswith("am start") for p in (pixel, galaxy) for c in p.commands)
        t0 = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        took = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode != 0
    assert took < 5.0, f"Ctrl-C took {took:.1f} s during the cool-down wait"
    for p in (pixel, galaxy):
        assert p.control.settings() == before[p.serial]
        assert p.adb("reverse", "--list").stdout.strip() == ""
