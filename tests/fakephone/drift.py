"""A phone that drifts on purpose (issue 21): "the phone" slows down on a schedule, the browser's
renderers and the native benchmark_model together.

``Faults.drift`` is a schedule ``"1.0@0,0.6@20"``: speed 1.0 from the moment it is set, 0.6 from 20 s
later (real seconds).  Two ways to slow the phone, chosen when a drift is first set:

- ``cgroup`` (where /sys/fs/cgroup/cpu is writable, as root on cgroup v1): while a drift is set, the
  fake phone's own process (its benchmark_model runs in it) and the main thread of every renderer of
  its browsers (where the page's inferences run; the browsers' other processes and threads are kept
  out, ``place``) run in one child CPU group whose CFS quota is ``NOMINAL_CPU x speed`` of one core per ``CG_PERIOD_US``.
  The group has a high cpu.shares, so on a busy host it still gets its quota: the phone has a fixed
  nominal speed (half a core at 1.0), independent of the host's load, and at speed s both sides'
  inferences (every one that spans a few 5 ms periods) take 1 / s as long, median included.
  benchmark_model is not slowed a second time.  The group is emptied and removed when the phone stops.
- ``signals`` (fallback): every renderer is duty-cycled with SIGSTOP / SIGCONT (s x ``PERIOD_S`` on,
  the rest off; an inference much shorter than the period is hit or missed whole, so the median of
  short inferences barely moves) and benchmark_model's inferences take 1 / s as long (the fake's own
  spin).  Tests that judge medians need the cgroup mode (``cgroup_writable()``) and skip without it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

PERIOD_S = 0.01  # one duty cycle (signals mode); a phone's DVFS / scheduler acts at about this grain
CGROUP_ROOT = "/sys/fs/cgroup/cpu"
NOMINAL_CPU = 0.5  # cgroup mode: the phone's CPU at speed 1.0, in cores (binding on a busy 2-core host)
CG_PERIOD_US = 5000  # cgroup mode: CFS period (the quota at the slowest speed, 0.05, is clamped to 1 ms)
CG_SHARES = 262144  # the group wins the host's contention up to its quota: a nominal speed


class CpuGroup:
    """A child CPU cgroup (v1) whose quota sets the phone's speed; ``create`` returns None where
    cgroups are not writable."""

    def __init__(self, path: str, root: str):
        self.path, self.root = path, root

    @classmethod
    def create(cls, root: str = CGROUP_ROOT) -> CpuGroup | None:
        path = os.path.join(root, f"mwi-fakephone-{os.getpid()}-{time.monotonic_ns() % 10**9}")
        try:
            os.mkdir(path)
        except OSError:
            return None
        g = cls(path, root)
        try:
            g._put("cpu.cfs_period_us", CG_PERIOD_US)
            g._put("cpu.shares", CG_SHARES)
            g.set_speed(1.0)
        except OSError:
            g.remove()
            return None
        return g

    def _put(self, name: str, value: int) -> None:
        with open(os.path.join(self.path, name), "w") as f:
            f.write(str(value))

    def set_speed(self, speed: float) -> None:
        self._put("cpu.shares", CG_SHARES)
        self._put("cpu.cfs_quota_us", max(1000, round(NOMINAL_CPU * speed * CG_PERIOD_US)))

    def release(self) -> None:
        """No drift set: unthrottled, ordinary shares."""
        self._put("cpu.cfs_quota_us", -1)
        self._put("cpu.shares", 1024)

    def add(self, pid: int) -> None:
        """Move a process (all its threads) into the group; a process gone meanwhile is skipped."""
        try:
            self._put("cgroup.procs", pid)
        except OSError:
            pass

    def add_thread(self, tid: int) -> None:
        """Move one thread into the group (its process's other threads stay where they are)."""
        try:
            self._put("tasks", tid)
        except OSError:
            pass

    def out_thread(self, tid: int) -> None:
        try:
            with open(os.path.join(self.root, "tasks"), "w") as f:
                f.write(str(tid))
        except OSError:
            pass

    def tids(self) -> list[int]:
        try:
            with open(os.path.join(self.path, "tasks")) as f:
                return [int(x) for x in f.read().split()]
        except OSError:
            return []

    def pids(self) -> list[int]:
        try:
            with open(os.path.join(self.path, "cgroup.procs")) as f:
                return [int(x) for x in f.read().split()]
        except OSError:
            return []

    def remove(self) -> None:
        """Move every process back to the root group and remove the group."""
        for _ in range(5):
            for tid in self.tids():
                try:
                    with open(os.path.join(self.root, "tasks"), "w") as f:
                        f.write(str(tid))
                except OSError:
                    pass
            try:
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.05)


def cgroup_writable(root: str = CGROUP_ROOT) -> bool:
    """Whether the cgroup mode is available here (a probe group is created and removed)."""
    g = CpuGroup.create(root)
    if g is None:
        return False
    g.remove()
    return True


def parse_schedule(text: str) -> list[tuple[float, float]]:
    """``"1.0@0,0.6@20"`` -> [(0.0, 1.0), (20.0, 0.6)] sorted by time; ValueError on bad input."""
    steps = []
    for part in text.split(","):
        speed, _, at = part.strip().partition("@")
        s, t = float(speed), float(at or 0)
        if not 0.05 <= s <= 1.0 or t < 0:
            raise ValueError(f"drift step {part!r}: speed must be in [0.05, 1], time >= 0")
        steps.append((t, s))
    return sorted(steps)


def speed_at(steps: list[tuple[float, float]], t: float) -> float:
    s = 1.0
    for at, speed in steps:
        if t >= at:
            s = speed
    return s


class DutyCycler:
    """Slows the phone's renderers and its own process while a drift is set (module docstring).

    The /proc walk for renderers (and, in signals mode, the stopping and continuing) runs in a child
    process (`python -m tests.fakephone.drift STATE`): a thread of the fake phone itself would fight
    the fake benchmark_model's inference loop for Python's GIL and slow the native side by more than
    the schedule says.  The fake's own thread writes the state file (the speed, the browsers' root pids,
    the group) and, in cgroup mode, sets the group's quota and moves the phone's own process into it."""

    def __init__(self, phone: Any):
        self.phone = phone
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fakephone-drift", daemon=True)
        self._dir = tempfile.mkdtemp(prefix="fakephone-drift-")
        self.state = os.path.join(self._dir, "state.json")
        self._proc: subprocess.Popen[bytes] | None = None
        self.mode = "cgroup" if cgroup_writable() else "signals"
        self.group: CpuGroup | None = None

    def start(self) -> DutyCycler:
        self._thread.start()  # the child (and the group) start the first time a drift is set
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()  # its handler continues every process it may have stopped
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        if self.group is not None:
            self.group.remove()
        shutil.rmtree(self._dir, ignore_errors=True)

    def _write(self, speed: float, roots: list[int]) -> None:
        tmp = self.state + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"speed": speed, "roots": roots, "group": self.group.path if self.group else ""}, f)
        os.replace(tmp, self.state)

    def _run(self) -> None:
        last: tuple[bool, float, list[int]] | None = None
        while not self._stop.wait(0.1):
            drifting = self.phone.faults.drift is not None
            s = self.phone.faults.current_speed()
            if self._proc is None and (s < 1.0 or (drifting and self.mode == "cgroup")):
                if self.mode == "cgroup":
                    self.group = CpuGroup.create()
                    if self.group is None:  # became unwritable since the probe
                        self.mode = "signals"
                self._write(1.0, [])
                self._proc = subprocess.Popen([sys.executable, "-m", "tests.fakephone.drift", self.state],
                                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL)
                if self.group is not None:  # after the child started: the child stays outside
                    self.group.add(os.getpid())
            if self._proc is None:
                continue
            with self.phone._lock:  # the browsers' root pids only: the child finds their renderers
                roots = sorted(inst.pid for inst in self.phone.browsers.values())
            if (drifting, s, roots) != last:
                if self.group is not None and drifting:
                    self.group.set_speed(s)
                elif self.group is not None:
                    self.group.release()
                self._write(s, roots)
                last = (drifting, s, roots)


def _signal(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _renderers(roots: list[int]) -> list[int]:  # signals mode
    from .browser import _process_type, descendants

    return [pid for root in roots for pid in descendants(root) if _process_type(pid) == "renderer"]


def place(group: CpuGroup, roots: list[int]) -> None:
    """cgroup mode: each renderer's main thread (it runs the page's inferences) in the group, and
    every other thread of the browsers out of it.  A browser the phone started after it joined the
    group was born in it: its browser, GPU and network processes, and the renderers' compositor, IO
    and GC threads, would otherwise share the quota, and their per-second costs (60 frames a second,
    the turns' HTTP) would slow the browser side by more than the speed says."""
    from .browser import _process_type, descendants

    inside = set(group.tids())
    for root in roots:
        for pid in descendants(root):
            main = _process_type(pid) == "renderer"
            if main and pid not in inside:
                group.add_thread(pid)
            try:
                tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
            except OSError:
                continue
            for tid in tids:
                if tid in inside and not (main and tid == pid):
                    group.out_thread(tid)


def cycle(state: str) -> int:
    """The child: read the state file, duty-cycle the browsers' renderers at its speed, until told to stop."""
    done = threading.Event()
    pids: list[int] = []
    roots: list[int] = []
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    read_at = walked_at = 0.0
    speed = 1.0
    group: CpuGroup | None = None
    try:
        while not done.is_set():
            now = time.monotonic()
            if now - read_at > 0.05:
                try:
                    with open(state) as f:
                        d = json.load(f)
                    speed, new_roots = float(d["speed"]), [int(p) for p in d["roots"]]
                    if d.get("group") and group is None:
                        group = CpuGroup(str(d["group"]), CGROUP_ROOT)
                except (OSError, ValueError, KeyError):
                    new_roots = roots
                if new_roots != roots:
                    roots, walked_at = new_roots, 0.0
                read_at = now
            if group is not None:  # cgroup mode: new renderers join the group; the quota does the rest
                if now - walked_at > 0.3:
                    place(group, roots)
                    walked_at = now
                time.sleep(0.05)
                continue
            if speed < 1.0 and now - walked_at > 0.5:
                pids, walked_at = _renderers(roots), now
            if speed >= 1.0 or not pids:
                time.sleep(PERIOD_S)
                continue
            time.sleep(PERIOD_S * speed)
            _signal(pids, signal.SIGSTOP)
            try:
                time.sleep(PERIOD_S * (1 - speed))
            finally:
                _signal(pids, signal.SIGCONT)
    finally:
        _signal(pids, signal.SIGCONT)
    return 0


if __name__ == "__main__":
    sys.exit(cycle(sys.argv[1]))
