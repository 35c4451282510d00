"""Memory of a process tree on this host, as a probe the one `Sampler` runs.

Chromium runs a browser process, renderers, a GPU process, utilities and zygotes; the
study compares the peak of all of them with the model's size.  PSS adds up across
processes without double counting shared pages, so totals use PSS; RSS is kept beside it.
"""

from __future__ import annotations

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
    """PSS / RSS of every process `pids()` lists, by Chromium process type."""

    name = "procmem"
    default_interval_s = 0.2

    def __init__(self, pids: Callable[[], Iterable[int]]):
        self.pids = pids

    def sample(self, device: ShellLike) -> TreeMemory:
        by_type: dict[str, float] = {}
        rss_total = pss_total = 0.0
        n = 0
        for pid in self.pids():
            pss, rss = pss_rss_kb(pid)
            if pss is None and rss is None:
                continue  # exited between listing and reading
            kind = process_type(read_cmdline(pid))
            mb = (pss if pss is not None else (rss or 0)) / 1024.0
            by_type[kind] = by_type.get(kind, 0.0) + mb
            pss_total += mb
            rss_total += (rss or 0) / 1024.0
            n += 1
        return TreeMemory(round(pss_total, 3), round(rss_total, 3), {k: round(v, 3) for k, v in by_type.items()}, n)


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
