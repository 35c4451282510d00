"""`dumpsys meminfo <package>` / `dumpsys meminfo --package <package>` (Android 4.3 to 16).

Every process block is read::

    ** MEMINFO in pid 14449 [com.android.chrome:privileged_process0] **
                       Pss  Private  Private     Swap      Rss     Heap     Heap     Heap
                     Total    Dirty    Clean    Dirty    Total     Size    Alloc     Free
                    ------   ------   ------   ------   ------   ------   ------   ------
      Native Heap     3426     3368        0        0     7588    13372     6716     2587
            TOTAL    29036    12624      464        0   207800    15851     8576     3206
     App Summary
                           Pss(KB)                        Rss(KB)
                            ------                         ------
               Java Heap:     2332                          42376
               TOTAL PSS:    29036            TOTAL RSS:   207800      TOTAL SWAP (KB):        0

Columns are named from the two header lines (they differ by version: 4.3 `Pss/Shared Dirty/...`,
4.4-10 `Pss Total/Private Dirty/Private Clean/Swap(ped|Pss) Dirty/Heap*`, 11+ adds `Rss Total`,
`-a`/`-d` gives 11 columns); rows are looked up by name, never by position.
`TOTAL PSS` includes swap PSS where the kernel reports it (`SwapPss Dirty` column).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import ParseError
from ._common import check_text, first_content_line, lines_of

_BLOCK_RE = re.compile(r"^\*\*\s*MEMINFO in pid (\d+) \[(.*)\]\s*\*\*\s*$")
_DASHES_RE = re.compile(r"^\s*-{3,}(?:\s+-{3,})*\s*$")
_ROW_RE = re.compile(r"^\s*(?P<label>\S(?:.*?\S)?)\s+(?P<nums>-?\d+(?:\s+-?\d+)*)\s*$")
_UPTIME_RE = re.compile(r"Uptime:\s*(\d+)\s+Realtime:\s*(\d+)")
_SUMMARY_ROW_RE = re.compile(r"^\s*(?P<label>[A-Za-z][A-Za-z ]*?):(?P<rest>(?:\s+\d+)*)\s*$")
_OBJ_RE = re.compile(r"([A-Za-z][A-Za-z ]*?):\s+(\d+)")
_NOT_FOUND_RE = re.compile(r"^No process found for:?\s*(.*)$")

_COLUMN_NAMES = {
    ("pss", "total"): "pss", ("", "pss"): "pss", ("pss", ""): "pss",
    ("pss", "clean"): "pss_clean",
    ("shared", "dirty"): "shared_dirty", ("private", "dirty"): "private_dirty",
    ("shared", "clean"): "shared_clean", ("private", "clean"): "private_clean",
    ("swap", "dirty"): "swap_dirty", ("swapped", "dirty"): "swap_dirty",
    ("swappss", "dirty"): "swap_pss", ("swappss", ""): "swap_pss",
    ("rss", "total"): "rss", ("", "rss"): "rss",
    ("heap", "size"): "heap_size", ("heap", "alloc"): "heap_alloc", ("heap", "free"): "heap_free",
}

_SUMMARY_FIELDS = {
    "java heap": "java_heap_kb", "native heap": "native_heap_kb", "code": "code_kb",
    "stack": "stack_kb", "graphics": "graphics_kb", "private other": "private_other_kb",
    "system": "system_kb",
}

_SECTIONS = {"app summary", "dalvik details", "objects", "sql", "databases", "native allocations",
             "asset allocations", "unreachable memory"}

GRAPHICS_ROWS = ("Gfx dev", "EGL mtrack", "GL mtrack")


@dataclass(frozen=True)
class MemRow:
    """One row of the main table (or of Dalvik Details): kB per named column."""

    name: str
    values: dict[str, int] = field(default_factory=dict)

    def get(self, column: str) -> int | None:
        return self.values.get(column)

    def to_json(self) -> dict:
        return {"name": self.name, **self.values}


@dataclass(frozen=True)
class MemSummary:
    """The App Summary (Android 6.0+), PSS in kB; None where the layout has no value."""

    java_heap_kb: int | None = None
    native_heap_kb: int | None = None
    code_kb: int | None = None
    stack_kb: int | None = None
    graphics_kb: int | None = None
    private_other_kb: int | None = None
    system_kb: int | None = None
    rss_kb: dict[str, int] = field(default_factory=dict)  # Android 11+: RSS column by row name

    def to_json(self) -> dict:
        out = {k: getattr(self, k) for k in _SUMMARY_FIELDS.values()}
        out["rss_kb"] = dict(self.rss_kb)
        return out


@dataclass(frozen=True)
class ProcessMemory:
    """One `** MEMINFO in pid N [name] **` block."""

    pid: int
    name: str
    total_pss_kb: int
    total_rss_kb: int | None
    total_swap_pss_kb: int | None
    swap_is_pss: bool | None  # True: SwapPss (zram) ; False: `Swap Dirty`/`TOTAL SWAP (KB)`
    summary: MemSummary
    columns: tuple[str, ...]
    rows: tuple[MemRow, ...]
    dalvik_details: tuple[MemRow, ...] = ()
    objects: dict[str, int] = field(default_factory=dict)

    def row(self, name: str) -> MemRow | None:
        for r in self.rows:
            if r.name == name:
                return r
        return None

    @property
    def graphics_rows_pss_kb(self) -> int:
        """Gfx dev + EGL mtrack + GL mtrack PSS (0 without a memtrack HAL)."""
        total = 0
        for n in GRAPHICS_ROWS:
            row = self.row(n)
            if row is not None:
                total += row.get("pss") or 0
        return total

    def to_json(self) -> dict:
        return {
            "pid": self.pid, "name": self.name, "total_pss_kb": self.total_pss_kb,
            "total_rss_kb": self.total_rss_kb, "total_swap_pss_kb": self.total_swap_pss_kb,
            "swap_is_pss": self.swap_is_pss, "summary": self.summary.to_json(),
            "columns": list(self.columns), "rows": [r.to_json() for r in self.rows],
            "dalvik_details": [r.to_json() for r in self.dalvik_details], "objects": dict(self.objects),
        }


@dataclass(frozen=True)
class MeminfoReport:
    """All process blocks of one dump, in the order printed."""

    processes: tuple[ProcessMemory, ...]
    uptime_ms: int | None = None
    realtime_ms: int | None = None
    not_found: str | None = None  # `No process found for: X` (the package is not running)

    def by_name(self) -> dict[str, ProcessMemory]:
        return {p.name: p for p in self.processes}

    @property
    def total_pss_kb(self) -> int:
        """Sum over every process (Chrome: browser + renderers + GPU process)."""
        return sum(p.total_pss_kb for p in self.processes)

    def to_json(self) -> dict:
        return {"processes": [p.to_json() for p in self.processes], "uptime_ms": self.uptime_ms,
                "realtime_ms": self.realtime_ms, "not_found": self.not_found,
                "total_pss_kb": self.total_pss_kb}


def _column_ends(dash_line: str) -> list[int]:
    return [m.end() for m in re.finditer(r"-+", dash_line)]


def _tokens(line: str) -> list[tuple[str, int]]:
    return [(m.group(0), m.end()) for m in re.finditer(r"\S+", line)]


def _assign(tokens: list[tuple[str, int]], ends: list[int]) -> list[str] | None:
    """Place right-aligned words under the nearest column end; None when they do not line up."""
    out = [""] * len(ends)
    for word, end in tokens:
        best = min(range(len(ends)), key=lambda i: abs(ends[i] - end))
        if abs(ends[best] - end) > 3 or out[best]:
            return None
        out[best] = word
    return out


def _header_columns(headers: list[str], dash_line: str, source: str, lineno: int) -> tuple[str, ...]:
    ends = _column_ends(dash_line)
    n = len(ends)
    top_line, bottom_line = (headers[-2] if len(headers) >= 2 else ""), headers[-1]
    top = _assign(_tokens(top_line), ends) if top_line else [""] * n
    bottom = _assign(_tokens(bottom_line), ends)
    if top is None or bottom is None:  # alignment lost (hand copies): words right-aligned in order
        tw, bw = top_line.split(), bottom_line.split()
        if len(bw) != n or len(tw) > n:
            raise ParseError(f"meminfo table header does not match its {n} columns", source=source,
                             snippet=bottom_line, line=lineno)
        top, bottom = [""] * (n - len(tw)) + tw, bw
    names = []
    for t, b in zip(top, bottom, strict=False):
        key = (t.lower(), b.lower())
        name = _COLUMN_NAMES.get(key) or "_".join(x for x in key if x) or "col"
        while name in names:
            name += "_"
        names.append(name)
    return tuple(names)


def _row(line: str, columns: tuple[str, ...], source: str, lineno: int) -> MemRow | None:
    m = _ROW_RE.match(line)
    if not m:
        return None
    nums = [int(x) for x in m.group("nums").split()]
    if len(nums) > len(columns):
        raise ParseError(f"meminfo row has {len(nums)} values for {len(columns)} columns", source=source,
                         snippet=line.strip(), line=lineno)
    return MemRow(m.group("label"), dict(zip(columns, nums, strict=False)))


def _summary_values(line: str, ends: list[int], label: str) -> tuple[int | None, int | None]:
    """Pss and Rss of an App Summary row, placed by column position (`Unknown:` has only Rss)."""
    start = len(line) - len(line.lstrip()) + line.lstrip().index(":") + 1
    nums = [(m.group(0), start + m.end()) for m in re.finditer(r"\d+", line[start:])]
    if not nums:
        return None, None
    if len(ends) >= 2:
        placed = _assign(nums, ends[:2])
        if placed is not None:
            return (int(placed[0]) if placed[0] else None, int(placed[1]) if placed[1] else None)
        if len(nums) == 1 and label.lower() == "unknown":
            return None, int(nums[0][0])
    vals = [int(v) for v, _ in nums]
    return vals[0], (vals[1] if len(vals) > 1 else None)


def _parse_block(pid: int, name: str, lines: list[tuple[int, str]], source: str) -> ProcessMemory:
    i = 0
    n = len(lines)
    header: list[str] = []
    columns: tuple[str, ...] | None = None
    while i < n:
        lineno, ln = lines[i]
        if _DASHES_RE.match(ln):
            if not header:
                raise ParseError("meminfo table has no header line", source=source, snippet=ln, line=lineno)
            columns = _header_columns(header, ln, source, lineno)
            i += 1
            break
        if ln.strip():
            header.append(ln)
        i += 1
    if columns is None:
        snippet = next((t for _, t in lines if t.strip()), "")
        raise ParseError(f"process {pid} [{name}]: no meminfo table (expected a '------' column rule)",
                         source=source, snippet=snippet, line=lines[0][0] if lines else None)
    rows: list[MemRow] = []
    total: MemRow | None = None
    while i < n and total is None:
        lineno, ln = lines[i]
        i += 1
        if not ln.strip():
            continue
        r = _row(ln, columns, source, lineno)
        if r is None:
            raise ParseError("expected a meminfo table row ('<name>  <kB> ...')", source=source,
                             snippet=ln.strip(), line=lineno)
        rows.append(r)
        if r.name == "TOTAL":
            total = r
    if total is None:
        raise ParseError(f"process {pid} [{name}]: meminfo table ended before its TOTAL row", source=source,
                         line=lines[-1][0] if lines else None)
    if "pss" not in total.values:
        raise ParseError("meminfo TOTAL row has no Pss value", source=source, line=lines[i - 1][0])

    section = ""
    details: list[MemRow] = []
    summary_pss: dict[str, int] = {}
    summary_rss: dict[str, int] = {}
    summary_ends: list[int] = []
    objects: dict[str, int] = {}
    totals: dict[str, int] = {}
    while i < n:
        lineno, ln = lines[i]
        i += 1
        stripped = ln.strip()
        if not stripped:
            continue
        if stripped.lower() in _SECTIONS and ":" not in stripped:
            section = stripped.lower()
            continue
        if section == "dalvik details":
            r = _row(ln, columns, source, lineno)
            if r is not None:
                details.append(r)
        elif section == "app summary":
            if "TOTAL" in stripped and ":" in stripped:
                for key, rx in (("pss", r"TOTAL PSS:\s*(\d+)"), ("pss", r"TOTAL:\s*(\d+)"),
                                ("rss", r"TOTAL RSS:\s*(\d+)"), ("swap_pss", r"TOTAL SWAP PSS:\s*(\d+)"),
                                ("swap_kb", r"TOTAL SWAP \(KB\):\s*(\d+)")):
                    m = re.search(rx, stripped)
                    if m and key not in totals:
                        totals[key] = int(m.group(1))
                if "pss" not in totals:
                    raise ParseError("App Summary TOTAL line without a PSS value", source=source,
                                     snippet=stripped, line=lineno)
                section = ""
                continue
            if _DASHES_RE.match(ln):
                summary_ends = _column_ends(ln)
                continue
            m = _SUMMARY_ROW_RE.match(ln)
            if m:
                label = m.group("label").strip()
                pss, rss = _summary_values(ln, summary_ends, label)
                if pss is not None:
                    summary_pss[label.lower()] = pss
                if rss is not None:
                    summary_rss[label] = rss
        elif section == "objects":
            for k, v in _OBJ_RE.findall(ln):
                objects[k.strip()] = int(v)
    if summary_pss and "pss" not in totals:
        raise ParseError(f"process {pid} [{name}]: App Summary ended before its TOTAL line", source=source,
                         line=lines[-1][0])

    summary = MemSummary(**{f: summary_pss.get(label) for label, f in _SUMMARY_FIELDS.items()},
                         rss_kb=summary_rss)
    if "swap_pss" in totals:
        swap, swap_is_pss = totals["swap_pss"], True
    elif "swap_kb" in totals:
        swap, swap_is_pss = totals["swap_kb"], False
    elif "swap_pss" in total.values:
        swap, swap_is_pss = total.values["swap_pss"], True
    elif "swap_dirty" in total.values:
        swap, swap_is_pss = total.values["swap_dirty"], False
    else:
        swap, swap_is_pss = None, None
    return ProcessMemory(
        pid=pid, name=name, total_pss_kb=totals.get("pss", total.values["pss"]),
        total_rss_kb=totals.get("rss", total.values.get("rss")), total_swap_pss_kb=swap,
        swap_is_pss=swap_is_pss, summary=summary, columns=columns, rows=tuple(rows),
        dalvik_details=tuple(details), objects=objects,
    )


def parse_meminfo(text: str, source: str = "") -> MeminfoReport:
    """Parse `dumpsys meminfo <pkg>` or `--package <pkg>` output into per-process records."""
    text = check_text(text, source)
    all_lines = lines_of(text)
    uptime = realtime = None
    blocks: list[tuple[int, str, int, list[tuple[int, str]]]] = []
    for idx, ln in enumerate(all_lines, start=1):
        m = _BLOCK_RE.match(ln.strip())
        if m:
            blocks.append((int(m.group(1)), m.group(2), idx, []))
            continue
        if blocks:
            blocks[-1][3].append((idx, ln))
        else:
            um = _UPTIME_RE.search(ln)
            if um:
                uptime, realtime = int(um.group(1)), int(um.group(2))
            nf = _NOT_FOUND_RE.match(ln.strip())
            if nf:
                return MeminfoReport((), uptime, realtime, not_found=nf.group(1).strip() or "?")
    if not blocks:
        raise ParseError("not dumpsys meminfo output: no '** MEMINFO in pid N [name] **' block",
                         source=source, snippet=first_content_line(text))
    procs = tuple(_parse_block(pid, name, body, source) for pid, name, _, body in blocks)
    return MeminfoReport(procs, uptime, realtime)

