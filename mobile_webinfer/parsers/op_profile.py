"""Per-operator profiles from three runtimes, as one record: `OpProfile`.

- TFLite `benchmark_model --enable_op_profiling=true` text (`parse_benchmark_op_profile`): the
  "Operator-wise Profiling Info for Regular Benchmark Runs" section, tab or space layout::

      Operator-wise Profiling Info for Regular Benchmark Runs:
      ============================== Run Order ==============================
      \t  [node type]\t  [start]\t  [first]\t [avg ms]\t  [%]\t  [cdf%]\t  [mem KB]\t[times called]\t[Name]
      \t      CONV_2D\t    0.066\t   87.754\t   60.957\t 2.066%\t 2.066%\t  0.000\t  1\t[MobilenetV1/Conv2d_0/Relu6]:0

  or aligned with spaces (a phone's, Hexagon + GPU delegates)::

                           [node type]          [start]   [first]   [avg ms]      [%]   [cdf%]  [mem KB]  [times called]  [Name]
                 TfLiteHexagonDelegate            3.934     0.009      0.009   0.041%  17.775%     0.000               1  [anynet/s1_dsp_b3_relu/Relu;anynet/s1_dsp_b3_add/add]:96

  Newer builds drop `[start]`, align with spaces and prefix the header with `INFO: `; XNNPACK
  nodes are named by their XNNPACK operator (`Convolution (NHWC, F32) IGEMM`).  `[avg ms]` is per
  call and `[times called]` per inference, so a node's time per inference is their product.
- ONNX Runtime's profiler JSON (`parse_ort_profile`), native or ONNX Runtime Web's (the same
  events, printed by the page's wasm at `endProfiling()`): chrome-trace events; `cat: "Session"`
  `model_run` is one inference, `cat: "Node"` events named `<node>_kernel_time` carry `dur` (us)
  and `args.op_name`.
- TF.js `tf.profile` (`parse_tfjs_profile`): `{"kernels": [{"name", "kernelTimeMs", ...}]}`, one
  object per profiled inference (a list of them is averaged); mwi's page adds `wallMs`, its own
  wall time around each profiled inference (tf.profile has no whole-run time).

Times are ms per inference: each operator's median over the profiled runs (a page's first
profiled inferences carry JIT and GC outliers that a mean would spread over every kernel), scaled
so that the operators sum to the median run's operator time (see `_per_op_ms`).
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any

from ..errors import ParseError
from ._common import check_text, lines_of, to_float


@dataclass(frozen=True)
class OpTime:
    name: str       # node name (TF.js: the kernel name, it has no node names)
    op_type: str    # the runtime's own type: CONV_2D, Conv, FusedConv2D, "Convolution (NHWC, F32) GEMM"
    ms: float       # per inference, the median over the profiled runs
    calls: int = 1  # times the node ran per inference
    hint: str = ""  # what the source's shapes say beyond the type: "depthwise" for an ONNX Conv with group = C


@dataclass(frozen=True)
class OpTypeTotal:
    op_type: str
    count: int
    ms: float


@dataclass(frozen=True)
class OpProfile:
    source: str                          # benchmark_model | onnxruntime | tfjs
    ops: tuple[OpTime, ...]              # run order
    runs: int | None = None              # inferences the averages cover
    total_ms: float | None = None        # one whole inference as the source timed it, where it does
    by_type: tuple[OpTypeTotal, ...] = ()  # the source's own summary by type, where it prints one

    @property
    def op_sum_ms(self) -> float:
        return sum(o.ms for o in self.ops)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["op_sum_ms"] = self.op_sum_ms
        return d


# -- benchmark_model ---------------------------------------------------------------------------
_REGULAR = "Operator-wise Profiling Info for Regular Benchmark Runs"
_SECTION = re.compile(r"^=+\s*(.+?)\s*=+$")
_TIMINGS = re.compile(r"Timings \(microseconds\):.*?count=(\d+).*?avg=([0-9.eE+-]+)")


def _cells(line: str) -> list[str]:
    s = line.strip()
    parts = s.split("\t") if "\t" in s else re.split(r"\s{2,}", s)
    return [p.strip() for p in parts if p.strip()]


def parse_benchmark_op_profile(text: str, *, source: str = "benchmark_model") -> OpProfile:
    """The regular runs' operator profile of `benchmark_model --enable_op_profiling=true`."""
    lines = lines_of(check_text(text, source))
    start = next((i for i, ln in enumerate(lines) if _REGULAR in ln), None)
    if start is None:
        raise ParseError(f"no '{_REGULAR}' section (was --enable_op_profiling=true given?)", source=source,
                         snippet=next((ln for ln in lines if ln.strip()), ""))
    section, header = "", None
    ops: list[OpTime] = []
    by_type: list[OpTypeTotal] = []
    runs = total = None
    for i in range(start + 1, len(lines)):
        ln = lines[i].removeprefix("INFO: ")
        m = _SECTION.match(ln.strip())
        if m:
            section, header = m.group(1), None
            continue
        t = _TIMINGS.search(ln)
        if t:
            runs, total = int(t.group(1)), to_float(t.group(2), source=source, line=i + 1) / 1000.0
            break
        cells = _cells(ln)
        if not cells or section not in ("Run Order", "Summary by node type"):
            continue
        if cells[0].startswith("["):
            header = [c.strip("[]").lower() for c in cells]
            continue
        if header is None or len(cells) != len(header):
            raise ParseError(f"a {section} row does not match its header", source=source, snippet=ln, line=i + 1)
        row = dict(zip(header, cells, strict=True))
        try:
            avg = to_float(row["avg ms"], source=source, what="avg ms", line=i + 1)
            called = int(row.get("times called", "1"))
            if section == "Run Order":
                ops.append(OpTime(name=row.get("name", row["node type"]), op_type=row["node type"],
                                  ms=avg * called, calls=called))
            else:
                by_type.append(OpTypeTotal(op_type=row["node type"], count=int(row["count"]), ms=avg))
        except (KeyError, ValueError):
            raise ParseError(f"unreadable {section} row", source=source, snippet=ln, line=i + 1) from None
    if not ops:
        raise ParseError("the operator profile has no run-order rows", source=source, snippet=lines[start])
    return OpProfile(source="benchmark_model", ops=tuple(ops), runs=runs, total_ms=total, by_type=tuple(by_type))


# -- ONNX Runtime ------------------------------------------------------------------------------
def parse_ort_profile(text: str, *, skip_runs: int = 0, source: str = "onnxruntime profile") -> OpProfile:
    """ONNX Runtime's profiler JSON; the first `skip_runs` inferences (warmups) are dropped."""
    try:
        events = json.loads(check_text(text, source))
    except json.JSONDecodeError as exc:
        raise ParseError(f"not JSON: {exc.msg}", source=source, snippet=text[:80]) from None
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise ParseError("expected a list of trace events", source=source, snippet=text[:80])
    run_evs = sorted((e for e in events if e.get("cat") == "Session" and e.get("name") == "model_run"),
                     key=lambda e: e.get("ts", 0))
    if len(run_evs) <= skip_runs:
        raise ParseError(f"{len(run_evs)} model_run events, {skip_runs} to skip: nothing left", source=source)
    kept = run_evs[skip_runs:]
    spans = [(e["ts"], e["ts"] + e["dur"]) for e in kept]
    per_node: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))  # node -> run -> ms
    op_type: dict[str, str] = {}
    hints: dict[str, str] = {}
    calls: dict[str, int] = defaultdict(int)
    order: list[str] = []
    for e in events:
        if e.get("cat") != "Node" or not str(e.get("name", "")).endswith("_kernel_time"):
            continue
        ts = e.get("ts", -1)
        run = next((i for i, (a, b) in enumerate(spans) if a <= ts <= b), None)
        if run is None:
            continue
        node = e["name"][: -len("_kernel_time")]
        if node not in op_type:
            order.append(node)
            args = e.get("args") or {}
            op_type[node] = str(args.get("op_name") or "?")
            if op_type[node] == "Conv" and _ort_depthwise(args.get("input_type_shape")):
                hints[node] = "depthwise"
        per_node[node][run] += float(e["dur"]) / 1000.0
        calls[node] += 1
    if not order:
        raise ParseError("no Node kernel_time events inside the kept runs", source=source)
    n = len(kept)
    ms = _per_op_ms([[per_node[k].get(i, 0.0) for i in range(n)] for k in order])
    ops = tuple(OpTime(name=k, op_type=op_type[k], ms=m, calls=max(1, round(calls[k] / n)), hint=hints.get(k, ""))
                for k, m in zip(order, ms, strict=True))
    total = _median([float(e["dur"]) / 1000.0 for e in kept])
    return OpProfile(source="onnxruntime", ops=ops, runs=n, total_ms=total)


def _per_op_ms(per_op_runs: list[list[float]]) -> list[float]:
    """Per operator, ms per inference from its time in each profiled run (rows: operators, columns:
    runs).  Each operator's median over the runs gives robust shares, but under bursty load a sum of
    medians falls below a typical run's operator time; so the medians are scaled to sum to the
    median over runs of the per-run operator sum (shares stay the medians', the total a real run's)."""
    meds = [_median(r) for r in per_op_runs]
    total = sum(meds)
    if not per_op_runs or total <= 0:
        return meds
    run_sums = [sum(col) for col in zip(*per_op_runs, strict=True)]
    scale = _median(run_sums) / total
    return [m * scale for m in meds]


def _median(xs: list[float]) -> float:
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def _ort_depthwise(shapes: Any) -> bool:
    """ONNX `Conv` inputs [{"float": [N, C, H, W]}, {"float": [M, C/group, kH, kW]}, ...]: depthwise
    when each group sees one input channel of several."""
    try:
        x, w = (next(iter(d.values())) for d in shapes[:2])
        return len(w) == 4 and w[1] == 1 and x[1] > 1
    except (TypeError, ValueError, IndexError, AttributeError, StopIteration):
        return False


# -- TF.js -------------------------------------------------------------------------------------
def parse_tfjs_profile(text: str, *, source: str = "tf.profile") -> OpProfile:
    """`tf.profile` results (one object, or a list: one per profiled inference, averaged; a run's
    `wallMs`, where the page timed the whole profiled inference, gives `total_ms`).

    tf.profile also records the op wrappers some ops run their kernel in (`fusedConv2d__op`
    around `FusedConv2D`, `fusedMatMul__op` around `_FusedMatMul`); a wrapper's time contains
    its kernel's, so wrappers are dropped and their own (JS) time counts as runtime overhead."""
    try:
        data = json.loads(check_text(text, source))
    except json.JSONDecodeError as exc:
        raise ParseError(f"not JSON: {exc.msg}", source=source, snippet=text[:80]) from None
    profs = data if isinstance(data, list) else [data]
    if not profs or not all(isinstance(p, dict) and isinstance(p.get("kernels"), list) for p in profs):
        raise ParseError("expected tf.profile output: {kernels: [...]}", source=source, snippet=text[:80])
    kept = [[k for k in p["kernels"] if isinstance(k, dict) and not str(k.get("name", "")).endswith("__op")]
            for p in profs]
    first = kept[0]
    for ks in kept[1:]:
        if [k.get("name") for k in ks] != [k.get("name") for k in first]:
            raise ParseError("profiled inferences ran different kernels", source=source)
    per_op_runs: list[list[float]] = []
    for j, k in enumerate(first):
        times = [ks[j].get("kernelTimeMs") for ks in kept]
        if not all(isinstance(t, int | float) for t in times):
            raise ParseError(f"kernel {k.get('name')!r} has no kernelTimeMs number", source=source,
                             snippet=json.dumps(k)[:120])
        per_op_runs.append([float(t) for t in times if t is not None])
    ops = [OpTime(name=str(k["name"]), op_type=str(k["name"]), ms=m)
           for k, m in zip(first, _per_op_ms(per_op_runs), strict=True)]
    if not ops:
        raise ParseError("tf.profile recorded no kernels", source=source)
    # the page's wall time around each profiled inference (mwi's pages add `wallMs`; tf.profile itself
    # times kernels only): where every run has one, their median is the whole-run time
    walls = [p.get("wallMs") for p in profs]
    total = None
    if all(isinstance(w, int | float) and not isinstance(w, bool) and math.isfinite(w) and w > 0 for w in walls):
        total = _median([float(w) for w in walls])
    return OpProfile(source="tfjs", ops=tuple(ops), runs=len(profs), total_ms=total)
