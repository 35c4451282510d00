"""Locks (issue 12 item 4): one process per run directory and per phone, tested with real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mobile_webinfer.errors import LockBusy
from mobile_webinfer.locks import (
    device_lock,
    device_lock_path,
    read_holder,
    run_lock,
    run_lock_path,
)

REPO = Path(__file__).resolve().parents[2]

HOLDER = textwrap.dedent("""
    import sys
    from mobile_webinfer.locks import device_lock, run_lock
    kind, name = sys.argv[1], sys.argv[2]
    with (device_lock(name) if kind == "device" else run_lock(name)):
        print("held", flush=True)
        sys.stdin.readline()          # hold until told (or killed)
    print("released", flush=True)
""")

CONTENDER = textwrap.dedent("""
    import sys
    from mobile_webinfer.errors import LockBusy
    from mobile_webinfer.locks import device_lock, run_lock
    kind, name = sys.argv[1], sys.argv[2]
    try:
        with (device_lock(name) if kind == "device" else run_lock(name)):
            print("got it", flush=True)
    except LockBusy as exc:
        print(exc.one_line(), flush=True)
        sys.exit(7)
""")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MWI_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _env(cache: Path) -> dict[str, str]:
    return {**os.environ, "MWI_CACHE": str(cache), "PYTHONPATH": str(REPO)}


def _start_holder(cache: Path, kind: str, name: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, kind, name], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=_env(cache), cwd=REPO)
    assert proc.stdout is not None
    line = proc.stdout.readline()          # blocks until the child holds the lock (or dies)
    assert line.strip() == "held", f"holder did not start: {line!r}"
    return proc


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)


def test_second_process_on_same_phone_fails_at_once_naming_the_holder(cache):
    holder = _start_holder(cache, "device", "R58M12345")
    try:
        assert read_holder(device_lock_path("R58M12345")) == holder.pid
        t0 = time.monotonic()
        with pytest.raises(LockBusy) as ei, device_lock("R58M12345"):
            pass
        assert time.monotonic() - t0 < 2.0                      # at once, not after a wait
        assert ei.value.holder_pid == holder.pid
        line = ei.value.one_line()
        assert f"pid {holder.pid}" in line and "phone R58M12345" in line and "\n" not in line
        # another phone is free meanwhile
        with device_lock("emulator-5554") as held:
            assert held.pid == os.getpid()
        # and a second *process* is refused the same way, with a one-line message
        out = subprocess.run([sys.executable, "-c", CONTENDER, "device", "R58M12345"], capture_output=True,
                             text=True, env=_env(cache), cwd=REPO, timeout=60, check=False)
        assert out.returncode == 7, out.stderr
        assert f"pid {holder.pid}" in out.stdout and out.stdout.count("\n") == 1
    finally:
        _stop(holder)


def test_lock_released_when_holder_ends_or_is_killed(cache, tmp_path):
    run_dir = tmp_path / "out" / "runs" / "r1"
    run_dir.mkdir(parents=True)
    holder = _start_holder(cache, "run", str(run_dir))
    assert holder.stdin is not None and holder.stdout is not None
    holder.stdin.write("\n")
    holder.stdin.flush()
    assert holder.stdout.readline().strip() == "released"
    holder.wait(timeout=10)
    with run_lock(run_dir):                       # a clean exit frees it
        assert read_holder(run_lock_path(run_dir)) == os.getpid()
    assert read_holder(run_lock_path(run_dir)) is None   # no stale pid left behind

    holder = _start_holder(cache, "run", str(run_dir))
    os.kill(holder.pid, signal.SIGKILL)           # a hard kill: the kernel drops the flock
    holder.wait(timeout=10)
    with run_lock(run_dir) as held:
        assert held.pid == os.getpid()


def test_run_dir_lock_keyed_by_resolved_path(cache, tmp_path):
    a = tmp_path / "runs" / "a"
    a.mkdir(parents=True)
    holder = _start_holder(cache, "run", str(a))
    try:
        # the same directory through another spelling is the same lock
        with pytest.raises(LockBusy, match=f"pid {holder.pid}"), run_lock(tmp_path / "runs" / "." / "a"):
            pass
        b = tmp_path / "runs" / "b"
        b.mkdir()
        with run_lock(b):
            pass
    finally:
        _stop(holder)


def test_same_process_cannot_take_a_lock_twice(cache):
    with device_lock("R1"), pytest.raises(LockBusy, match=f"pid {os.getpid()}"), device_lock("R1"):
        pass
    with device_lock("R1"):      # released after the outer block
        pass
