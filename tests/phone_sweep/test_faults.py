"""Faults during a phone sweep, each a test: a phone drops away, a renderer dies, the phone
throttles, the battery never cools, the page never posts, the adb server restarts, Ctrl-C."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.sweep_helpers import MWI, interruptible
from tests.sweep_helpers import read_results as _records
from tests.sweep_helpers import wait_for as _wait_for

pytestmark = pytest.mark.browser
COMMON = ["--models", "tiny_cnn", "--threads", "1", "--quick", "--cooldown-timeout", "20", "--browsers", "com.android.chrome",
          "--no-capabilities"]  # these tests count page opens: no probe page first


def _start(*args) -> subprocess.Popen:
    return subprocess.Popen(MWI + ["sweep", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=interruptible)


def _finish(proc: subprocess.Popen, timeout=600) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def _run_dir(tmp_path: Path, timeout=120) -> Path:
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        runs = list((tmp_path / "runs").glob("*")) if (tmp_path / "runs").exists() else []
        if runs:
            return runs[0]
        time.sleep(0.2)
    raise AssertionError("no run directory appeared")


def _am_starts(phone) -> int:
    return sum(1 for c in phone.commands if c.startswith("am start"))


def test_one_phone_disconnects_other_finishes_resume_completes(fake_phone, tmp_path, bm_binary):
    pixel, galaxy = fake_phone("pixel"), fake_phone("galaxy")
    proc = _start("--target", pixel.serial, "--target", galaxy.serial, *COMMON, "--runtimes", "tfjs",
                  "--backends", "wasm", "--repeats", "2", "--native-backends", "cpu",
                  "--benchmark-model", str(bm_binary), "--boot-timeout", "10", "--out", str(tmp_path))
    try:
        _wait_for(lambda: _am_starts(pixel) >= 1, 180, "pixel's first page")
        pixel.control.go_offline()  # unplugged mid-sweep
        rc, out, err = _finish(proc)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert rc == 3, err[-2000:]
    run_dir = Path(out.strip().splitlines()[-1])
    assert pixel.serial in err and "--resume" in err
    recs = _records(run_dir)
    gal = [r for r in recs if r["cell"]["target"] == galaxy.serial]
    assert len(gal) == 2 + 2 and all(r["status"] == "ok" for r in gal)  # native x2 + chrome x2: finished
    pix = [r for r in recs if r["cell"]["target"] == pixel.serial]
    # the lost phone's cells are measured ones, or recorded skipped-device-lost once it was quarantined
    assert sum(r["status"] == "ok" for r in pix) < 4 and len({r["key"] for r in pix}) <= 4
    assert all(r["status"] == "ok" or r["error_kind"] == "skipped-device-lost" for r in pix)
    m = json.loads((run_dir / "manifest.json").read_text())
    assert any(f["target"] == pixel.serial for f in m["target_failures"])
    pixel.control.come_online()
    pixel.reconnect()
    p2 = subprocess.run(MWI + ["sweep", "--resume", str(run_dir)], capture_output=True, text=True, timeout=600)
    assert p2.returncode == 0, p2.stderr[-2000:]
    final = {r["key"]: r for r in _records(run_dir)}  # a key recorded again: the last record wins
    assert len(final) == 8 and all(r["status"] == "ok" for r in final.values())
    measured = [r["key"] for r in _records(run_dir) if r["status"] == "ok"]
    assert len(measured) == len(set(measured)) == 8  # nothing measured twice


def test_unplugged_phone_is_quarantined_within_60s(fake_phone, tmp_path):
    pixel = fake_phone("pixel")
    proc = _start("--target", pixel.serial, *COMMON, "--no-native", "--runtimes", "tfjs", "--backends", "wasm",
                  "--repeats", "6", "--cooldown-timeout", "600", "--on-hot", "skip", "--boot-timeout", "20",
                  "--out", str(tmp_path))
    try:
        run_dir = _run_dir(tmp_path, 180)
        _wait_for(lambda: len(_records(run_dir)) >= 1, 180, "the first cell")
        pixel.control.go_offline()  # unplugged, and it stays away
        t0 = time.monotonic()
        rc, out, err = _finish(proc, timeout=300)
        took = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        pixel.control.come_online()
    assert rc == 3 and "--resume" in err, err[-2000:]
    assert took < 60, f"the lost phone's worker took {took:.0f} s to end"
    recs = _records(run_dir)
    lost = [r for r in recs if r.get("error_kind") == "skipped-device-lost"]
    assert lost and all(r["status"] == "skipped" and "skipped-device-lost" in r["flags"] for r in lost)
    assert not any(r.get("error_kind") == "too-hot" for r in recs)  # never a run of too-hot records
    assert len({r["key"] for r in recs}) == 6


def test_renderer_killed_mid_cell_fails_that_cell_only(fake_phone, tmp_path):
    pixel = fake_phone("pixel")
    proc = _start("--target", pixel.serial, *COMMON, "--no-native", "--runtimes", "tfjs", "--backends", "wasm",
                  "--repeats", "2", "--time-budget", "8", "--iterations", "100000", "--precision", "0", "--out", str(tmp_path))
    try:
        _wait_for(lambda: _am_starts(pixel) >= 1, 180, "first page")

        def polls_since_start():  # mwi watches the renderers with `ps` while it waits for the page
            cmds = pixel.commands
            first = next(i for i, c in enumerate(cmds) if c.startswith("am start"))
            return sum(1 for c in cmds[first:] if c.startswith("ps -A"))

        _wait_for(lambda: polls_since_start() >= 2, 120, "mwi to see the renderer")
        killed = _wait_for(lambda: pixel.control.kill_renderer("com.android.chrome"), 30, "a renderer to kill")
        assert killed
        rc, out, err = _finish(proc)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert rc == 0, err[-2000:]
    recs = sorted(_records(Path(out.strip().splitlines()[-1])), key=lambda r: r["cell"]["repeat"])
    assert [r["status"] for r in recs] == ["error", "ok"]
    assert recs[0]["error_kind"] == "renderer-crashed" and "renderer" in recs[0]["error"]
    assert "renderer-crashed" in recs[0]["flags"]
    assert recs[1]["latencies_ms"]


def test_thermal_jump_mid_cell_is_rerun_after_cooldown(fake_phone, tmp_path):
    pixel = fake_phone("pixel")
    proc = _start("--target", pixel.serial, *COMMON, "--no-native", "--runtimes", "tfjs", "--backends", "wasm",
                  "--repeats", "1", "--time-budget", "6", "--iterations", "100000", "--precision", "0", "--out", str(tmp_path))
    try:
        _wait_for(lambda: _am_starts(pixel) >= 1, 180, "first page")
        pixel.control.set_fault("thermal_status", 3)  # SEVERE, mid-cell
        time.sleep(5)
        pixel.control.set_fault("thermal_status", None)  # cools down again
        rc, out, err = _finish(proc)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert rc == 0, err[-2000:]
    (rec,) = _records(Path(out.strip().splitlines()[-1]))
    assert rec["status"] == "ok"
    assert rec["attempts"][0]["status"] == "throttled" and rec["attempts"][0]["thermal_status_max"] == 3
    assert "rerun-after-throttle" in rec["flags"] and "thermal-throttled" not in rec["flags"]
    assert _am_starts(pixel) == 2
    _discarded_try_samples_kept_apart(Path(out.strip().splitlines()[-1]), rec)


def _discarded_try_samples_kept_apart(run_dir: Path, rec: dict) -> None:
    """Issue 22 item 8: the hot try's samples carry attempt 1, the re-run's attempt 2; samples.parquet
    marks only the stored try `final`, and the hot try's thermal status 3 is not in what plots read."""
    import pyarrow.compute as pc

    from mobile_webinfer.htmlreport.parquet import PLOT_SAMPLE_COLUMNS, read_samples
    from mobile_webinfer.store import RunStore

    rows = [r for r in RunStore.open(run_dir).samples() if r.get("key") == rec["key"]]
    hot = [r for r in rows if r.get("attempt") == 1]
    assert hot and [r for r in rows if r.get("attempt") == 2] and {r.get("attempt") for r in rows} == {1, 2}
    assert any(r["probe"] == "thermal" and r["ok"] and r["data"]["status"] == 3 for r in hot)
    subprocess.run(MWI + ["report", str(run_dir), "--json"], capture_output=True, text=True, check=True)
    t = read_samples(run_dir / "samples.parquet", columns=(*PLOT_SAMPLE_COLUMNS, "attempt"))
    final = t.filter(pc.equal(t.column("final"), True))
    assert set(final.column("attempt").to_pylist()) == {2} and 1 in set(t.column("attempt").to_pylist())
    assert 3 not in set(final.column("thermal_status").to_pylist())


def test_thermal_jump_flagged_when_policy_is_flag(fake_phone, tmp_path):
    pixel = fake_phone("pixel")
    proc = _start("--target", pixel.serial, *COMMON, "--no-native", "--runtimes", "tfjs", "--backends", "wasm",
                  "--repeats", "1", "--time-budget", "6", "--iterations", "100000", "--precision", "0", "--on-throttle", "flag",
                  "--out", str(tmp_path))
    try:
        _wait_for(lambda: _am_starts(pixel) >= 1, 180, "first page")
        pixel.control.set_fault("thermal_status", 4)
        rc, out, err = _finish(proc)
    finally:
        pixel.control.set_fault("thermal_status", None)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert rc == 0, err[-2000:]
    (rec,) = _records(Path(out.strip().splitlines()[-1]))
    assert "thermal-throttled" in rec["flags"] and not rec.get("attempts")  # flagged, not re-run
    rows = json.loads(subprocess.run(MWI + ["report", out.strip().splitlines()[-1], "--json"], capture_output=True,
                                     text=True, check=True).stdout)
    assert rows[0]["thermal_status_max"] == 4


@pytest.mark.parametrize("policy", ["flag", "skip"])
def test_battery_never_cools_bounded_wait_and_marked(fake_phone, tmp_path, policy):
    galaxy = fake_phone("galaxy", battery_temp_c=41.0)
    t0 = time.monotonic()
    p = subprocess.run(MWI + ["sweep", "--target", galaxy.serial, "--models", "tiny_cnn", "--threads", "1", "--quick",
                              "--no-native", "--runtimes", "tfjs", "--backends", "wasm", "--browsers",
                              "com.android.chrome", "--cooldown-timeout", "4", "--on-hot", policy,
                              "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert p.returncode == (0 if policy == "flag" else 5), p.stderr[-2000:]  # 5: nothing measured
    (rec,) = _records(Path(p.stdout.strip().splitlines()[-1]))
    cd = rec["context"]["cooldown"]
    assert cd["ok"] is False and 4 <= cd["waited_s"] < 15 and cd["battery_temp_c"] == pytest.approx(41.0)
    assert "41" in cd["reason"]
    assert "phone-never-cooled" in rec["flags"]
    assert rec["status"] == ("ok" if policy == "flag" else "skipped")
    assert time.monotonic() - t0 < 200


def test_page_never_posts_watchdog_force_stops(fake_phone, tmp_path):
    pixel = fake_phone("pixel")
    p = subprocess.run(MWI + ["sweep", "--target", pixel.serial, *COMMON, "--no-native", "--runtimes", "tfjs",
                              "--backends", "wasm", "--repeats", "1", "--time-budget", "60", "--iterations", "1000000", "--precision", "0",
                              "--cell-timeout", "6", "--out", str(tmp_path)], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 5, p.stderr[-2000:]  # its one cell failed: nothing measured
    (rec,) = _records(Path(p.stdout.strip().splitlines()[-1]))
    assert rec["status"] == "error" and rec["error_kind"] == "watchdog"
    assert 6 <= rec["wall_s"] < 40
    cmds = pixel.commands
    last_start = max(i for i, c in enumerate(cmds) if c.startswith("am start"))
    assert any(c.startswith("am force-stop com.android.chrome") for c in cmds[last_start:])
    assert "com.android.chrome" not in pixel.control.browsers()


def test_adb_server_restarted_mid_sweep_reconnects(fake_phone, adb_server, tmp_path):
    pixel = fake_phone("pixel")
    proc = _start("--target", pixel.serial, *COMMON, "--no-native", "--runtimes", "tfjs", "--backends", "wasm",
                  "--repeats", "3", "--out", str(tmp_path))
    try:
        run_dir = _run_dir(tmp_path, 180)
        _wait_for(lambda: len(_records(run_dir)) >= 1, 180, "the first cell")
        adb_server.adb("kill-server", check=False)
        rc, out, err = _finish(proc)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        if pixel.serial not in adb_server.devices():
            pixel.reconnect()
    assert rc == 0, err[-3000:]
    recs = _records(run_dir)
    keys = [r["key"] for r in recs]
    assert len(keys) == len(set(keys)) == 3
    assert all(r["status"] == "ok" for r in recs), [r.get("error") for r in recs]
    # the reverse mapping was made again after the restart and is gone again now
    assert pixel.adb("reverse", "--list").stdout.strip() == ""


def test_ctrl_c_restores_the_phone_and_keeps_finished_cells(fake_phone, tmp_path):
    pixel = fake_phone("pixel")
    settings_before = pixel.control.settings()
    proc = _start("--target", pixel.serial, *COMMON, "--no-native", "--runtimes", "tfjs", "--backends", "wasm",
                  "--repeats", "4", "--out", str(tmp_path))
    try:
        run_dir = _run_dir(tmp_path, 180)
        _wait_for(lambda: len(_records(run_dir)) >= 1 and _am_starts(pixel) >= 2, 180, "the second cell")
        os.killpg(proc.pid, signal.SIGINT)
        rc, out, err = _finish(proc, timeout=180)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert rc != 0
    assert pixel.control.settings() == settings_before, err[-3000:]
    assert pixel.adb("reverse", "--list").stdout.strip() == ""
    assert "com.android.chrome" not in pixel.control.browsers()
    done = _records(run_dir)
    assert 1 <= len(done) < 4 and all(r["status"] == "ok" for r in done)
    p2 = subprocess.run(MWI + ["sweep", "--resume", str(run_dir)], capture_output=True, text=True, timeout=600)
    assert p2.returncode == 0, p2.stderr[-2000:]
    keys = [r["key"] for r in _records(run_dir)]
    assert len(keys) == len(set(keys)) == 4


def test_hard_kill_is_undone_by_the_next_run(fake_phone, tmp_path):
    pixel = fake_phone("pixel")
    before = pixel.control.settings()
    env = dict(os.environ, MWI_CACHE=str(tmp_path / "cache"))  # the restore journal lives in the cache
    args = MWI + ["sweep", "--target", pixel.serial, *COMMON, "--no-native", "--runtimes", "tfjs", "--backends",
                  "wasm", "--repeats", "3", "--out", str(tmp_path)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    try:
        _wait_for(lambda: _am_starts(pixel) >= 1, 180, "the first page")
        os.killpg(proc.pid, signal.SIGKILL)  # no finally runs: the phone keeps its changed settings
        proc.wait()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    changed = pixel.control.settings()
    assert changed != before  # brightness / stay-on were changed and not restored
    assert list((tmp_path / "cache" / "restore").glob("*.json"))
    run_dir = _run_dir(tmp_path, 10)
    p2 = subprocess.run(MWI + ["sweep", "--resume", str(run_dir)], capture_output=True, text=True, timeout=600,
                        env=env)
    assert p2.returncode == 0, p2.stderr[-2000:]
    assert pixel.control.settings() == before
    assert not list((tmp_path / "cache" / "restore").glob("*.json"))
    m = json.loads((run_dir / "manifest.json").read_text())
    restored = m["targets"][pixel.serial]["restored_from_journal"]["restored"]
    assert "system/screen_brightness" in restored
    assert pixel.adb("reverse", "--list").stdout.strip() == ""


@pytest.mark.parametrize("policy", ["wait", "flag"])
def test_low_battery_phone_is_not_measured_or_is_flagged(fake_phone, tmp_path, policy):
    galaxy = fake_phone("galaxy")
    galaxy.adb("shell", "dumpsys", "battery", "set", "level", "20")
    p = subprocess.run(MWI + ["sweep", "--target", galaxy.serial, "--models", "tiny_cnn", "--threads", "1", "--quick",
                              "--no-native", "--runtimes", "tfjs", "--backends", "wasm", "--browsers",
                              "com.android.chrome", "--cooldown-timeout", "3", "--on-low-battery", policy,
                              "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert p.returncode == (5 if policy == "wait" else 0), p.stderr[-2000:]  # 5: nothing measured
    (rec,) = _records(Path(p.stdout.strip().splitlines()[-1]))
    assert "low-battery" in rec["flags"] and rec["context"]["battery_level_start"] == pytest.approx(20)
    assert rec["context"]["charging"] in (True, False)  # the charging state is stored with the cell
    if policy == "wait":  # waited (bounded) for a charge that never came: not measured
        assert rec["status"] == "skipped" and rec["error_kind"] == "low-battery" and not rec.get("latencies_ms")
        assert rec["context"]["low_battery_waited_s"] >= 3
    else:
        assert rec["status"] == "ok" and rec["latencies_ms"]


def test_watchdog_follows_progress_not_the_clock(fake_phone, tmp_path):
    """A page that keeps posting progress runs past the stall bound; a page that goes silent (its
    renderer frozen with SIGSTOP, still alive) fails `stalled` after the bound, not after the ceiling."""
    pixel = fake_phone("pixel")
    args = ["--target", pixel.serial, *COMMON, "--no-native", "--runtimes", "tfjs", "--backends", "wasm",
            "--repeats", "1", "--iterations", "1000000", "--precision", "0", "--stall-timeout", "4", "--out", str(tmp_path)]
    p = subprocess.run(MWI + ["sweep", *args, "--time-budget", "9"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    (rec,) = _records(Path(p.stdout.strip().splitlines()[-1]))
    assert rec["status"] == "ok" and rec["wall_s"] > 9  # steady progress: never cut at 4 s
    proc = _start(*args, "--time-budget", "60", "--cell-timeout", "600")
    try:
        _wait_for(lambda: _am_starts(pixel) >= 2, 180, "the second page")

        time.sleep(3)  # let the page run and post progress first
        assert _wait_for(lambda: pixel.control.freeze_renderer("com.android.chrome"), 60, "a renderer to freeze")
        t0 = time.monotonic()
        rc, out, err = _finish(proc)
        took = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert rc == 5, err[-2000:]  # its one cell stalled: nothing measured
    rec = [r for r in _records(Path(out.strip().splitlines()[-1]))][-1]
    assert rec["status"] == "error" and rec["error_kind"] == "stalled", rec.get("error")
    assert took < 60  # the stall bound, not the 600 s ceiling


def test_dead_adb_reverse_fails_the_cell_in_seconds(fake_phone, tmp_path):
    pixel = fake_phone("pixel")
    pixel.control.set_fault("reverse_dropped", True)  # `adb reverse` says OKAY and maps nothing
    t0 = time.monotonic()
    p = subprocess.run(MWI + ["sweep", "--target", pixel.serial, *COMMON, "--no-native", "--runtimes", "tfjs",
                              "--backends", "wasm", "--repeats", "1", "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=300)
    took = time.monotonic() - t0
    pixel.control.set_fault("reverse_dropped", False)
    assert p.returncode == 5, p.stderr[-2000:]  # its one cell failed: nothing measured
    (rec,) = _records(Path(p.stdout.strip().splitlines()[-1]))
    assert rec["status"] == "error" and rec["error_kind"] == "reverse-unavailable", rec.get("error")
    assert "reverse --list" in rec["error"]
    assert rec["wall_s"] < 10 and took < 120  # seconds, not a watchdog timeout
    assert not any(c.startswith("am start") for c in pixel.commands)  # no page opened into the void
