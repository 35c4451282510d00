"""A phone that drifts on purpose (issue 21): the fake phone slows its renderers and its
benchmark_model together (x1.0 -> x0.6 mid-cell, tests/fakephone/drift.py).  The paired gap of the
rounds after the step stays within 3 % of the same cell's undisturbed rounds before it; the unpaired
gap (the browser's median against a native reference measured in another window, as every unpaired
sweep does) moves by the slowdown.  A first, undisturbed run gives that reference.

The phone runs at a fixed nominal speed from the start (drift "1.0@0": its renderers and its own
process, where benchmark_model runs, share a CPU cgroup with half a core's quota and high shares, so
the host's load does not set its speed), then its quota steps to 0.6 of that: both sides' medians
should take 1 / 0.6 as long, and the test checks that they do before it judges the gaps.  Skipped
where cgroups are not writable (the signals fallback cannot slow a median by a set factor).

Slow (a model whose inferences span several of the group's 5 ms periods, MobileNetV2 by default:
`MWI_DRIFT_MODEL`; two sweeps of about a minute each) and reads real latencies: MWI_SLOW=1.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import time
from pathlib import Path

import pytest

from tests.fakephone.drift import cgroup_writable
from tests.sweep_helpers import MWI, read_results, run_mwi

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not os.environ.get("MWI_SLOW"), reason="reads real latencies: set MWI_SLOW=1")]

MODEL = os.environ.get("MWI_DRIFT_MODEL", "mobilenet_v2")
BUDGET_S = 20  # seconds of rounds per cell
STEP_S = 7.0   # the step, this long after the drift run's first native block


def _args(phone, bm_binary, out: Path, *extra: str) -> list[str]:
    return ["sweep", "--target", phone.serial, "--models", MODEL, "--runtimes", "litert", "--backends", "wasm",
            "--threads", "1", "--repeats", "1", "--native-backends", "xnnpack", "--benchmark-model", str(bm_binary),
            "--cooldown-timeout", "20", "--pair-round", "0.5", "--time-budget", str(BUDGET_S), "--precision", "0",
            "--iterations", "100000", "--no-html", "--no-capabilities", "--out", str(out), *extra]


def _records(run_dir: Path) -> tuple[Path, dict, dict | None]:
    recs = read_results(run_dir)
    browser = next(r for r in recs if r["cell"]["runtime"] == "litert")
    native = next((r for r in recs if r["cell"]["runtime"] == "tflite-native"), None)
    assert browser["status"] == "ok" and browser["pairing"]["mode"] == "benchmark_model-chunks", browser.get("error")
    return run_dir, browser, native


def test_step_slowdown_mid_cell_moves_the_unpaired_gap_not_the_paired_one(fake_phone, tmp_path, bm_binary):
    if not cgroup_writable():
        pytest.skip("needs a writable CPU cgroup (/sys/fs/cgroup/cpu, as root) to give the phone a set speed")
    phone = fake_phone("pixel")
    phone.control.set_fault("drift", "1.0@0")  # the nominal speed, from before the first run
    time.sleep(0.5)
    proc = run_mwi(*_args(phone, bm_binary, tmp_path / "steady"))
    _, b0, n0 = _records(Path(proc.stdout.strip().splitlines()[-1]))
    assert n0 is not None and n0["status"] == "ok"
    native_ms = n0["latency_summary_ms"]["median"]
    g0 = b0["pairing"]["gap"]
    u0 = statistics.median(b0["latencies_ms"]) / native_ms
    seen = len(phone.commands)
    sweep = subprocess.Popen(MWI + _args(phone, bm_binary, tmp_path / "drift", "--no-native"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:  # the step lands mid-cell: STEP_S after the first native block of the rounds
        t_end = time.monotonic() + 300
        while not any("--max_secs=0.5" in c for c in phone.commands[seen:]):
            assert sweep.poll() is None and time.monotonic() < t_end, "the paired cell never began its rounds"
            time.sleep(0.2)
        time.sleep(STEP_S)
        phone.control.set_fault("drift", "0.6@0")
        out, err = sweep.communicate(timeout=600)
    finally:
        if sweep.poll() is None:
            sweep.kill()
    assert sweep.returncode == 0, err[-2000:]
    _, b1, _ = _records(Path(out.strip().splitlines()[-1]))
    rounds = b1["pairing"]["rounds"]
    for x in b0["pairing"]["rounds"] + [{}] + rounds:  # shown when it fails
        print({k: x.get(k) for k in ("browser_start_s", "browser_median_ms", "native_median_ms", "browser_n")})
    # Before / after the step, inside the drifting cell: its rounds that ended before the step (it came
    # STEP_S after the first native block began, or up to ~1 s later: the poll and the control channel)
    # against those that began after it.  The same page load on both sides of the step: a browser's
    # speed also differs from one page load to the next by up to ~30 % here (var_between_loads), which
    # no pairing removes, so the undisturbed paired gap is this load's own, before the step.
    step = rounds[0]["native_start_s"] + STEP_S
    pre = [x for x in rounds if x["native_end_s"] < step]
    post = [x for x in rounds if x["browser_start_s"] > step + 1.0]
    assert len(pre) >= 3 and len(post) >= 3, (len(pre), len(post))

    def med(xs, key):
        return statistics.median(x[key] for x in xs)

    slow = {side: med(post, f"{side}_median_ms") / med(pre, f"{side}_median_ms") for side in ("browser", "native")}
    gap_pre = statistics.median(x["browser_median_ms"] / x["native_median_ms"] for x in pre)
    gap_post = statistics.median(x["browser_median_ms"] / x["native_median_ms"] for x in post)
    g1 = b1["pairing"]["gap"]
    u1 = statistics.median(b1["latencies_ms"]) / native_ms  # against the reference measured before the step
    print(json.dumps({"slowdown": slow, "expected": 1 / 0.6, "rounds_pre_post": [len(pre), len(post)],
                      "paired_gap_pre_post": [gap_pre, gap_post], "paired_gap_runs": [g0, g1],
                      "unpaired_gap_runs": [u0, u1]}))
    for side, f in slow.items():  # the fake phone did slow both sides by the schedule's factor
        assert 1.4 <= f <= 2.0, f"the {side} median slowed x{f:.2f}, not x{1 / 0.6:.2f}"
    assert abs(gap_post / gap_pre - 1) <= 0.03, (gap_pre, gap_post)
    assert abs(u1 / u0 - 1) >= 0.10, (u0, u1)
