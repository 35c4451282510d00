"""Memory of a process tree from /proc: PSS (smaps_rollup) and RSS per process, by type.

Chromium runs a browser process, renderers, a GPU process, utilities and zygotes; the
study compares the peak of all of them with the model's size.  PSS adds up across
processes without double counting shared pages, so totals use PSS; RSS is kept beside it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


def process_type(cmdline: list[str]) -> str:
    """Chromium process type from its command line: browser, renderer, gpu, utility, zygote, other."""
    # Chromium's children rewrite their argv into one space-separated string
    for arg in " ".join(cmdline).split():
        if arg.startswith("--type="):
            t = arg.split("=", 1)[1]
            return {"gpu-process": "gpu", "renderer": "renderer", "utility": "utility",
                    "zygote": "zygote"}.get(t, "other")
    return "browser"


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def read_cmdline(pid: int) -> list[str]:
    raw = _read(f"/proc/{pid}/cmdline")
    return [a for a in raw.split("\0") if a] if raw else []


def read_ppid(pid: int) -> int | None:
    stat = _read(f"/proc/{pid}/stat")
    if not stat:
        return None
    rest = stat[stat.rfind(")") + 2:].split()
    try:
        return int(rest[1])
    except (IndexError, ValueError):
        return None


def descendants(root: int) -> list[int]:
    """`root` and every process below it (from /proc ppid links)."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            pid = int(name)
            ppid = read_ppid(pid)
            if ppid is not None:
                children.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def pss_rss_kb(pid: int) -> tuple[int | None, int | None]:
    pss = rss = None
    roll = _read(f"/proc/{pid}/smaps_rollup")
    if roll:
        for line in roll.splitlines():
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
            elif line.startswith("Rss:"):
                rss = int(line.split()[1])
    if rss is None:
        status = _read(f"/proc/{pid}/status")
        if status:
            for line in status.splitlines():
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
    return pss, rss


@dataclass
class ProcMemSampler:
    """Samples the process tree given by `pids()` every `interval_s` on a thread."""

    pids: Callable[[], list[int]]
    interval_s: float = 0.2
    samples: list[dict] = field(default_factory=list)
    cost_s: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _t0: float = 0.0

    def sample_once(self) -> dict:
        t = time.monotonic()
        by_type: dict[str, float] = {}
        rss_total = pss_total = 0.0
        procs = []
        for pid in self.pids():
            pss, rss = pss_rss_kb(pid)
            if pss is None and rss is None:
                continue  # exited between listing and reading
            kind = process_type(read_cmdline(pid))
            mb = (pss if pss is not None else rss) / 1024.0
            by_type[kind] = by_type.get(kind, 0.0) + mb
            pss_total += mb
            rss_total += (rss or 0) / 1024.0
            procs.append({"pid": pid, "type": kind, "pss_mb": round(mb, 3)})
        row = {"t_s": round(t - self._t0, 4), "total_pss_mb": round(pss_total, 3),
               "total_rss_mb": round(rss_total, 3), "by_type_mb": {k: round(v, 3) for k, v in by_type.items()},
               "processes": len(procs)}
        self.cost_s += time.monotonic() - t
        return row

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append(self.sample_once())
            except Exception as exc:  # noqa: BLE001 - a failing sample becomes an event row
                self.samples.append({"t_s": round(time.monotonic() - self._t0, 4), "error": repr(exc)})
            self._stop.wait(self.interval_s)

    def __enter__(self) -> "ProcMemSampler":
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name="mwi-procmem", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def peaks(self) -> dict:
        ok = [s for s in self.samples if "error" not in s]
        if not ok:
            return {"peak_total_mb": None, "peak_total_rss_mb": None, "peak_by_type_mb": {}, "samples": 0,
                    "source": "proc-smaps_rollup", "sampler_cost_s": round(self.cost_s, 4)}
        by_type: dict[str, float] = {}
        for s in ok:
            for k, v in s["by_type_mb"].items():
                by_type[k] = max(by_type.get(k, 0.0), v)
        return {"peak_total_mb": max(s["total_pss_mb"] for s in ok),
                "peak_total_rss_mb": max(s["total_rss_mb"] for s in ok),
                "peak_by_type_mb": by_type, "samples": len(ok), "interval_s": self.interval_s,
                "source": "proc-smaps_rollup (PSS)", "sampler_cost_s": round(self.cost_s, 4)}
