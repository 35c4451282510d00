"""`dumpsys gfxinfo <package> [framestats]` and `dumpsys SurfaceFlinger --latency <layer>`.

Summary lines (Android 6.0+; 7 adds the 50th percentile and HISTOGRAM, 12+ the legacy and GPU lines)::

    ** Graphics info for pid 31520 [de.codevoid.aNavMode] **
    Total frames rendered: 375
    Janky frames: 60 (16.00%)
    50th percentile: 18ms

Framestats blocks (14 to 24 columns, header and rows end with a comma)::

    ---PROFILEDATA---
    Flags,IntendedVsync,Vsync,OldestInputEvent,...,FrameCompleted,
    0,594399833469194,594399833469194,9223372036854775807,...,594399837228514,
    ---PROFILEDATA---

Rows with Flags != 0 are skipped (counted); INT64_MAX and negative values are "no value".
Android 12-14 headers swap the labels FrameInterval / FrameStartTime: the interval is taken
from whichever of the two holds a sub-second value.  A frame's duration is FrameCompleted -
IntendedVsync; it is janky when it completes after its FrameDeadline (Android 12+) or, without a
deadline, when it takes longer than one frame interval (16.67 ms when unknown).
Note: these are the app's own UI frames (for Chrome: the browser UI, not web content).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import ParseError
from ._common import INT64_MAX, check_text, first_content_line, lines_of

_PROC_RE = re.compile(r"^\*\*\s*Graphics info for pid (\d+) \[(.*)\]\s*\*\*\s*$")
_VIEWROOT_RE = re.compile(r"^\s+(\S.*?/android\.view\.ViewRootImpl@[0-9a-fA-F]+)(?:\s+\(visibility=\d+\))?\s*$")
_PCT_RE = re.compile(r"^(\d+)th (gpu )?percentile:\s*(\d+(?:\.\d+)?)\s*ms$")
_COUNT_PCT_RE = re.compile(r"^(\d+)\s*(?:\(([\d.]+)%\))?$")
_HIST_RE = re.compile(r"(\d+)ms=(\d+)")
_PROFILEDATA = "---PROFILEDATA---"
DEFAULT_INTERVAL_NS = 16_666_667

_NUMBER_KEYS = {
    "number missed vsync": "missed_vsync",
    "number high input latency": "high_input_latency",
    "number slow ui thread": "slow_ui_thread",
    "number slow bitmap uploads": "slow_bitmap_uploads",
    "number slow issue draw commands": "slow_draw",
    "number slow draw": "slow_draw",
    "number frame deadline missed": "frame_deadline_missed",
    "number frame deadline missed (legacy)": "frame_deadline_missed_legacy",
}


@dataclass(frozen=True)
class Frame:
    """One framestats row (Flags == 0)."""

    intended_vsync_ns: int
    frame_completed_ns: int
    duration_ms: float
    vsync_ns: int | None = None
    gpu_completed_ns: int | None = None
    frame_deadline_ns: int | None = None
    frame_interval_ns: int | None = None
    display_present_ns: int | None = None
    janky: bool = False

    def to_json(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class GfxStats:
    """One `Stats since` block (per process, or per window on Android 12+)."""

    stats_since_ns: int | None = None
    total_frames: int | None = None
    janky_frames: int | None = None
    janky_percent: float | None = None
    janky_frames_legacy: int | None = None
    percentiles_ms: dict[str, float] = field(default_factory=dict)
    gpu_percentiles_ms: dict[str, float] = field(default_factory=dict)
    missed_vsync: int | None = None
    high_input_latency: int | None = None
    slow_ui_thread: int | None = None
    slow_bitmap_uploads: int | None = None
    slow_draw: int | None = None
    frame_deadline_missed: int | None = None
    frame_deadline_missed_legacy: int | None = None
    histogram: tuple[tuple[int, int], ...] = ()
    gpu_histogram: tuple[tuple[int, int], ...] = ()

    def to_json(self) -> dict:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["histogram"] = [list(x) for x in self.histogram]
        out["gpu_histogram"] = [list(x) for x in self.gpu_histogram]
        return out


@dataclass(frozen=True)
class GfxWindow:
    """A window under `Profile data in ms:` with its own stats and framestats rows."""

    name: str
    stats: GfxStats | None = None
    frames: tuple[Frame, ...] = ()
    profile_columns: tuple[str, ...] = ()  # legacy `Draw Prepare Process Execute` table
    profile_ms: tuple[tuple[float, ...], ...] = ()

    def to_json(self) -> dict:
        return {"name": self.name, "stats": self.stats.to_json() if self.stats else None,
                "frames": [f.to_json() for f in self.frames], "profile_columns": list(self.profile_columns),
                "profile_ms": [list(r) for r in self.profile_ms]}


@dataclass(frozen=True)
class GfxProcess:
    pid: int
    name: str
    stats: GfxStats | None
    windows: tuple[GfxWindow, ...] = ()
    pipeline: str | None = None

    @property
    def frames(self) -> tuple[Frame, ...]:
        return tuple(f for w in self.windows for f in w.frames)

    def to_json(self) -> dict:
        return {"pid": self.pid, "name": self.name, "stats": self.stats.to_json() if self.stats else None,
                "pipeline": self.pipeline, "windows": [w.to_json() for w in self.windows]}


def _nearest_rank(sorted_vals: list[float], q: float) -> float:
    k = max(0, min(len(sorted_vals) - 1, int(-(-q * len(sorted_vals) // 100)) - 1))
    return sorted_vals[k]


@dataclass(frozen=True)
class GfxInfo:
    """A whole gfxinfo dump.  Top-level numbers come from the one process with stats; with
    several such processes totals are summed and percentiles are None (they do not combine)."""

    processes: tuple[GfxProcess, ...]
    orphan_frames: tuple[Frame, ...] = ()  # framestats rows printed without a process header
    skipped_flagged_frames: int = 0
    invalid_frames: int = 0  # Flags == 0 rows whose FrameCompleted precedes IntendedVsync (or is unset)
    not_found: str | None = None  # `No process found for: X` (the app is not running)

    def _with_stats(self) -> list[GfxStats]:
        return [p.stats for p in self.processes if p.stats is not None]

    @property
    def total_frames(self) -> int | None:
        s = self._with_stats()
        return sum(x.total_frames or 0 for x in s) if s else None

    @property
    def janky_frames(self) -> int | None:
        s = self._with_stats()
        return sum(x.janky_frames or 0 for x in s) if s else None

    @property
    def missed_vsync(self) -> int | None:
        s = [x.missed_vsync for x in self._with_stats() if x.missed_vsync is not None]
        return sum(s) if s else None

    @property
    def percentiles_ms(self) -> dict[str, float | None]:
        s = self._with_stats()
        src = s[0].percentiles_ms if len(s) == 1 else {}
        return {k: src.get(k) for k in ("50", "90", "95", "99")}

    @property
    def frames(self) -> tuple[Frame, ...]:
        return tuple(f for p in self.processes for f in p.frames) + self.orphan_frames

    def frame_summary(self) -> dict:
        """Frame count, janky count and duration percentiles computed from the framestats rows."""
        durs = sorted(f.duration_ms for f in self.frames)
        if not durs:
            return {"count": 0, "janky": 0, "percentiles_ms": {k: None for k in ("50", "90", "95", "99")}}
        return {"count": len(durs), "janky": sum(1 for f in self.frames if f.janky),
                "percentiles_ms": {k: round(_nearest_rank(durs, float(k)), 3) for k in ("50", "90", "95", "99")}}

    def to_json(self) -> dict:
        return {
            "total_frames": self.total_frames, "janky_frames": self.janky_frames,
            "percentiles_ms": self.percentiles_ms, "missed_vsync": self.missed_vsync,
            "frames": [f.to_json() for f in self.frames], "from_frames": self.frame_summary(),
            "skipped_flagged_frames": self.skipped_flagged_frames, "invalid_frames": self.invalid_frames,
            "not_found": self.not_found,
            "processes": [p.to_json() for p in self.processes],
        }


class _StatsBuilder:
    def __init__(self) -> None:
        self.d: dict = {"percentiles_ms": {}, "gpu_percentiles_ms": {}}

    def feed(self, line: str, source: str, lineno: int) -> bool:
        s = line.strip()
        key, sep, value = s.partition(":")
        if not sep:
            return False
        k, v = key.strip().lower(), value.strip()
        try:
            if k == "stats since":
                self.d["stats_since_ns"] = int(v.removesuffix("ns"))
            elif k == "total frames rendered":
                self.d["total_frames"] = int(v)
            elif k in ("janky frames", "janky frames (legacy)"):
                m = _COUNT_PCT_RE.match(v)
                if not m:
                    raise ValueError(v)
                if k == "janky frames":
                    self.d["janky_frames"] = int(m.group(1))
                    self.d["janky_percent"] = float(m.group(2)) if m.group(2) else None
                else:
                    self.d["janky_frames_legacy"] = int(m.group(1))
            elif k in _NUMBER_KEYS:
                self.d[_NUMBER_KEYS[k]] = int(v)
            elif k in ("histogram", "gpu histogram"):
                pairs = tuple((int(a), int(b)) for a, b in _HIST_RE.findall(v))
                self.d["histogram" if k == "histogram" else "gpu_histogram"] = pairs
            else:
                m = _PCT_RE.match(s)
                if not m:
                    return False
                num = float(m.group(3))
                self.d["gpu_percentiles_ms" if m.group(2) else "percentiles_ms"][m.group(1)] = \
                    int(num) if num.is_integer() else num
        except ValueError:
            raise ParseError(f"unreadable gfxinfo value for '{key.strip()}'", source=source, snippet=s,
                             line=lineno) from None
        return True

    def build(self) -> GfxStats:
        return GfxStats(**self.d)


def _value(v: str) -> int | None:
    n = int(v)
    return None if n < 0 or n >= INT64_MAX else n


def _frames(header: list[str], rows: list[tuple[int, str]], source: str) -> tuple[list[Frame], int, int]:
    cols = [c.strip() for c in header]
    while cols and cols[-1] == "":
        cols.pop()
    idx = {c: i for i, c in enumerate(cols)}
    for need in ("Flags", "IntendedVsync", "FrameCompleted"):
        if need not in idx:
            raise ParseError(f"framestats header lacks the {need} column", source=source,
                             snippet=",".join(cols)[:120])
    out: list[Frame] = []
    skipped = invalid = 0
    for lineno, raw in rows:
        parts = raw.strip().split(",")
        if parts and parts[-1] == "":
            parts.pop()
        if len(parts) != len(cols):
            raise ParseError(f"framestats row has {len(parts)} fields, header has {len(cols)}", source=source,
                             snippet=raw.strip()[:120], line=lineno)
        try:
            vals = [int(p) for p in parts]
        except ValueError:
            raise ParseError("framestats row holds a non-integer field", source=source,
                             snippet=raw.strip()[:120], line=lineno) from None
        if vals[idx["Flags"]] != 0:
            skipped += 1
            continue

        def get(name: str, vals: list[int] = vals) -> int | None:  # this row's values, bound now
            return _value(str(vals[idx[name]])) if name in idx else None

        intended, completed = get("IntendedVsync"), get("FrameCompleted")
        if intended is None or completed is None or completed < intended:
            invalid += 1  # stale or missing timestamps (seen on real phones): not a frame we can time
            continue
        interval = None
        pair = [x for x in (get("FrameInterval"), get("FrameStartTime")) if x is not None]
        small = [x for x in pair if 0 < x < 1_000_000_000]
        if small:
            interval = min(small)
        deadline = get("FrameDeadline")
        gpu = get("GpuCompleted")
        done = max(completed, gpu or 0)
        if deadline is not None:
            janky = done > deadline
        else:
            janky = (completed - intended) > (interval or DEFAULT_INTERVAL_NS)
        out.append(Frame(
            intended_vsync_ns=intended, frame_completed_ns=completed,
            duration_ms=round((completed - intended) / 1e6, 6), vsync_ns=get("Vsync"),
            gpu_completed_ns=gpu, frame_deadline_ns=deadline, frame_interval_ns=interval,
            display_present_ns=get("DisplayPresentTime"), janky=janky))
    return out, skipped, invalid


class _Win:
    def __init__(self, name: str) -> None:
        self.name = name
        self.titled = False
        self.stats: _StatsBuilder | None = None
        self.frames: list[Frame] = []
        self.profile_cols: tuple[str, ...] = ()
        self.profile: list[tuple[float, ...]] = []

    def build(self) -> GfxWindow:
        return GfxWindow(self.name, self.stats.build() if self.stats else None, tuple(self.frames),
                         self.profile_cols, tuple(self.profile))


def parse_gfxinfo(text: str, source: str = "") -> GfxInfo:
    """Parse `dumpsys gfxinfo` (one package, all processes, or bare framestats excerpts)."""
    text = check_text(text, source)
    lines = lines_of(text)
    procs: list[GfxProcess] = []
    orphan: list[Frame] = []
    skipped_total = invalid_total = 0
    cur: dict | None = None  # pid, name, stats builder, windows, phase, pipeline
    in_profiledata = False
    pd_header: list[str] | None = None
    pd_rows: list[tuple[int, str]] = []
    pd_start = 0

    def close_block() -> None:
        nonlocal skipped_total, invalid_total
        if pd_header is None:
            return  # empty block
        frames, skipped, invalid = _frames(pd_header, pd_rows, source)
        skipped_total += skipped
        invalid_total += invalid
        if cur is None:
            orphan.extend(frames)
        else:
            if not cur["windows"]:
                cur["windows"].append(_Win(cur["name"]))
            cur["windows"][-1].frames.extend(frames)

    def close_proc() -> None:
        nonlocal cur
        if cur is not None:
            # a later dump of the same process (e.g. `gfxinfo reset` then `framestats`) supersedes it
            procs[:] = [p for p in procs if (p.pid, p.name) != (cur["pid"], cur["name"])]
            procs.append(GfxProcess(cur["pid"], cur["name"], cur["stats"].build() if cur["stats"] else None,
                                    tuple(w.build() for w in cur["windows"]), cur["pipeline"]))
        cur = None

    for lineno, ln in enumerate(lines, start=1):
        s = ln.strip()
        if s == _PROFILEDATA:
            if not in_profiledata:
                in_profiledata, pd_header, pd_rows, pd_start = True, None, [], lineno
                continue
            in_profiledata = False
            close_block()
            continue
        if in_profiledata:
            if not s:
                continue
            if pd_header is None:
                if not s.startswith("Flags,"):
                    raise ParseError("expected the framestats header 'Flags,...' after ---PROFILEDATA---",
                                     source=source, snippet=s[:120], line=lineno)
                pd_header = s.split(",")
            else:
                pd_rows.append((lineno, s))
            continue
        m = _PROC_RE.match(s)
        if m:
            close_proc()
            cur = {"pid": int(m.group(1)), "name": m.group(2), "stats": None, "windows": [],
                   "phase": "process", "pipeline": None}
            continue
        if s.startswith("Failure while dumping the app"):
            raise ParseError("the phone could not dump this app's graphics info", source=source,
                             snippet=s, line=lineno)
        if cur is None:
            if s.startswith("No process found for"):
                return GfxInfo((), not_found=s.partition(":")[2].strip() or "?")
            continue
        if s == "Profile data in ms:":
            cur["phase"] = "profile"
            continue
        if s == "View hierarchy:":
            cur["phase"] = "views"
            continue
        if s.startswith("Pipeline="):
            cur["pipeline"] = s.partition("=")[2]
            continue
        if cur["phase"] == "views":
            continue
        if cur["phase"] == "profile":
            vm = _VIEWROOT_RE.match(ln)
            if vm:
                full = vm.group(1)
                cur["windows"].append(_Win(full.rsplit("/android.view.ViewRootImpl@", 1)[0]))
                continue
            if s.startswith("Window:"):
                title = s.partition(":")[2].strip()
                w = cur["windows"][-1] if cur["windows"] else None
                if w is None or w.titled or w.stats is not None or w.frames:
                    w = _Win(title)
                    cur["windows"].append(w)
                w.name, w.titled = title, True
                continue
            w = cur["windows"][-1] if cur["windows"] else None
            if w is not None:
                cells = ln.strip().split("\t") if "\t" in ln else s.split()
                if cells and all(c.isalpha() for c in cells) and cells[0] == "Draw":
                    w.profile_cols = tuple(cells)
                    continue
                if w.profile_cols and len(cells) == len(w.profile_cols):
                    try:
                        w.profile.append(tuple(float(c) for c in cells))
                        continue
                    except ValueError:
                        pass
                if s.startswith(("Stats since:", "Total frames rendered:")) and w.stats is None:
                    w.stats = _StatsBuilder()
                if w.stats is not None:
                    w.stats.feed(ln, source, lineno)
            continue
        # process-level stats (before "Profile data in ms:")
        if s.startswith(("Stats since:", "Total frames rendered:")) and cur["stats"] is None:
            cur["stats"] = _StatsBuilder()
        if cur["stats"] is not None:
            cur["stats"].feed(ln, source, lineno)
    if in_profiledata:  # excerpts end without the closing marker: take the complete rows
        if pd_header is None:
            raise ParseError("framestats block has no 'Flags,...' header", source=source, line=pd_start)
        close_block()
    close_proc()
    if not procs and not orphan and skipped_total == 0 and invalid_total == 0:
        if not any(ln.strip() == _PROFILEDATA for ln in lines):
            raise ParseError("not dumpsys gfxinfo output: no '** Graphics info for pid N [name] **' "
                             "block and no ---PROFILEDATA--- rows", source=source, snippet=first_content_line(text))
    return GfxInfo(tuple(procs), tuple(orphan), skipped_total, invalid_total)


@dataclass(frozen=True)
class SurfaceFlingerFrame:
    desired_present_ns: int
    actual_present_ns: int | None  # None while the present fence is pending (INT64_MAX)
    frame_ready_ns: int

    def to_json(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class SurfaceFlingerLatency:
    """`dumpsys SurfaceFlinger --latency <layer>`: refresh period, then 3 timestamps per frame."""

    refresh_period_ns: int
    frames: tuple[SurfaceFlingerFrame, ...]

    def to_json(self) -> dict:
        return {"refresh_period_ns": self.refresh_period_ns, "frames": [f.to_json() for f in self.frames]}


def parse_surfaceflinger_latency(text: str, source: str = "") -> SurfaceFlingerLatency:
    """Parse the refresh period line and the TAB-separated desired/actual/ready rows
    (all-zero rows are unused slots of the ring buffer and are dropped)."""
    text = check_text(text, source)
    lines = [(i, ln.strip()) for i, ln in enumerate(lines_of(text), start=1) if ln.strip()]
    if not lines:
        raise ParseError("empty SurfaceFlinger --latency output (expected the refresh period)", source=source)
    first_no, first = lines[0]
    if not first.isdigit() or int(first) <= 0:
        raise ParseError("expected the refresh period in ns on the first line", source=source,
                         snippet=first, line=first_no)
    frames = []
    for lineno, s in lines[1:]:
        parts = s.split()
        if len(parts) != 3 or not all(p.isdigit() for p in parts):
            raise ParseError("expected 3 timestamps (desired, actual, ready) per line", source=source,
                             snippet=s, line=lineno)
        a, b, c = (int(p) for p in parts)
        if a == 0 and b == 0 and c == 0:
            continue
        frames.append(SurfaceFlingerFrame(a, None if b >= INT64_MAX else b, c))
    return SurfaceFlingerLatency(int(first), tuple(frames))
