"""Host-native ONNX Runtime runs (`ort-native`): the same .onnx file ONNX Runtime Web loads.

CPU execution provider only; `threads` sets the intra-op pool (inter-op 1, sequential
execution).  Like `host.run_isolated`, each run happens in a fresh child process, so its peak
memory (VmHWM) is its own.  `profile_isolated` runs a *separate* process with ONNX Runtime's
profiler on and returns the raw chrome-trace JSON: it never feeds latency numbers.

LiteRT's Python interpreter (ai-edge-litert) has no per-operator profiler (only the
`benchmark_model` binary does), so on the host the per-operator native side is ONNX Runtime's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CommandTimeout, MeasurementError, ModelError
from .host import NativeResult, _peak_rss_mb, _rss_mb, timed_loop

ORT_BACKENDS = ("cpu",)


def _ort():
    try:
        import onnxruntime as ort
    except ImportError:
        raise ModelError("no ONNX Runtime: pip install onnxruntime") from None
    return ort


def runtime_version() -> str:
    return f"onnxruntime {_ort().__version__}"


def _session(model_path: Path, threads: int, profile_prefix: str | None = None):
    ort = _ort()
    so = ort.SessionOptions()
    so.intra_op_num_threads = int(threads)
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    if profile_prefix:
        so.enable_profiling = True
        so.profile_file_prefix = profile_prefix
    try:
        return ort.InferenceSession(str(model_path), sess_options=so, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own Fail / InvalidGraph / RuntimeException types
        raise ModelError(f"ONNX Runtime could not load {model_path.name}: {str(exc).splitlines()[0]}") from None


def _feeds(sess, inputs: list[np.ndarray], input_names: list[str] | None) -> dict[str, np.ndarray]:
    metas = sess.get_inputs()
    names = [m.name for m in metas]
    if input_names and sorted(input_names) == sorted(names):
        names = list(input_names)
    if len(names) != len(inputs):
        raise ModelError(f"model has {len(names)} inputs, {len(inputs)} given")
    by = {m.name: m for m in metas}
    for n, x in zip(names, inputs, strict=True):
        want = by[n].shape
        if all(isinstance(d, int) for d in want) and tuple(want) != tuple(x.shape):
            raise ModelError(f"input {n}: model wants shape {tuple(want)}, got {x.shape}")
    return dict(zip(names, inputs, strict=True))


def _out_names(sess, output_names: list[str] | None) -> list[str]:
    have = [o.name for o in sess.get_outputs()]
    return list(output_names) if output_names and all(n in have for n in output_names) else have


def run_inprocess(model_path: Path, inputs: list[np.ndarray], *, threads: int, backend: str = "cpu",
                  warmups: int = 3, iterations: int = 30, min_iterations: int = 5, time_budget_s: float = 20.0,
                  output_names: list[str] | None = None, input_names: list[str] | None = None,
                  record_timestamps: bool = False, stopping: dict[str, Any] | None = None) -> NativeResult:
    """Load, run once (first inference), warm up, then time `iterations` runs (`host.timed_loop`)."""
    if backend not in ORT_BACKENDS:
        raise ModelError(f"ort-native backend {backend!r} not available (have: {', '.join(ORT_BACKENDS)})")
    rss0 = _rss_mb()
    t0 = time.perf_counter()
    sess = _session(model_path, threads)
    setup_ms = (time.perf_counter() - t0) * 1000
    feeds = _feeds(sess, inputs, input_names)
    outs = _out_names(sess, output_names)
    rss1 = _rss_mb()
    loop = timed_loop(lambda: sess.run(outs, feeds), warmups=warmups, iterations=iterations,
                      min_iterations=min_iterations, time_budget_s=time_budget_s,
                      record_timestamps=record_timestamps, **(stopping or {}))
    return loop.result(backend=backend, threads=int(threads), runtime=runtime_version(), setup_ms=setup_ms,
                       rss_before_mb=rss0, rss_after_load_mb=rss1, peak_rss_mb=_peak_rss_mb())


def profile_inprocess(model_path: Path, inputs: list[np.ndarray], *, threads: int, warmups: int = 3,
                      iterations: int = 10, out_dir: Path, input_names: list[str] | None = None) -> Path:
    """Run `warmups` + `iterations` times with ONNX Runtime's profiler on; return the trace file
    (chrome trace JSON).  ORT profiles the whole session, so the warmups are in the trace too: each
    run is one `model_run` event, and `parse_ort_profile(..., skip_runs=warmups)` drops them."""
    out_dir.mkdir(parents=True, exist_ok=True)
    sess = _session(model_path, threads, profile_prefix=str(out_dir / "ort_native_profile"))
    feeds = _feeds(sess, inputs, input_names)
    for _ in range(max(0, warmups) + max(1, iterations)):
        sess.run(None, feeds)
    return Path(sess.end_profiling())


def _child(spec: dict, what: str, timeout_s: float) -> dict:
    try:
        proc = subprocess.run([sys.executable, "-m", "mobile_webinfer.native.ort_worker"], input=json.dumps(spec),
                              capture_output=True, text=True, timeout=timeout_s, env=dict(os.environ))
    except subprocess.TimeoutExpired:
        raise CommandTimeout(f"host ONNX Runtime {what} exceeded {timeout_s:.0f} s") from None
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        msg = lines[-1] if lines else f"exit code {proc.returncode}"
        if proc.returncode < 0:
            msg = f"ONNX Runtime process died with signal {-proc.returncode}: {msg}"
        raise MeasurementError(f"host ONNX Runtime {what} failed: {msg}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_isolated(model_path: Path, input_paths: list[tuple[Path, str, list[int]]], *, threads: int,
                 backend: str = "cpu", warmups: int = 3, iterations: int = 30, min_iterations: int = 5,
                 time_budget_s: float = 20.0, timeout_s: float = 300.0, output_names: list[str] | None = None,
                 input_names: list[str] | None = None, record_timestamps: bool = False,
                 stopping: dict[str, Any] | None = None) -> NativeResult:
    """`run_inprocess` in a fresh child process.  input_paths: (raw file, dtype, shape) per input."""
    with tempfile.TemporaryDirectory(prefix="mwi-ort-") as tmp:
        out = Path(tmp) / "result.npz"
        spec = {"mode": "run", "model": str(model_path),
                "inputs": [[str(p), dt, list(sh)] for p, dt, sh in input_paths], "threads": threads,
                "backend": backend, "warmups": warmups, "iterations": iterations, "min_iterations": min_iterations,
                "time_budget_s": time_budget_s, "out": str(out), "output_names": output_names,
                "input_names": input_names, "record_timestamps": record_timestamps, "stopping": stopping}
        meta = _child(spec, f"run of {model_path.name}", timeout_s)
        data = np.load(out)
        outputs = [data[f"out{i}"] for i in range(meta.pop("n_outputs"))]
        return NativeResult(outputs=outputs, **meta)


def profile_isolated(model_path: Path, input_paths: list[tuple[Path, str, list[int]]], *, threads: int,
                     out_dir: Path, warmups: int = 3, iterations: int = 10, timeout_s: float = 300.0,
                     input_names: list[str] | None = None) -> Path:
    """`profile_inprocess` in a fresh child process; the raw trace is written under `out_dir`."""
    spec = {"mode": "profile", "model": str(model_path),
            "inputs": [[str(p), dt, list(sh)] for p, dt, sh in input_paths], "threads": threads,
            "warmups": warmups, "iterations": iterations, "out_dir": str(out_dir), "input_names": input_names}
    return Path(_child(spec, f"profile of {model_path.name}", timeout_s)["trace"])
