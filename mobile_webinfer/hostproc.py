"""This host's processes from /proc: the tree below a pid, command lines, PSS and RSS.

Base layer: the browser launcher (to find Chromium's children) and the host memory probe
(to sum their memory) both read /proc through these helpers.
"""

from __future__ import annotations

import os


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
