"""Helpers shared by the end-to-end sweep tests (local target and fake phones)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

MWI = [sys.executable, "-m", "mobile_webinfer"]


def run_mwi(*args: str, timeout: float = 900, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    """`mwi ARGS` in a child process; with check, a non-zero exit fails the test with its output."""
    proc = subprocess.run(MWI + list(args), capture_output=True, text=True, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"mwi {' '.join(args)} exited {proc.returncode}:\n{proc.stdout[-4000:]}\n"
                             f"{proc.stderr[-4000:]}")
    return proc


def interruptible() -> None:
    """`preexec_fn` for a sweep a test will Ctrl-C: SIGINT back to its default, as a terminal's
    process gets it.  A shell that starts a job in the background without job control (`cmd &` in
    a script, `nohup`) has the job ignore SIGINT, Python keeps an inherited SIG_IGN, and the
    test's Ctrl-C would then test the launcher instead of mwi."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def read_results(run_dir: Path) -> list[dict]:
    """Every record of every results shard, in file order; a torn line (a killed writer) is skipped."""
    out = []
    for shard in sorted(Path(run_dir).glob("results*.jsonl")):
        for line in shard.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def wait_for(pred, timeout: float, what: str):
    """pred()'s first truthy value, polled every 0.2 s; an AssertionError naming `what` past `timeout` s."""
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")
