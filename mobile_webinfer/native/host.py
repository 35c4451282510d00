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


def run_inprocess(model_path: Path, inputs: list[np.ndarray], *, threads: int, backend: str = "xnnpack",
                  warmups: int = 3, iterations: int = 30, min_iterations: int = 5,
                  time_budget_s: float = 20.0, output_names: list[str] | None = None,
                  input_names: list[str] | None = None, record_timestamps: bool = False) -> NativeResult:
    """Load, run once (first inference), warm up, then time `iterations` invocations (with
    `record_timestamps`, also when each began: ms since the first timed one)."""
    if backend not in HOST_BACKENDS:
        raise ModelError(f"host backend {backend!r} not available here (have: {', '.join(HOST_BACKENDS)})")
    mod, version = _interpreter_module()
    rss0 = _rss_mb()
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

    rss1 = _rss_mb()
    outputs, first_ms, warm, lat, stamps = timed_loop(invoke, warmups=warmups, iterations=iterations,
                                                      min_iterations=min_iterations, time_budget_s=time_budget_s,
                                                      record_timestamps=record_timestamps)
    peak = _peak_rss_mb()
    return NativeResult(backend=backend, threads=int(threads), runtime=version, setup_ms=setup_ms,
                        first_inference_ms=first_ms, warmup_ms=warm, latencies_ms=lat,
                        rss_before_mb=rss0, rss_after_load_mb=rss1, peak_rss_mb=peak,
                        outputs=[np.array(o) for o in outputs], latency_t_ms=stamps)


def timed_loop(call: Callable[[], Any], *, warmups: int, iterations: int, min_iterations: int,
               time_budget_s: float, record_timestamps: bool = False
               ) -> tuple[Any, float, list[float], list[float], list[float] | None]:
    """The native measuring rule (every host runtime): the first call timed on its own, warmups apart,
    then timed calls until `iterations`, or the time budget once `min_iterations` are done.  Returns
    (first outputs, first ms, warmup ms, latencies ms, start of each timed call in ms or None)."""
    t = time.perf_counter()
    outputs = call()
    first_ms = (time.perf_counter() - t) * 1000
    warm = []
    for _ in range(max(0, warmups)):
        t = time.perf_counter()
        call()
        warm.append((time.perf_counter() - t) * 1000)
    lat: list[float] = []
    stamps: list[float] | None = [] if record_timestamps else None
    t_first = time.perf_counter()
    t_budget = t_first + time_budget_s
    while len(lat) < iterations and (len(lat) < min_iterations or time.perf_counter() < t_budget):
        t = time.perf_counter()
        call()
        lat.append((time.perf_counter() - t) * 1000)
        if stamps is not None:
            stamps.append(round((t - t_first) * 1000, 4))
    return outputs, first_ms, warm, lat, stamps


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
                 input_names: list[str] | None = None, record_timestamps: bool = False) -> NativeResult:
    """`run_inprocess` in a fresh child process.  input_paths: (raw file, dtype, shape) per input."""
    with tempfile.TemporaryDirectory(prefix="mwi-native-") as tmp:
        out = Path(tmp) / "result.npz"
        spec = {
            "model": str(model_path), "inputs": [[str(p), dt, list(sh)] for p, dt, sh in input_paths],
            "threads": threads, "backend": backend, "warmups": warmups, "iterations": iterations,
            "min_iterations": min_iterations, "time_budget_s": time_budget_s, "out": str(out),
            "output_names": output_names, "input_names": input_names, "record_timestamps": record_timestamps,
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
