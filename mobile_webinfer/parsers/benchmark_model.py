"""TFLite `benchmark_model` output, every generation seen in the captures.

::

    INFO: Num threads: [4]
    INFO: Running benchmark for at least 1 iterations and at least 0.5 seconds ...
    INFO: count=1 curr=670083 p5=670083 median=670083 p95=670083
    INFO: Running benchmark for at least 50 iterations and at least 1 seconds ...
    INFO: count=50 first=591245 curr=917186 min=502355 max=2270688 avg=699438 std=325425 p5=... median=... p95=...
    INFO: Inference timings in us: Init: 102320, First inference: 670083, Warmup (avg): 670083, Inference (avg): 699438
    INFO: Memory footprint delta from the start of the tool (MB): init=98.0977 overall=99.2031

Also: no `INFO:` prefix (2018-19 builds, summary `Average inference timings in us: Warmup: X,
Init: Y, no stats: Z`), logcat brief/threadtime prefixes, `%g` scientific notation, count lines
without percentiles, `Peak memory footprint` / `Overall peak memory footprint` lines and delegate
coverage (`N nodes delegated out of M`, `Replacing N out of M node(s) with delegate`).
A text may hold several runs (each starts with `STARTING!`); `parse_benchmark_model` returns the
last complete one, `parse_benchmark_model_runs` all complete ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import ParseError
from ._common import check_text, first_content_line, lines_of, to_float

_LOGCAT_THREADTIME = re.compile(r"^\d\d-\d\d \d\d:\d\d:\d\d\.\d+\s+\d+\s+\d+\s+[VDIWEF]\s+[^:]*?\s*:\s?")
_LOGCAT_BRIEF = re.compile(r"^(?:\d\d-\d\d \d\d:\d\d:\d\d\.\d+\s+)?[VDIWEF]/[^(]*\(\s*\d+\):\s?")
_LEVEL = re.compile(r"^(?:INFO|VERBOSE|WARNING|ERROR|DEBUG): ")
_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_COUNT_RE = re.compile(r"^count=(\d+)((?:\s+\w+=" + _NUM + r")*)\s*$")
_KV_RE = re.compile(r"(\w+)=(" + _NUM + r")")
_PARAM_RE = re.compile(r"^([A-Za-z#][^:\[\]]*?)\s*:\s*\[(.*)\]\s*$")
_SUMMARY_RE = re.compile(r"^Inference timings in us: (.*)$")
_OLD_SUMMARY_RE = re.compile(r"^Average inference timings in us: (.*)$")
_MEM_DELTA_RE = re.compile(r"^Memory footprint delta from the start of the tool \(MB\): init=(" + _NUM
                           + r") overall=(" + _NUM + r")")
_MEM_PEAK_RE = re.compile(r"^Peak memory footprint \(MB\): init=(" + _NUM + r") overall=(" + _NUM + r")")
_MEM_MONITOR_RE = re.compile(r"^Overall peak memory footprint \(MB\) via periodic monitoring: (" + _NUM + r")")
_NODES_RE = re.compile(r"(\d+) nodes delegated out of (\d+) nodes(?: with (\d+) partitions)?")
_REPLACING_RE = re.compile(r"Replacing (\d+) out of (\d+) node\(s\) with delegate \(([^)]*)\) node, yielding "
                           r"(\d+) partitions?(?: for subgraph (\d+))?")
_APPLIED_RE = re.compile(r"Explicitly applied (.+?) delegate, and the model graph will be (completely|partially) "
                         r"executed by the delegate(?: w/ (\d+) delegate kernels)?")
_INIT_SESSION_RE = re.compile(r"^Initialized session in (" + _NUM + r")ms")


@dataclass(frozen=True)
class PhaseStats:
    """A `count=...` line (microseconds).  With count=1 only curr and percentiles are printed."""

    count: int
    first_us: float | None = None
    curr_us: float | None = None
    min_us: float | None = None
    max_us: float | None = None
    avg_us: float | None = None
    std_us: float | None = None
    p5_us: float | None = None
    median_us: float | None = None
    p95_us: float | None = None

    def to_json(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class BenchmarkModelResult:
    init_us: float | None
    first_inference_us: float | None
    warmup_avg_us: float | None
    inference_avg_us: float
    inference_std_us: float | None
    count: int | None
    memory_init_mb: float | None = None
    memory_overall_mb: float | None = None
    peak_memory_mb: float | None = None
    nodes_delegated: int | None = None
    nodes_total: int | None = None
    delegate: str | None = None
    fully_delegated: bool | None = None
    delegate_kernels: int | None = None
    warmup: PhaseStats | None = None
    inference: PhaseStats | None = None
    params: dict[str, str] = field(default_factory=dict)
    session_init_ms: float | None = None
    old_format: bool = False
    errors: tuple[str, ...] = ()

    def to_json(self) -> dict:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["warmup"] = self.warmup.to_json() if self.warmup else None
        out["inference"] = self.inference.to_json() if self.inference else None
        out["params"] = dict(self.params)
        out["errors"] = list(self.errors)
        return out


def _clean(line: str) -> str:
    s = line.rstrip()
    s = _LOGCAT_THREADTIME.sub("", s, count=1)
    s = _LOGCAT_BRIEF.sub("", s, count=1)
    return _LEVEL.sub("", s.strip(), count=1).strip()


def _phase(s: str, source: str, lineno: int) -> PhaseStats:
    m = _COUNT_RE.match(s)
    if not m:
        raise ParseError("unreadable benchmark 'count=' line", source=source, snippet=s, line=lineno)
    kv = {k: to_float(v, source=source, what=k, line=lineno) for k, v in _KV_RE.findall(m.group(2))}
    return PhaseStats(int(m.group(1)), kv.get("first"), kv.get("curr"), kv.get("min"), kv.get("max"),
                      kv.get("avg"), kv.get("std"), kv.get("p5"), kv.get("median"), kv.get("p95"))


def _summary_fields(body: str, source: str, lineno: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for part in body.split(","):
        k, sep, v = part.partition(":")
        if not sep:
            raise ParseError("unreadable benchmark timing summary", source=source, snippet=body, line=lineno)
        out[k.strip()] = to_float(v, source=source, what=k.strip(), line=lineno)
    return out


def _parse_run(lines: list[tuple[int, str]], source: str) -> BenchmarkModelResult | None:
    params: dict[str, str] = {}
    phases: list[PhaseStats] = []
    summary: dict[str, float] | None = None
    old = False
    mem_init = mem_overall = peak = session = None
    nodes: dict[tuple[str, str], tuple[int, int]] = {}
    nodes_line: tuple[int, int] | None = None
    delegate = full = kernels = None
    errors: list[str] = []
    for lineno, raw in lines:
        s = _clean(raw)
        if not s:
            continue
        if raw.lstrip().startswith("ERROR:") or s.startswith("Error"):
            errors.append(s)
        if s.startswith("count="):
            phases.append(_phase(s, source, lineno))
            continue
        m = _SUMMARY_RE.match(s)
        if m:
            summary = _summary_fields(m.group(1), source, lineno)
            continue
        m = _OLD_SUMMARY_RE.match(s)
        if m:
            summary, old = _summary_fields(m.group(1), source, lineno), True
            continue
        if m := _MEM_DELTA_RE.match(s):
            mem_init, mem_overall = float(m.group(1)), float(m.group(2))
        elif m := _MEM_PEAK_RE.match(s):
            peak = float(m.group(2))
        elif m := _MEM_MONITOR_RE.match(s):
            peak = float(m.group(1))
        elif m := _INIT_SESSION_RE.match(s):
            session = float(m.group(1))
        elif m := _NODES_RE.search(s):
            nodes_line = (int(m.group(1)), int(m.group(2)))
        elif m := _REPLACING_RE.search(s):
            delegate = delegate or m.group(3)
            nodes[(m.group(3), m.group(5) or "0")] = (int(m.group(1)), int(m.group(2)))
        elif m := _APPLIED_RE.search(s):
            delegate, full = m.group(1), m.group(2) == "completely"
            kernels = int(m.group(3)) if m.group(3) else None
        elif m := _PARAM_RE.match(s):
            params.setdefault(m.group(1).strip(), m.group(2))
    if summary is None:
        return None
    if old:
        init, first, warm, avg = summary.get("Init"), None, summary.get("Warmup"), summary.get("no stats")
        if phases and phases[0].first_us is not None:
            first = phases[0].first_us
    else:
        init, first = summary.get("Init"), summary.get("First inference")
        warm, avg = summary.get("Warmup (avg)"), summary.get("Inference (avg)")
    if avg is None:
        raise ParseError("benchmark summary has no inference average", source=source,
                         snippet=", ".join(summary), line=lines[-1][0])
    warm_phase = phases[0] if len(phases) >= 2 else None
    inf_phase = phases[-1] if phases else None
    delegated: int | None
    total: int | None
    if nodes_line is not None:
        delegated, total = nodes_line
    elif nodes:
        delegated = sum(v[0] for v in nodes.values())
        total = sum(v[1] for v in nodes.values())
    else:
        delegated = total = None
    return BenchmarkModelResult(
        init_us=init, first_inference_us=first, warmup_avg_us=warm, inference_avg_us=avg,
        inference_std_us=inf_phase.std_us if inf_phase else None, count=inf_phase.count if inf_phase else None,
        memory_init_mb=mem_init, memory_overall_mb=mem_overall, peak_memory_mb=peak,
        nodes_delegated=delegated, nodes_total=total, delegate=delegate, fully_delegated=full,
        delegate_kernels=kernels, warmup=warm_phase, inference=inf_phase, params=params,
        session_init_ms=session, old_format=old, errors=tuple(errors))


def parse_benchmark_model_runs(text: str, source: str = "") -> tuple[BenchmarkModelResult, ...]:
    """Every complete run (one with a timing summary) in the text, in order."""
    text = check_text(text, source)
    runs: list[list[tuple[int, str]]] = [[]]
    for lineno, raw in enumerate(lines_of(text), start=1):
        if _clean(raw) == "STARTING!" and runs[-1]:
            runs.append([])
        runs[-1].append((lineno, raw))
    results = [r for r in (_parse_run(lines, source) for lines in runs) if r is not None]
    if not results:
        err = next((_clean(ln) for lines in runs for _, ln in lines if _clean(ln).lower().startswith(
            ("error", "failed"))), "")
        hint = f"; the tool said: {err}" if err else ""
        raise ParseError("not benchmark_model output: no 'Inference timings in us:' summary line" + hint,
                         source=source, snippet=err or first_content_line(text))
    return tuple(results)


def parse_benchmark_model(text: str, source: str = "") -> BenchmarkModelResult:
    """The last complete run of a TFLite `benchmark_model` output."""
    return parse_benchmark_model_runs(text, source)[-1]
