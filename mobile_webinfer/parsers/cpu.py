"""CPU (and a few other procfs) texts: /proc/stat, /proc/<pid>/stat, cpufreq, /proc/cpuinfo,
/proc/meminfo, /proc/uptime and `dumpsys cpuinfo`.

::

    cpu  69867 28287 86375 973231 1656 18486 4392 0 0 0          (/proc/stat, USER_HZ ticks)
    1829 (ocessService0:0) S 2568 979 0 0 -1 ... 15 26 ...          (/proc/<pid>/stat)
    /sys/devices/system/cpu/cpufreq/policy0/scaling_cur_freq:500000 (grep -H over cpufreq, kHz)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import ParseError
from ._common import check_text, first_content_line, lines_of, to_float

_CPU_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest", "guest_nice")


@dataclass(frozen=True)
class CpuTimes:
    """One `cpu`/`cpuN` line of /proc/stat (ticks; fields a kernel does not print are 0)."""

    name: str
    user: int
    nice: int
    system: int
    idle: int
    iowait: int = 0
    irq: int = 0
    softirq: int = 0
    steal: int = 0
    guest: int = 0
    guest_nice: int = 0

    @property
    def total(self) -> int:
        # guest time is already counted in user/nice
        return self.user + self.nice + self.system + self.idle + self.iowait + self.irq + self.softirq + self.steal

    @property
    def idle_all(self) -> int:
        return self.idle + self.iowait

    def to_json(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class ProcStat:
    cpu: CpuTimes
    cpus: tuple[CpuTimes, ...] = ()
    ctxt: int | None = None
    btime: int | None = None
    processes: int | None = None
    procs_running: int | None = None
    procs_blocked: int | None = None

    def to_json(self) -> dict:
        return {"cpu": self.cpu.to_json(), "cpus": [c.to_json() for c in self.cpus], "ctxt": self.ctxt,
                "btime": self.btime, "processes": self.processes, "procs_running": self.procs_running,
                "procs_blocked": self.procs_blocked}


def parse_proc_stat(text: str, source: str = "") -> ProcStat:
    """Parse /proc/stat (the whole file or just its first `cpu` line)."""
    text = check_text(text, source)
    agg: CpuTimes | None = None
    cpus: list[CpuTimes] = []
    extra: dict[str, int] = {}
    for lineno, raw in enumerate(lines_of(text), start=1):
        parts = raw.split()
        if not parts:
            continue
        head = parts[0]
        if head.startswith("cpu"):
            if not (head == "cpu" or head[3:].isdigit()):
                raise ParseError("expected 'cpu' or 'cpuN'", source=source, snippet=raw, line=lineno)
            nums = parts[1:]
            if len(nums) < 4 or not all(n.isdigit() for n in nums) or len(nums) > len(_CPU_FIELDS):
                raise ParseError("expected 4 to 10 tick counters on a /proc/stat cpu line", source=source,
                                 snippet=raw, line=lineno)
            ct = CpuTimes(head, *(int(n) for n in nums))
            if head == "cpu":
                agg = ct
            else:
                cpus.append(ct)
        elif head in ("ctxt", "btime", "processes", "procs_running", "procs_blocked") and len(parts) == 2 \
                and parts[1].isdigit():
            extra[head] = int(parts[1])
    if agg is None:
        raise ParseError("not /proc/stat: no aggregate 'cpu' line", source=source, snippet=first_content_line(text))
    return ProcStat(agg, tuple(cpus), **extra)


def cpu_utilization(before: CpuTimes, after: CpuTimes) -> float | None:
    """Busy share (0..1) between two samples of the same cpu line; None if no ticks elapsed."""
    dt = after.total - before.total
    if dt <= 0:
        return None
    return max(0.0, min(1.0, 1.0 - (after.idle_all - before.idle_all) / dt))


@dataclass(frozen=True)
class PidStat:
    """/proc/<pid>/stat; comm is taken between the first '(' and the LAST ')'."""

    pid: int
    comm: str
    state: str
    ppid: int
    utime: int
    stime: int
    cutime: int
    cstime: int
    priority: int
    nice: int
    num_threads: int
    starttime: int
    vsize: int
    rss_pages: int
    processor: int | None = None

    def to_json(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def parse_pid_stat(text: str, source: str = "") -> PidStat:
    """Parse one /proc/<pid>/stat line (comm may hold spaces and parentheses)."""
    text = check_text(text, source).strip()
    open_i, close_i = text.find("("), text.rfind(")")
    if open_i <= 0 or close_i < open_i or not text[:open_i].strip().isdigit():
        raise ParseError("expected '<pid> (<comm>) <state> ...' from /proc/<pid>/stat", source=source,
                         snippet=text[:80])
    rest = text[close_i + 1:].split()
    # fields after comm: state(3) ppid(4) ... utime(14) stime(15) cutime cstime priority nice
    # num_threads(20) itrealvalue starttime(22) vsize(23) rss(24) ... processor(39)
    if len(rest) < 22:
        raise ParseError(f"/proc/<pid>/stat has {len(rest) + 2} fields, expected at least 24", source=source,
                         snippet=text[:80])
    try:
        f = [int(x) for x in rest[1:22]]  # f[i - 1] is field i of rest (rest[0] is the state letter)
        processor = int(rest[36]) if len(rest) > 36 else None
    except ValueError:
        raise ParseError("non-numeric field in /proc/<pid>/stat", source=source, snippet=text[:80]) from None
    return PidStat(pid=int(text[:open_i]), comm=text[open_i + 1:close_i], state=rest[0], ppid=f[0],
                   utime=f[10], stime=f[11], cutime=f[12], cstime=f[13], priority=f[14], nice=f[15],
                   num_threads=f[16], starttime=f[18], vsize=f[19], rss_pages=f[20], processor=processor)


def parse_uptime(text: str, source: str = "") -> tuple[float, float]:
    """/proc/uptime -> (uptime_s, idle_s summed over cores)."""
    parts = check_text(text, source).split()
    if len(parts) != 2:
        raise ParseError("expected '<uptime> <idle>' from /proc/uptime", source=source, snippet=text[:60])
    return (to_float(parts[0], source=source, what="uptime"), to_float(parts[1], source=source, what="idle"))


@dataclass(frozen=True)
class CpuFreqPolicy:
    """One cpufreq policy (a cluster); frequencies in kHz, None when unreadable."""

    policy: int
    cur_khz: int | None = None
    min_khz: int | None = None
    max_khz: int | None = None
    cpuinfo_max_khz: int | None = None
    governor: str | None = None
    related_cpus: tuple[int, ...] = ()
    attrs: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["related_cpus"] = list(self.related_cpus)
        out["attrs"] = dict(self.attrs)
        return out


_POLICY_LINE_RE = re.compile(r"^(?:\S*/)?policy(\d+)/([a-z_]+):(.*)$")


def _cpu_list(s: str) -> tuple[int, ...]:
    out: list[int] = []
    for tok in s.replace(",", " ").split():
        if "-" in tok:
            a, _, b = tok.partition("-")
            out.extend(range(int(a), int(b) + 1))
        else:
            out.append(int(tok))
    return tuple(out)


def parse_cpufreq(text: str, source: str = "") -> tuple[CpuFreqPolicy, ...]:
    """Parse `grep -H . /sys/devices/system/cpu/cpufreq/policy*/<attr>` output, one policy per cluster."""
    text = check_text(text, source)
    attrs: dict[int, dict[str, str]] = {}
    for lineno, raw in enumerate(lines_of(text), start=1):
        s = raw.strip()
        if not s:
            continue
        m = _POLICY_LINE_RE.match(s)
        if not m:
            raise ParseError("expected '<...>/policyN/<attribute>:<value>' (grep -H over cpufreq)", source=source,
                             snippet=s, line=lineno)
        attrs.setdefault(int(m.group(1)), {})[m.group(2)] = m.group(3).strip()
    if not attrs:
        raise ParseError("no cpufreq policy lines found", source=source)

    def khz(d: dict[str, str], key: str, lineno_hint: int) -> int | None:
        v = d.get(key)
        if v is None or v in ("", "<unknown>"):
            return None
        if not v.isdigit():
            raise ParseError(f"expected kHz integer for policy{lineno_hint}/{key}", source=source, snippet=v)
        return int(v)

    out = []
    for pol in sorted(attrs):
        d = attrs[pol]
        try:
            related = _cpu_list(d.get("related_cpus", ""))
        except ValueError:
            raise ParseError(f"unreadable related_cpus for policy{pol}", source=source,
                             snippet=d.get("related_cpus", "")) from None
        out.append(CpuFreqPolicy(pol, khz(d, "scaling_cur_freq", pol), khz(d, "scaling_min_freq", pol),
                                 khz(d, "scaling_max_freq", pol), khz(d, "cpuinfo_max_freq", pol),
                                 d.get("scaling_governor"), related, dict(d)))
    return tuple(out)


@dataclass(frozen=True)
class CpuCoreFreq:
    """One core from the capture script format `cpu0  online=1  max=1800000kHz  cur=500000kHz  gov=n/a`."""

    cpu: int
    online: bool | None = None
    max_khz: int | None = None
    cur_khz: int | None = None
    governor: str | None = None
    cluster: tuple[int, ...] = ()

    def to_json(self) -> dict:
        return {"cpu": self.cpu, "online": self.online, "max_khz": self.max_khz, "cur_khz": self.cur_khz,
                "governor": self.governor, "cluster": list(self.cluster)}


def parse_cpufreq_script(text: str, source: str = "") -> tuple[CpuCoreFreq, ...]:
    """Parse the per-core `cpuN  key=value ...` lines (and `cpuN  cluster=0 1 2`) of a capture script."""
    text = check_text(text, source)
    cores: dict[int, dict] = {}
    for lineno, raw in enumerate(lines_of(text), start=1):
        s = raw.strip()
        if not s:
            continue
        m = re.match(r"^cpu(\d+)\s+(.*)$", s)
        if not m:
            raise ParseError("expected 'cpuN  key=value ...'", source=source, snippet=s, line=lineno)
        d = cores.setdefault(int(m.group(1)), {})
        rest = m.group(2)
        if rest.startswith("cluster="):
            try:
                d["cluster"] = _cpu_list(rest.partition("=")[2])
            except ValueError:
                raise ParseError("unreadable cluster list", source=source, snippet=s, line=lineno) from None
            continue
        for k, v in re.findall(r"(\w+)=(\S+)", rest):
            if k in ("max", "cur"):
                num = v.removesuffix("kHz")
                d[f"{k}_khz"] = int(num) if num.isdigit() else None
            elif k == "online":
                d["online"] = {"1": True, "0": False}.get(v)
            elif k == "gov":
                d["governor"] = None if v == "n/a" else v
    if not cores:
        raise ParseError("no 'cpuN ...' lines found", source=source)
    return tuple(CpuCoreFreq(cpu, **cores[cpu]) for cpu in sorted(cores))


CPU_PARTS = {"0xd03": "Cortex-A53", "0xd04": "Cortex-A35", "0xd05": "Cortex-A55", "0xd07": "Cortex-A57",
             "0xd08": "Cortex-A72", "0xd09": "Cortex-A73", "0xd0a": "Cortex-A75", "0xd0b": "Cortex-A76",
             "0xd0d": "Cortex-A77", "0xd41": "Cortex-A78", "0xd44": "Cortex-X1", "0xd46": "Cortex-A510",
             "0xd47": "Cortex-A710", "0xd48": "Cortex-X2", "0xd4d": "Cortex-A715", "0xd4e": "Cortex-X3",
             "0xd80": "Cortex-A520", "0xd81": "Cortex-A720", "0xd82": "Cortex-X4"}


@dataclass(frozen=True)
class CpuInfo:
    processors: tuple[dict[str, str], ...]
    hardware: str | None = None

    @property
    def core_names(self) -> tuple[str, ...]:
        return tuple(CPU_PARTS.get(p.get("CPU part", "").lower(), p.get("CPU part", "?")) for p in self.processors)

    def to_json(self) -> dict:
        return {"processors": [dict(p) for p in self.processors], "hardware": self.hardware,
                "cores": len(self.processors), "core_names": list(self.core_names)}


def parse_proc_cpuinfo(text: str, source: str = "") -> CpuInfo:
    """Parse /proc/cpuinfo (arm64: no model name; `Hardware` line optional)."""
    text = check_text(text, source)
    procs: list[dict[str, str]] = []
    cur: dict[str, str] | None = None
    hardware = None
    for lineno, raw in enumerate(lines_of(text), start=1):
        if not raw.strip():
            continue
        key, sep, value = raw.partition(":")
        if not sep:
            raise ParseError("expected 'key : value' in /proc/cpuinfo", source=source, snippet=raw, line=lineno)
        k, v = key.strip(), value.strip()
        if k == "processor":
            if not v.isdigit():
                raise ParseError("expected a processor number", source=source, snippet=raw, line=lineno)
            cur = {"processor": v}
            procs.append(cur)
        elif k == "Hardware":
            hardware = v
        elif cur is not None:
            cur[k] = v
    if not procs:
        raise ParseError("not /proc/cpuinfo: no 'processor : N' line", source=source, snippet=first_content_line(text))
    return CpuInfo(tuple(procs), hardware)


def parse_proc_meminfo(text: str, source: str = "") -> dict[str, int]:
    """Parse /proc/meminfo into {field: kB}."""
    text = check_text(text, source)
    out: dict[str, int] = {}
    for lineno, raw in enumerate(lines_of(text), start=1):
        if not raw.strip():
            continue
        m = re.match(r"^([\w()]+):\s+(\d+)(?:\s+kB)?\s*$", raw.strip())
        if not m:
            raise ParseError("expected '<Field>:  <n> kB'", source=source, snippet=raw, line=lineno)
        out[m.group(1)] = int(m.group(2))
    if "MemTotal" not in out:
        raise ParseError("not /proc/meminfo: no MemTotal", source=source, snippet=first_content_line(text))
    return out


@dataclass(frozen=True)
class ProcessCpu:
    pid: int
    name: str
    total_pct: float
    user_pct: float | None
    kernel_pct: float | None
    minor_faults: int | None = None
    major_faults: int | None = None

    def to_json(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class DumpsysCpuinfo:
    processes: tuple[ProcessCpu, ...]
    load: tuple[float, float, float] | None = None
    window_ms: tuple[int, int] | None = None  # "CPU usage from X ms to Y ms ago"
    total_pct: float | None = None
    total_parts: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"processes": [p.to_json() for p in self.processes], "load": self.load, "window_ms": self.window_ms,
                "total_pct": self.total_pct, "total_parts": dict(self.total_parts)}


_PROC_CPU_RE = re.compile(r"^([\d.]+)% (\d+)/(.+?): ([\d.]+)% user \+ ([\d.]+)% kernel"
                          r"(?: / faults: (\d+) minor(?: (\d+) major)?)?")
_TOTAL_RE = re.compile(r"^([\d.]+)% TOTAL: (.*)$")


def parse_dumpsys_cpuinfo(text: str, source: str = "") -> DumpsysCpuinfo:
    """Parse `dumpsys cpuinfo` (old and wall-clock headers; per-process and TOTAL lines)."""
    text = check_text(text, source)
    procs: list[ProcessCpu] = []
    load: tuple[float, float, float] | None = None
    window = total = None
    parts: dict[str, float] = {}
    seen_header = False
    for lineno, raw in enumerate(lines_of(text), start=1):
        s = raw.strip()
        if not s:
            continue
        if s.startswith("Load:"):
            nums = s[5:].split("/")
            try:
                vals = tuple(float(x) for x in nums)
            except ValueError:
                raise ParseError("unreadable Load line", source=source, snippet=s, line=lineno) from None
            if len(vals) != 3:
                raise ParseError("expected 3 load averages", source=source, snippet=s, line=lineno)
            load = (vals[0], vals[1], vals[2])
            continue
        m = re.match(r"^CPU usage from (-?\d+)ms to (-?\d+)ms (?:ago|later)", s)
        if m:
            window, seen_header = (int(m.group(1)), int(m.group(2))), True
            continue
        m = _TOTAL_RE.match(s)
        if m:
            total = float(m.group(1))
            for val, name in re.findall(r"([\d.]+)% (\w+)", m.group(2)):
                parts[name] = float(val)
            continue
        m = _PROC_CPU_RE.match(s)
        if m:
            procs.append(ProcessCpu(int(m.group(2)), m.group(3), float(m.group(1)), float(m.group(4)),
                                    float(m.group(5)), int(m.group(6)) if m.group(6) else None,
                                    int(m.group(7)) if m.group(7) else None))
            continue
        if seen_header:
            raise ParseError("expected '<pct>% <pid>/<name>: <u>% user + <k>% kernel'", source=source,
                             snippet=s, line=lineno)
    if not seen_header:
        raise ParseError("not dumpsys cpuinfo output: no 'CPU usage from ...' line", source=source,
                         snippet=first_content_line(text))
    return DumpsysCpuinfo(tuple(procs), load, window, total, parts)


_FREQ_MARK_RE = re.compile(r"^@cpu(\d+)$")


def parse_percpu_freq(text: str, source: str = "") -> dict[int, int | None]:
    """Parse a per-core listing `@cpuN` followed by that core's `scaling_cur_freq` (kHz), as printed by

        echo @cpu0; cat /sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq 2>/dev/null; echo @cpu1; ...

    A core with no value (offline, or the file unreadable) maps to None.
    """
    text = check_text(text, source)
    out: dict[int, int | None] = {}
    cur: int | None = None
    for lineno, raw in enumerate(lines_of(text), start=1):
        s = raw.strip()
        if not s:
            continue
        m = _FREQ_MARK_RE.match(s)
        if m:
            cur = int(m.group(1))
            out[cur] = None
            continue
        if cur is None or out[cur] is not None or not s.isdigit():
            raise ParseError("expected '@cpuN' then at most one kHz value", source=source, snippet=s, line=lineno)
        out[cur] = int(s)
    if not out:
        raise ParseError("no '@cpuN' lines found", source=source)
    return out
