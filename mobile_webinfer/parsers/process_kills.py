"""Process kills in logcat, told apart: low-memory kills, crashes, and benign housekeeping.

A renderer that disappears mid-cell is an out-of-memory crash only when the low-memory
killer (or the kernel OOM killer) took it.  ActivityManager also kills processes for reasons
that say nothing about memory: Chrome's spare renderers are "isolated not needed" once
unbound, cached / empty processes are trimmed, a task is removed.  Those are benign.

Lines it reads (any logcat format: threadtime, brief, uid, epoch, Android Studio; main,
system, events and kernel buffers), for example:

    10-24 14:24:26.342   710   710 I lowmemorykiller: Kill 'com.google.android.gms.unstable' (17933), uid 10446, oom_score_adj 0 to free 140528kB rss, 37404kB swap; reason: device is not responding
    01-01 15:11:13.739   879   879 I lmkd    : Reclaim 'com.android.rkpdapp' (3615), uid 10344, oom_score_adj 975, state 19 to free 18988kB rss, 47372kB swap; reason: min2x watermark is breached even after kill
    ... ActivityManager: Killing 27974:com.chrome.canary:sandboxed_process0:org.chromium.content.app.SandboxedProcessService0:0/u0a437i-9000 (adj 0): isolated not needed
    I/ActivityManager(  977): Killing 32653:com.android.deskclock/u0a12 (adj 15): empty #7
    06-05 17:20:41.243  3093  4830 I am_kill : [0,7680,com.volte.config,906,empty #17]
    lowmemorykiller: Killing 'com.android.chrome:sandboxed_process0' (4321), adj 0,   (kernel LMK driver)
    Out of memory: Killed process 4321 (ndroid.chrome:s) total-vm:...                   (kernel OOM killer)

    kills = parse_process_kills(logcat_text)
    verdict = death_verdict(kills, "com.android.chrome", pids={4321})
    verdict.cause   # "low-memory" | "crash" | "benign" | "unexplained"
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ._common import check_text, lines_of

LOW_MEMORY = "low-memory"
CRASH = "crash"
BENIGN = "benign"
UNEXPLAINED = "unexplained"

# lmkd (userspace, Android 9+; Samsung prints "Reclaim") and the tag it logs under
_LMKD_RE = re.compile(r"\b(?:lowmemorykiller|lmkd)\b.*?[\s:](?:Kill|Reclaim)\s+'(?P<proc>[^']+)'\s+"
                      r"\((?P<pid>\d+)\)(?P<rest>.*)$")
# the kernel's lowmemorykiller driver (Android <= 9 kernels): "lowmemorykiller: Killing 'name' (pid), adj N,"
_LMK_DRIVER_RE = re.compile(r"\blowmemorykiller\s*:\s*Killing\s+'(?P<proc>[^']+)'\s+\((?P<pid>\d+)\)(?P<rest>.*)$")
# the kernel OOM killer: "Out of memory: Killed process 4321 (comm) ..." / "Kill process"
_OOM_RE = re.compile(r"\bOut of memory: Kill(?:ed)? process (?P<pid>\d+) \((?P<proc>[^)]*)\)(?P<rest>.*)$")
# ActivityManager: "Killing PID:PROCESS/UID (adj N): REASON"
_AM_RE = re.compile(r"\bActivityManager\b.*?\sKilling (?P<pid>\d+):(?P<proc>[^\s/]+)/\S+ "
                    r"\(adj -?\d+\): (?P<reason>.*?)\s*$")
# events buffer: "am_kill : [user,pid,process,adj,reason(,pss)]"; reasons may hold brackets
_AM_KILL_RE = re.compile(r"\bam_kill\s*:\s*\[(?P<body>.*)\]\s*$")
_REASON_RE = re.compile(r";\s*reason:\s*(?P<reason>.*?)\s*$")

#: ActivityManager / am_kill reasons that mean memory pressure (AOSP: "low memory" on Android 14+
#: when lmkd reports through ActivityManager; vendor "lmk" kills)
_MEMORY_WORDS = re.compile(r"\b(?:low ?memory|lmk|oom|out of memory|memory pressure)\b", re.IGNORECASE)
#: reasons that mean the process crashed or hung (not benign, not memory)
_CRASH_WORDS = re.compile(r"\b(?:crash|native crash|anr|bg anr)\b", re.IGNORECASE)


@dataclass(frozen=True)
class ProcessKill:
    """One process kill seen in a log.

    cause: "low-memory" (lmkd, kernel LMK / OOM killer, or an ActivityManager memory reason),
    "crash" (killed after a crash / ANR), or "benign" (housekeeping: isolated not needed,
    empty / cached trimming, task removed, force stop, excessive CPU...).
    """

    pid: int
    process: str
    cause: str
    reason: str
    killer: str          # "lmkd" | "kernel-lmk" | "kernel-oom" | "ActivityManager" | "am_kill"
    line: str

    @property
    def is_oom(self) -> bool:
        return self.cause == LOW_MEMORY

    def belongs_to(self, package: str) -> bool:
        """True for the package's own process and its `package:xyz` child processes."""
        return self.process == package or self.process.startswith(package + ":")

    def to_json(self) -> dict[str, Any]:
        return {"pid": self.pid, "process": self.process, "cause": self.cause, "reason": self.reason,
                "killer": self.killer, "line": self.line}


@dataclass(frozen=True)
class DeathVerdict:
    """Why a package's processes died: the strongest cause among its kills, and the line that says so."""

    cause: str                      # low-memory > crash > benign; "unexplained" when no kill line matched
    evidence: str | None
    kills: tuple[ProcessKill, ...]

    @property
    def counts_as_oom(self) -> bool:
        return self.cause == LOW_MEMORY

    @property
    def benign(self) -> bool:
        return self.cause == BENIGN


def classify_reason(reason: str) -> str:
    """An ActivityManager / am_kill reason -> "low-memory", "crash" or "benign"."""
    if _MEMORY_WORDS.search(reason):
        return LOW_MEMORY
    if _CRASH_WORDS.search(reason):
        return CRASH
    return BENIGN


def _lmk_reason(rest: str) -> str:
    m = _REASON_RE.search(rest)
    return m.group("reason") if m else "low-memory killer"


def parse_process_kill(line: str) -> ProcessKill | None:
    """The kill one log line reports, or None when the line reports no kill."""
    text = line.rstrip("\r\n")
    m = _LMKD_RE.search(text)
    if m:
        return ProcessKill(int(m.group("pid")), m.group("proc"), LOW_MEMORY, _lmk_reason(m.group("rest")), "lmkd",
                           text)
    m = _LMK_DRIVER_RE.search(text)
    if m:
        return ProcessKill(int(m.group("pid")), m.group("proc"), LOW_MEMORY, "low-memory killer", "kernel-lmk", text)
    m = _OOM_RE.search(text)
    if m:
        return ProcessKill(int(m.group("pid")), m.group("proc"), LOW_MEMORY, "kernel OOM killer", "kernel-oom", text)
    m = _AM_RE.search(text)
    if m:
        reason = m.group("reason")
        return ProcessKill(int(m.group("pid")), m.group("proc"), classify_reason(reason), reason, "ActivityManager",
                           text)
    m = _AM_KILL_RE.search(text)
    if m:
        fields = m.group("body").split(",", 4)
        if len(fields) == 5 and fields[1].strip().isdigit() and fields[3].strip().lstrip("-").isdigit():
            reason = fields[4].strip()
            pss = re.fullmatch(r"(?P<reason>.*?)\s*,\s*\d+", reason)   # Android 12+ appends the PSS
            if pss:
                reason = pss.group("reason")
            return ProcessKill(int(fields[1]), fields[2].strip(), classify_reason(reason), reason, "am_kill", text)
    return None


def parse_process_kills(text: str, *, source: str = "logcat") -> tuple[ProcessKill, ...]:
    """Every kill reported in a log text, in order (lines that report none are skipped)."""
    check_text(text, source)
    return tuple(k for k in (parse_process_kill(ln) for ln in lines_of(text)) if k is not None)


def death_verdict(kills: Iterable[ProcessKill], package: str, *, pids: Iterable[int] | None = None) -> DeathVerdict:
    """Why processes of `package` died (optionally only the given pids, e.g. the renderers that vanished).

    low-memory wins over crash, crash over benign; no matching kill line is "unexplained"
    (a renderer that vanished without any kill line crashed on its own, or the log rolled over).
    """
    wanted = None if pids is None else set(pids)
    mine = tuple(k for k in kills if k.belongs_to(package) and (wanted is None or k.pid in wanted)
                 or (k.killer == "kernel-oom" and wanted is not None and k.pid in wanted))
    for cause in (LOW_MEMORY, CRASH, BENIGN):
        hits = [k for k in mine if k.cause == cause]
        if hits:
            return DeathVerdict(cause, hits[-1].line, mine)
    return DeathVerdict(UNEXPLAINED, None, mine)
