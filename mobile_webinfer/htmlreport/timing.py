"""Where a report's time goes: named phases, timed only while `recording()` is on (the benchmark).

    with recording() as phases:
        write_report(run_dir)
    phases  # {"samples: parse JSON": Phase(wall_s=..., cpu_s=...), ...}

`cpu_s` is the CPU time of the thread that ran the phase (phases run on two threads at once).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass
class Phase:
    wall_s: float = 0.0
    cpu_s: float = 0.0
    calls: int = 0


_lock = threading.Lock()
_active: dict[str, Phase] | None = None


@contextlib.contextmanager
def recording() -> Iterator[dict[str, Phase]]:
    """Record every `phase` run inside the block (any thread) into the dict it yields."""
    global _active
    out: dict[str, Phase] = {}
    with _lock:
        _active = out
    try:
        yield out
    finally:
        with _lock:
            _active = None


@contextlib.contextmanager
def phase(name: str) -> Iterator[None]:
    if _active is None:
        yield
        return
    t0, c0 = time.perf_counter(), time.thread_time()
    try:
        yield
    finally:
        wall, cpu = time.perf_counter() - t0, time.thread_time() - c0
        with _lock:
            if _active is not None:
                p = _active.setdefault(name, Phase())
                p.wall_s += wall
                p.cpu_s += cpu
                p.calls += 1
