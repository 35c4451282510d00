"""TFLite's ``benchmark_model`` answered by really running the pushed model on the host.

The model is run with ai_edge_litert's interpreter (XNNPACK unless ``--use_xnnpack=false``);
timings are real.  There is no GPU / NNAPI here: ``--use_gpu=true`` prints the GPU delegate
lines with a coverage computed from the model's ops (``N out of M node(s)``, M = the op count)
and still runs on the CPU.  The log goes to stderr, as TFLite's MinimalLogger does on Android.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

GPU_OPS = frozenset({
    "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "DEPTH_TO_SPACE",
    "FULLY_CONNECTED", "HARD_SWISH", "LOGISTIC", "MAX_POOL_2D", "MEAN", "MUL", "PAD", "PRELU",
    "RELU", "RELU6", "RESHAPE", "SOFTMAX", "SUB", "TANH", "TRANSPOSE_CONV", "RESIZE_BILINEAR",
    "DIV", "EXP", "SQRT", "RSQRT", "SQUARED_DIFFERENCE", "SLICE", "STRIDED_SLICE", "SPLIT",
    "LEAKY_RELU", "ELU", "MINIMUM", "MAXIMUM", "BATCH_MATMUL", "TRANSPOSE",
})
XNNPACK_OPS = GPU_OPS | frozenset({"QUANTIZE", "DEQUANTIZE", "FLOOR", "CEIL", "ABS", "NEG",
                                   "SQUARE", "GELU", "BATCH_TO_SPACE_ND", "SPACE_TO_BATCH_ND"})


class BenchUsage(Exception):
    """Bad flags: benchmark_model prints a usage error and exits 1."""


@dataclass(frozen=True)
class BenchArgs:
    graph: str
    num_threads: int = -1
    use_gpu: bool = False
    use_xnnpack: bool = True
    use_nnapi: bool = False
    warmup_runs: int = 1
    warmup_min_secs: float = 0.5
    num_runs: int = 50
    min_secs: float = 1.0
    max_secs: float = 150.0
    enable_op_profiling: bool = False
    given: tuple[str, ...] = ()


def _flag_bool(value: str, name: str) -> bool:
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise BenchUsage(f"Invalid value for --{name}: {value}")


def parse_args(argv: list[str]) -> BenchArgs:
    """Parse ``--name=value`` flags as benchmark_model does (unknown flags are an error)."""
    values: dict[str, object] = {}
    given = []
    types = {"graph": str, "num_threads": int, "use_gpu": bool, "use_xnnpack": bool,
             "use_nnapi": bool, "warmup_runs": int, "warmup_min_secs": float, "num_runs": int,
             "min_secs": float, "max_secs": float, "enable_op_profiling": bool}
    for arg in argv:
        if not arg.startswith("--") or "=" not in arg:
            raise BenchUsage(f"Unrecognized argument: {arg}")
        name, value = arg[2:].split("=", 1)
        kind = types.get(name)
        if kind is None:
            raise BenchUsage(f"Unknown flag --{name}")
        try:
            values[name] = _flag_bool(value, name) if kind is bool else kind(value)
        except ValueError:
            raise BenchUsage(f"Invalid value for --{name}: {value}") from None
        given.append(name)
    if "graph" not in values:
        raise BenchUsage("Please specify the name of your TF Lite input file with --graph")
    return BenchArgs(**values, given=tuple(given))  # type: ignore[arg-type]


def _rss_mb() -> float:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def _stats_line(samples: list[float], warmup: bool) -> str:
    us = [int(round(s)) for s in samples]
    ordered = sorted(us)

    def pct(p: float) -> int:
        return ordered[min(len(ordered) - 1, int(p / 100.0 * len(ordered)))]

    std = int(round(statistics.pstdev(us))) if len(us) > 1 else 0
    if len(us) == 1:
        return f"count=1 curr={us[0]} p5={us[0]} median={us[0]} p95={us[0]}"
    return (f"count={len(us)} first={us[0]} curr={us[-1]} min={ordered[0]} max={ordered[-1]} "
            f"avg={int(round(sum(us) / len(us)))} std={std} p5={pct(5)} median={pct(50)} p95={pct(95)}")


def _partitions(flags: list[bool]) -> int:
    return sum(1 for i, f in enumerate(flags) if f and (i == 0 or not flags[i - 1]))


def run(args: BenchArgs, host_model_path: str, device_model_path: str, *,
        slowdown: Callable[[], float] | None = None,
        on_inference: Callable[[], None] | None = None) -> tuple[str, int]:
    """Run the benchmark; (log text, exit status).  With a heat model: each inference is stretched
    to ``slowdown()`` times its real length (a slept remainder) and reported to ``on_inference``."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    out: list[str] = []
    info = out.append
    rss0 = _rss_mb()
    info("INFO: STARTING!")
    info("INFO: Log parameter values verbosely: [0]")
    if "num_runs" in args.given:
        info(f"INFO: Min num runs: [{args.num_runs}]")
    if "min_secs" in args.given:
        info(f"INFO: Min runs duration (seconds): [{args.min_secs:g}]")
    if "num_threads" in args.given:
        info(f"INFO: Num threads: [{args.num_threads}]")
    if "warmup_runs" in args.given:
        info(f"INFO: Min warmup runs: [{args.warmup_runs}]")
    info(f"INFO: Graph: [{device_model_path}]")
    info("INFO: Signature to run: []")
    if "use_gpu" in args.given:
        info(f"INFO: Use gpu: [{int(args.use_gpu)}]")
    if "use_nnapi" in args.given:
        info(f"INFO: Use NNAPI: [{int(args.use_nnapi)}]")
    if "use_xnnpack" in args.given:
        info(f"INFO: Use xnnpack: [{int(args.use_xnnpack)}]")
    if "enable_op_profiling" in args.given:
        info(f"INFO: Enable op profiling: [{int(args.enable_op_profiling)}]")
    if args.num_threads > 0:
        info(f"INFO: #threads used for CPU inference: [{args.num_threads}]")
    t_init = time.perf_counter()
    resolver = OpResolverType.AUTO if args.use_xnnpack else \
        OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    try:
        interp = Interpreter(model_path=host_model_path,
                             num_threads=args.num_threads if args.num_threads > 0 else None,
                             experimental_op_resolver_type=resolver)
    except (ValueError, RuntimeError) as exc:
        info(f"ERROR: Could not build model from {device_model_path}: {exc}")
        info("ERROR: Benchmarking failed.")
        return "\n".join(out) + "\n", 1
    info(f"INFO: Loaded model {device_model_path}")
    info("INFO: Initialized TensorFlow Lite runtime.")
    ops = [op["op_name"] for op in interp._get_ops_details()]
    total = len(ops)
    if args.use_gpu:
        flags = [op in GPU_OPS for op in ops]
        n = sum(flags)
        parts = _partitions(flags)
        info("INFO: Created TensorFlow Lite delegate for GPU.")
        info("INFO: GPU delegate created.")
        if n == 0:
            info("INFO: Although the GPU delegate was explicitly applied, the model graph will not be "
                 "executed by the delegate.")
        else:
            info("INFO: Loaded OpenCL library with dlopen.")
            info(f"INFO: Replacing {n} out of {total} node(s) with delegate (TfLiteGpuDelegateV2) node, "
                 f"yielding {parts} partitions for the whole graph.")
            info("INFO: Initialized OpenCL-based API.")
            info(f"INFO: Created {parts} GPU delegate kernels.")
            if n == total:
                info("INFO: Explicitly applied GPU delegate, and the model graph will be completely "
                     "executed by the delegate.")
            else:
                info("INFO: Explicitly applied GPU delegate, and the model graph will be partially "
                     f"executed by the delegate w/ {parts} delegate kernels.")
    elif args.use_nnapi:
        info("INFO: Created TensorFlow Lite delegate for NNAPI.")
        info("INFO: Explicitly applied NNAPI delegate, and the model graph will be completely "
             "executed by the delegate.")
    elif args.use_xnnpack:
        flags = [op in XNNPACK_OPS for op in ops]
        info("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.")
        info(f"VERBOSE: Replacing {sum(flags)} out of {total} node(s) with delegate "
             f"(TfLiteXNNPackDelegate) node, yielding {_partitions(flags)} partitions for subgraph 0.")
    interp.allocate_tensors()
    rng = np.random.default_rng(0)
    for detail in interp.get_input_details():
        shape = [int(d) for d in detail["shape"]]
        dtype = detail["dtype"]
        if np.issubdtype(dtype, np.floating):
            data = rng.standard_normal(shape).astype(dtype)
        else:
            info_ = np.iinfo(dtype)
            data = rng.integers(max(info_.min, -128), min(info_.max, 127) + 1, size=shape).astype(dtype)
        interp.set_tensor(detail["index"], data)
    init_ms = (time.perf_counter() - t_init) * 1000.0
    size_mb = os.path.getsize(host_model_path) / (1024.0 * 1024.0)
    info(f"INFO: The input model file size (MB): {size_mb:.6g}")
    info(f"INFO: Initialized session in {init_ms:.5g}ms.")
    rss_init = _rss_mb()

    def bench(min_runs: int, min_secs: float) -> list[float]:
        info(f"INFO: Running benchmark for at least {min_runs} iterations and at least {min_secs:g} "
             f"seconds but terminate if exceeding {args.max_secs:g} seconds.")
        samples: list[float] = []
        start = time.perf_counter()
        while True:
            elapsed = time.perf_counter() - start
            if len(samples) >= min_runs and elapsed >= min_secs:
                break
            if elapsed > args.max_secs and samples:
                break
            t = time.perf_counter()
            interp.invoke()
            for detail in interp.get_output_details():
                interp.get_tensor(detail["index"])
            if slowdown is not None:  # spin (a slower CPU is busy, and sleep() is too coarse for 0.1 ms)
                until = t + (time.perf_counter() - t) * slowdown()
                while time.perf_counter() < until:
                    pass
            if on_inference is not None:
                on_inference()
            samples.append((time.perf_counter() - t) * 1e6)
        info("INFO: " + _stats_line(samples, warmup=True))
        info("")
        return samples

    warm = bench(max(1, args.warmup_runs), args.warmup_min_secs)
    runs = bench(max(1, args.num_runs), args.min_secs)
    info(f"INFO: Inference timings in us: Init: {int(round(init_ms * 1000))}, "
         f"First inference: {int(round(warm[0]))}, Warmup (avg): {int(round(sum(warm) / len(warm)))}, "
         f"Inference (avg): {int(round(sum(runs) / len(runs)))}")
    info("INFO: Note: as the benchmark tool itself affects memory footprint, the following is only "
         "APPROXIMATE to the actual memory footprint of the model at runtime. Take the information at "
         "your discretion.")
    info(f"INFO: Memory footprint delta from the start of the tool (MB): "
         f"init={max(0.0, rss_init - rss0):.6g} overall={max(0.0, _rss_mb() - rss0):.6g}")
    if args.enable_op_profiling:
        out.extend(op_profile_tables(interp, runs, init_ms, xnnpack=args.use_xnnpack and not args.use_gpu
                                     and not args.use_nnapi))
    return "\n".join(out) + "\n", 0


# -- --enable_op_profiling=true ---------------------------------------------------------------
# TFLite's tables (tensorflow/lite/profiling/profile_summarizer), in the layout of recent builds:
# space-aligned columns, no [start] column, the section titles after "INFO: ".  The operators are
# the model's own (its ops in run order, XNNPACK's operator names where the delegate takes them);
# the per-operator times are each measured run shared out by a cost model of the op (multiply-adds
# from the tensor shapes, plus a fixed cost per op), since the host interpreter cannot time its ops.
XNN_NAMES = {
    "CONV_2D": "Convolution (NHWC, F32) IGEMM", "DEPTHWISE_CONV_2D": "Convolution (NHWC, F32) DWConv",
    "FULLY_CONNECTED": "Fully Connected (NC, F32) GEMM", "MAX_POOL_2D": "Max Pooling (NHWC, F32)",
    "AVERAGE_POOL_2D": "Average Pooling (NHWC, F32)", "MEAN": "Global Average Pooling (NWC, F32)",
    "ADD": "Add (ND, F32)", "MUL": "Multiply (ND, F32)", "SUB": "Subtract (ND, F32)",
    "SOFTMAX": "Softmax (NC, F32)", "RESHAPE": "Copy (NC, X32)", "TRANSPOSE": "Transpose (ND, X32)",
    "RELU": "Clamp (NC, F32)", "RELU6": "Clamp (NC, F32)", "PAD": "Constant Pad (ND, X32)",
    "CONCATENATION": "Copy (NC, X32)", "LOGISTIC": "Sigmoid (NC, F32)", "HARD_SWISH": "HardSwish (NC, F32)",
}
_W = (48, 17, 16, 15, 16, 18, 17)


def _op_costs(interp) -> list[tuple[str, str, float]]:
    """(TFLite op type, node name, cost) per op in run order."""
    shapes = {t["index"]: [int(d) for d in t["shape"]] for t in interp.get_tensor_details()}
    names = {t["index"]: t["name"] for t in interp.get_tensor_details()}
    out = []
    for op in interp._get_ops_details():
        kind = op["op_name"]
        if kind == "DELEGATE":  # the delegate's own node: its operators are listed by their names
            continue
        outs = [i for i in op["outputs"] if i >= 0]
        ins = [i for i in op["inputs"] if i >= 0]
        o = float(np.prod(shapes.get(outs[0], [1]))) if outs else 1.0
        w = shapes.get(ins[1], []) if len(ins) > 1 else []
        if kind == "CONV_2D" and len(w) == 4:
            macs = o * w[1] * w[2] * w[3]
        elif kind == "DEPTHWISE_CONV_2D" and len(w) == 4:
            macs = o * w[1] * w[2]
        elif kind == "FULLY_CONNECTED" and len(w) == 2:
            macs = o * w[1]
        else:
            macs = float(np.prod(shapes.get(ins[0], [1]))) if ins else o
        out.append((kind, f"[{names.get(outs[0], '') if outs else ''}]:{op['index']}", macs + 2000.0))
    return out


def _row(cells: list[str]) -> str:
    return "".join(f"{c:>{w}}" for c, w in zip(cells, _W, strict=False)) + "".join(f"  {c}" for c in cells[len(_W):])


def _table(title: str, header: list[str], rows: list[list[str]]) -> list[str]:
    return [f"============================== {title} ==============================", _row(header), *map(_row, rows), ""]


def op_profile_tables(interp, runs_us: list[float], init_ms: float, *, xnnpack: bool) -> list[str]:
    costs = _op_costs(interp)
    total = sum(c for _, _, c in costs)
    avg_ms = sum(runs_us) / len(runs_us) / 1000.0
    first_ms = runs_us[0] / 1000.0
    ops = []
    for i, (kind, name, cost) in enumerate(costs):
        share = cost / total
        if xnnpack and kind in XNN_NAMES:
            kind, name = XNN_NAMES[kind], f"Delegate/{XNN_NAMES[kind]}:{i}"
        ops.append((kind, name, first_ms * share, avg_ms * share))
    head = ["[node type]", "[first]", "[avg ms]", "[%]", "[cdf%]", "[mem KB]", "[times called]", "[Name]"]

    def rows_of(items: list[tuple[str, str, float, float]]) -> list[list[str]]:
        rows, cdf = [], 0.0
        for kind, name, first, avg in items:
            pct = 100.0 * avg / avg_ms
            cdf += pct
            rows.append([kind, f"{first:.3f}", f"{avg:.3f}", f"{pct:.3f}%", f"{min(cdf, 100.0):.3f}%", "0.000", "1",
                         name])
        return rows

    by_type: dict[str, list[float]] = {}
    for kind, _name, _first, avg in ops:
        acc = by_type.setdefault(kind, [0, 0.0])
        acc[0] += 1
        acc[1] += avg
    summary, cdf = [], 0.0
    for kind, (n, ms) in sorted(by_type.items(), key=lambda kv: -kv[1][1]):
        pct = 100.0 * ms / avg_ms
        cdf += pct
        summary.append([kind, str(int(n)), f"{ms:.3f}", f"{pct:.3f}%", f"{min(cdf, 100.0):.3f}%", "0.000", str(int(n))])
    init = [["ModifyGraphWithDelegate" if xnnpack else "AllocateTensors", f"{init_ms:.3f}", f"{init_ms:.3f}",
             "100.000%", "100.000%", "0.000", "1", "ModifyGraphWithDelegate/0" if xnnpack else "AllocateTensors/0"]]
    us = [int(round(x)) for x in runs_us]
    std = int(round(statistics.pstdev(us))) if len(us) > 1 else 0
    lines = ["INFO: Profiling Info for Benchmark Initialization:",
             *_table("Run Order", head, init),
             *_table("Top by Computation Time", head, init),
             "Number of nodes executed: 1",
             *_table("Summary by node type", ["[Node type]", "[count]", "[avg ms]", "[avg %]", "[cdf %]", "[mem KB]",
                                              "[times called]"], [[init[0][0], "1", *init[0][2:7]]]),
             f"Timings (microseconds): count=1 curr={int(round(init_ms * 1000))}",
             "Memory (bytes): count=0", "1 nodes observed", "", "", "",
             "INFO: Operator-wise Profiling Info for Regular Benchmark Runs:",
             *_table("Run Order", head, rows_of(ops)),
             *_table("Top by Computation Time", head, rows_of(sorted(ops, key=lambda o: -o[3])[:10])),
             f"Number of nodes executed: {len(ops)}",
             *_table("Summary by node type", ["[Node type]", "[count]", "[avg ms]", "[avg %]", "[cdf %]", "[mem KB]",
                                              "[times called]"], summary),
             f"Timings (microseconds): count={len(us)} first={us[0]} curr={us[-1]} min={min(us)} max={max(us)} "
             f"avg={sum(us) / len(us):.6g} std={std}",
             "Memory (bytes): count=0", f"{len(ops)} nodes observed", ""]
    return lines


def stand_in_elf(e_machine: int = 183, note: bytes = b"stand-in: the fake phone runs the pushed model with host TFLite\n"
                 ) -> bytes:
    """A whole little-endian ELF64 executable header (aarch64 by default: arm64-v8a) with one program
    header covering the file: what `mwi` checks a `--benchmark-model` for before a sweep starts.  The fake
    phone runs any pushed ``benchmark_model*`` itself, so the bytes after the headers are a note."""
    import struct

    size = 64 + 56 + len(note)
    header = (b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
              + struct.pack("<HHIQQQIHHHHHH", 2, e_machine, 1, 0x400000, 64, 0, 0, 64, 56, 1, 64, 0, 0))
    phdr = struct.pack("<IIQQQQQQ", 1, 5, 0, 0x400000, 0x400000, size, size, 0x1000)
    return header + phdr + note
