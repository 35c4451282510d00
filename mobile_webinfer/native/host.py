"""Host-native TFLite runs: the same .tflite and the same seeded input as the browser page.

The interpreter comes from `ai-edge-litert` (the successor of `tflite-runtime`, whose last
release breaks under numpy 2); `tflite_runtime` is used only where a user has it and
litert is missing.  Each run happens in a fresh child process (`run_isolated`), so its
peak memory is its own and a crash in the runtime cannot take the sweep down.

Backends: `xnnpack` (TFLite's default CPU delegate, what phones run) and `cpu` (builtin
kernels, no default delegates).  There is no GPU delegate on a desktop Linux host.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CommandTimeout, MeasurementError, ModelError

HOST_BACKENDS = ("xnnpack", "cpu")


def _interpreter_module():
    try:
        import ai_edge_litert
        from ai_edge_litert import interpreter as mod

        return mod, f"ai-edge-litert {getattr(ai_edge_litert, '__version__', '?')}"
    except ImportError:
        pass
    try:
        import tflite_runtime
        from tflite_runtime import interpreter as mod

        return mod, f"tflite-runtime {getattr(tflite_runtime, '__version__', '?')}"
    except ImportError:
        raise ModelError("no TFLite interpreter: pip install ai-edge-litert") from None


def runtime_version() -> str:
    return _interpreter_module()[1]


@dataclass(frozen=True)
class NativeResult:
    backend: str
    threads: int
    runtime: str
    setup_ms: float
    first_inference_ms: float
    warmup_ms: list[float]
    latencies_ms: list[float]
    rss_before_mb: float
    rss_after_load_mb: float
    peak_rss_mb: float
    outputs: list[np.ndarray] = field(repr=False)
    latency_t_ms: list[float] | None = None  # studies: start of each timed inference, ms since the first
    warmup_converged: bool | None = None     # warm-up ended by convergence (None: a fixed count)
    stop_reason: str | None = None           # precision | count-ceiling | time-ceiling
    precision_reached: float | None = None   # CI95 half-width of the median / median, in this process

    def to_json(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "outputs"}


def _status_mb(field: str) -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def _rss_mb() -> float:
    return _status_mb("VmRSS")


def _peak_rss_mb() -> float:
    """This process's RSS high-water mark.  VmHWM starts afresh at exec; getrusage's ru_maxrss
    does not (Linux keeps the parent's across fork + exec), so a big parent would leak into it."""
    hwm = _status_mb("VmHWM")
    return hwm if hwm == hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def load_invoker(model_path: Path, inputs: list[np.ndarray], *, threads: int, backend: str = "xnnpack",
                 output_names: list[str] | None = None,
                 input_names: list[str] | None = None) -> tuple[Callable[[], list[np.ndarray]], float, str]:
    """Load the model into a LiteRT interpreter: (invoke, setup ms, runtime version).  `invoke()` sets
    the inputs, runs once and reads the outputs back (what `run_inprocess` and the warm child time)."""
    if backend not in HOST_BACKENDS:
        raise ModelError(f"host backend {backend!r} not available here (have: {', '.join(HOST_BACKENDS)})")
    mod, version = _interpreter_module()
    kwargs: dict = {"model_path": str(model_path), "num_threads": int(threads)}
    if backend == "cpu":
        kwargs["experimental_op_resolver_type"] = mod.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    t0 = time.perf_counter()
    try:
        interp = mod.Interpreter(**kwargs)
        interp.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise ModelError(f"TFLite could not load {model_path.name}: {exc}") from None
    setup_ms = (time.perf_counter() - t0) * 1000
    in_details = _ordered(interp.get_input_details(), input_names)
    out_details = _ordered(interp.get_output_details(), output_names)
    if len(in_details) != len(inputs):
        raise ModelError(f"model has {len(in_details)} inputs, {len(inputs)} given")
    for d, x in zip(in_details, inputs, strict=True):
        if tuple(d["shape"]) != tuple(x.shape):
            raise ModelError(f"input {d['name']}: model wants shape {tuple(d['shape'])}, got {x.shape}")

    def invoke() -> list[np.ndarray]:
        for d, x in zip(in_details, inputs, strict=True):
            interp.set_tensor(d["index"], x.astype(d["dtype"], copy=False))
        interp.invoke()
        return [interp.get_tensor(d["index"]) for d in out_details]

    return invoke, setup_ms, version


def run_inprocess(model_path: Path, inputs: list[np.ndarray], *, threads: int, backend: str = "xnnpack",
                  warmups: int = 3, iterations: int = 30, min_iterations: int = 5,
                  time_budget_s: float = 20.0, output_names: list[str] | None = None,
                  input_names: list[str] | None = None, record_timestamps: bool = False,
                  stopping: dict[str, Any] | None = None) -> NativeResult:
    """Load, run once (first inference), warm up, then time `iterations` invocations (with
    `record_timestamps`, also when each began: ms since the first timed one).  `stopping`: the
    adaptive rule's knobs (`timed_loop`); without it a fixed budget, as before."""
    rss0 = _rss_mb()
    invoke, setup_ms, version = load_invoker(model_path, inputs, threads=threads, backend=backend,
                                             output_names=output_names, input_names=input_names)
    rss1 = _rss_mb()
    loop = timed_loop(invoke, warmups=warmups, iterations=iterations, min_iterations=min_iterations,
                      time_budget_s=time_budget_s, record_timestamps=record_timestamps, **(stopping or {}))
    peak = _peak_rss_mb()
    return loop.result(backend=backend, threads=int(threads), runtime=version, setup_ms=setup_ms,
                       rss_before_mb=rss0, rss_after_load_mb=rss1, peak_rss_mb=peak)


@dataclass(frozen=True)
class Loop:
    """What `timed_loop` measured."""

    outputs: Any
    first_ms: float
    warmup_ms: list[float]
    latencies_ms: list[float]
    stamps: list[float] | None
    warmup_converged: bool | None
    stop_reason: str
    precision_reached: float | None

    def result(self, **kw: Any) -> NativeResult:
        return NativeResult(first_inference_ms=self.first_ms, warmup_ms=self.warmup_ms, latencies_ms=self.latencies_ms,
                            outputs=[np.array(o) for o in self.outputs], latency_t_ms=self.stamps,
                            warmup_converged=self.warmup_converged, stop_reason=self.stop_reason,
                            precision_reached=self.precision_reached, **kw)


def stopping_knobs(budget: Any) -> dict[str, Any]:
    """`timed_loop`'s adaptive knobs from a sweep's `vocab.Budget` (the run floor natively:
    `stats.stop_rule(budget, native=True).min_iterations`)."""
    from ..stats import stop_rule

    rule = stop_rule(budget, native=True)
    return {"precision": rule.precision, "min_time_s": rule.min_time_s, "max_warmups": budget.max_warmups, "warmup_window": budget.warmup_window,
            "warmup_drift": budget.warmup_drift}


def timed_loop(call: Callable[[], Any], *, warmups: int, iterations: int, min_iterations: int,
               time_budget_s: float, record_timestamps: bool = False, precision: float = 0.0,
               max_warmups: int | None = None, warmup_window: int = 5, warmup_drift: float = 0.05,
               min_time_s: float = 0.0) -> Loop:
    """The native measuring rule (every host runtime): the first call timed on its own; warm-up
    (`stats.WarmupRule`: at least `warmups`, then until converged, at most `max_warmups`; a fixed
    count without it); then timed calls under `stats.StopRule`: at least `min_iterations` and
    `min_time_s`, until the CI95 half-width of the median is <= `precision` x median (0: never
    early), at most `iterations` or `time_budget_s`."""
    from ..stats import StopRule, WarmupRule, run_until, warm_up

    t = time.perf_counter()
    outputs = call()
    first_ms = (time.perf_counter() - t) * 1000
    w = max(0, warmups)
    warm, converged = warm_up(call, WarmupRule(min_runs=w, max_runs=max(w, max_warmups or w), window=warmup_window,
                                               drift=warmup_drift, max_time_s=time_budget_s), time.perf_counter)
    stamps: list[float] | None = [] if record_timestamps else None
    t_first = time.perf_counter()

    def timed() -> float:
        t = time.perf_counter()
        call()
        ms = (time.perf_counter() - t) * 1000
        if stamps is not None:
            stamps.append(round((t - t_first) * 1000, 4))
        return ms

    rule = StopRule(precision=precision, min_iterations=min(min_iterations, iterations), max_iterations=iterations,
                    min_time_s=min_time_s, max_time_s=time_budget_s)
    lat, why, reached = run_until(timed, rule, time.perf_counter)
    return Loop(outputs, first_ms, warm, lat, stamps, converged, why, reached)


def _ordered(details: list[dict], names: list[str] | None) -> list[dict]:
    """Tensor details in canonical order: by the manifest's per-format names where they match."""
    if not names:
        return list(details)
    by_name = {d["name"]: d for d in details}
    if all(n in by_name for n in names):
        return [by_name[n] for n in names]
    return list(details)


def run_isolated(model_path: Path, input_paths: list[tuple[Path, str, list[int]]], *, threads: int,
                 backend: str = "xnnpack", warmups: int = 3, iterations: int = 30, min_iterations: int = 5,
                 time_budget_s: float = 20.0, timeout_s: float = 300.0, output_names: list[str] | None = None,
                 input_names: list[str] | None = None, record_timestamps: bool = False,
                 stopping: dict[str, Any] | None = None) -> NativeResult:
    """`run_inprocess` in a fresh child process.  input_paths: (raw file, dtype, shape) per input."""
    with tempfile.TemporaryDirectory(prefix="mwi-native-") as tmp:
        out = Path(tmp) / "result.npz"
        spec = {
            "model": str(model_path), "inputs": [[str(p), dt, list(sh)] for p, dt, sh in input_paths],
            "threads": threads, "backend": backend, "warmups": warmups, "iterations": iterations,
            "min_iterations": min_iterations, "time_budget_s": time_budget_s, "out": str(out),
            "output_names": output_names, "input_names": input_names, "record_timestamps": record_timestamps,
            "stopping": stopping,
        }
        env = dict(os.environ)
        try:
            proc = subprocess.run([sys.executable, "-m", "mobile_webinfer.native.host_worker"],
                                  input=json.dumps(spec), capture_output=True, text=True,
                                  timeout=timeout_s, env=env)
        except subprocess.TimeoutExpired:
            raise CommandTimeout(f"host TFLite run of {model_path.name} exceeded {timeout_s:.0f} s") from None
        if proc.returncode != 0:
            # LiteRT's "INFO: Created TensorFlow Lite XNNPACK delegate" is no error: the message is the last other line
            lines = [ln for ln in (proc.stderr or proc.stdout).strip().splitlines() if not ln.startswith("INFO: ")]
            msg = lines[-1] if lines else f"exit code {proc.returncode}"
            if proc.returncode < 0:
                msg = f"TFLite process died with signal {-proc.returncode}: {msg}"
            raise MeasurementError(f"host TFLite run failed: {msg}")
        meta = json.loads(proc.stdout.strip().splitlines()[-1])
        data = np.load(out)
        outputs = [data[f"out{i}"] for i in range(meta.pop("n_outputs"))]
        return NativeResult(outputs=outputs, **meta)
