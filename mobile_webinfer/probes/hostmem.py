"""Memory of a process tree on this host, as a probe the one `Sampler` runs.

Chromium runs a browser process, renderers, a GPU process, utilities and zygotes; the
study compares the peak of all of them with the model's size.  PSS adds up across
processes without double counting shared pages, so totals use PSS; RSS is kept beside it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import UsageError
from ..hostproc import process_type, pss_rss_kb, read_cmdline
from ..records import Memory
from .base import Probe, ShellLike, ShellResultLike


class _Host:
    """This computer as the sampler's device: host probes read /proc and run no shell."""

    serial = "local"

    def shell(self, argv: list[str], *, timeout: float = 30.0, check: bool = True) -> ShellResultLike:
        raise UsageError("host probes read /proc; they run no shell command")


HOST: ShellLike = _Host()


@dataclass(frozen=True)
class TreeMemory:
    total_pss_mb: float
    total_rss_mb: float
    by_type_mb: Mapping[str, float]
    processes: int

    def to_json(self) -> dict[str, Any]:
        return {"total_pss_mb": self.total_pss_mb, "total_rss_mb": self.total_rss_mb,
                "by_type_mb": dict(self.by_type_mb), "processes": self.processes}


class ProcessTreeMemoryProbe(Probe):
    """PSS / RSS of every process `pids()` lists, by Chromium process type.

    Cheap enough to run beside a measurement: a PSS read (/proc/PID/smaps_rollup) walks the
    process's page tables under its mmap lock, ~5 ms of CPU per Chromium process, and at five
    samples a second it took 15-25% of a core and stalled the page's own mmap / munmap
    (benchmarks/bench_perturbation).  So every sample reads each process's RSS (/proc/PID/statm,
    constant cost) and re-reads its PSS only when that RSS rose `RSS_STEP_KB` above its value at
    the last PSS read (a peak: read fresh, at most every `PSS_MIN_GAP_S`), or that read is older
    than `PSS_MAX_AGE_S`; in between, PSS moves with RSS (PSS then + RSS now - RSS then: private
    pages, the wasm and JS heaps, count in both alike), so a heap the GC swings up and down by a
    few MB per inference no longer costs a page-table walk each tick.  The process list is
    re-listed at most every `PIDS_EVERY_S`."""

    name = "procmem"
    default_interval_s = 0.2
    RSS_STEP_KB = 1024
    PSS_MAX_AGE_S = 10.0
    PSS_MIN_GAP_S = 1.0
    PIDS_EVERY_S = 1.0

    def __init__(self, pids: Callable[[], Iterable[int]], *, clock: Callable[[], float] = time.monotonic):
        self.pids = pids
        self._clock = clock
        self.reset()

    def reset(self) -> None:
        self._listed: list[int] = []
        self._listed_at: float | None = None
        self._pss: dict[int, tuple[int | None, int, float]] = {}  # pid -> (pss kB, rss kB then, when)
        self._kinds: dict[int, str] = {}
        self.pss_reads = 0

    def _pid_list(self, now: float) -> list[int]:
        if self._listed_at is None or now - self._listed_at >= self.PIDS_EVERY_S:
            self._listed, self._listed_at = list(self.pids()), now
        return self._listed

    def sample(self, device: ShellLike) -> TreeMemory:
        by_type: dict[str, float] = {}
        rss_total = pss_total = 0.0
        n = 0
        now = self._clock()
        for pid in self._pid_list(now):
            rss = _statm_rss_kb(pid)
            last = self._pss.get(pid)
            if rss is None or last is None or now - last[2] >= self.PSS_MAX_AGE_S \
                    or (rss >= last[1] + self.RSS_STEP_KB and now - last[2] >= self.PSS_MIN_GAP_S):
                pss, rss_roll = pss_rss_kb(pid)
                self.pss_reads += 1
                if pss is None and rss_roll is None:
                    self._pss.pop(pid, None)
                    continue  # exited between listing and reading
                rss = rss if rss is not None else rss_roll
                self._pss[pid] = (pss, rss or 0, now)
            else:
                pss = None if last[0] is None else max(0, last[0] + rss - last[1])
            if pid not in self._kinds:
                self._kinds[pid] = process_type(read_cmdline(pid))
            kind = self._kinds[pid]
            mb = (pss if pss is not None else (rss or 0)) / 1024.0
            by_type[kind] = by_type.get(kind, 0.0) + mb
            pss_total += mb
            rss_total += (rss or 0) / 1024.0
            n += 1
        return TreeMemory(round(pss_total, 3), round(rss_total, 3), {k: round(v, 3) for k, v in by_type.items()}, n)


_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024 if hasattr(os, "sysconf") else 4


def _statm_rss_kb(pid: int) -> int | None:
    """Resident set size from /proc/PID/statm (kernel counters: no page-table walk), or None."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * _PAGE_KB
    except (OSError, ValueError, IndexError):
        return None


def memory_peaks(rows: Iterable[Mapping[str, Any]], interval_s: float) -> Memory:
    """Peaks over the `procmem` rows of one cell (a row with no processes does not count)."""
    ok = [r["data"] for r in rows if r.get("probe") == ProcessTreeMemoryProbe.name and r.get("ok")
          and (r.get("data") or {}).get("processes")]
    cost = round(sum(float(r.get("cost_s") or 0) for r in rows if r.get("probe") == ProcessTreeMemoryProbe.name), 4)
    if not ok:
        return Memory(peak_total_mb=None, peak_by_type_mb={}, source="proc-smaps_rollup",
                      extra={"peak_total_rss_mb": None, "samples": 0, "sampler_cost_s": cost})
    by_type: dict[str, float] = {}
    for d in ok:
        for k, v in d["by_type_mb"].items():
            by_type[k] = max(by_type.get(k, 0.0), v)
    return Memory(peak_total_mb=max(d["total_pss_mb"] for d in ok), peak_by_type_mb=by_type,
                  source="proc-smaps_rollup (PSS)",
                  extra={"peak_total_rss_mb": max(d["total_rss_mb"] for d in ok), "samples": len(ok),
                         "interval_s": interval_s, "sampler_cost_s": cost})
