"""The QoE page's side of the protocol (pages/qoe.html): its config section and its result.

A QoE result is a harness result without latencies or outputs, plus a `qoe` object:

    {"mode": "main", "seed": 14, "rounds": 6, "gap_ms": 40, "block_ms": 0,
     "setup_ms": 812.3, "first_inference_ms": 95.1,
     "tasks": [{"name": "list", "round": 0, "ms": 21.7}, ...],       # start -> frame showing it
     "frames": {"source": "in-page rAF", "count": 310, "long_frames": 4, "fps": 55.2, ...},
     "taps": [{"delay_ms": 3.1, "paint_ms": 17.9, "pointer": "mouse", "on_pad": true}, ...],
     "first_tap_wait_ms": 420.5,                                      # window -> first tap (null: none came)
     "event_timing": [{"input_delay_ms": 2.0, "duration_ms": 24}],   # Event Timing API, where it exists
     "window_ms": 5400.0, "inferences": 41, "inference_ms": [...], "inferences_per_s": 7.6}
"""

from __future__ import annotations

from typing import Any

from .protocol import (
    _V,
    CellConfig,
    CellResult,
    InvalidResult,
    QoeConfig,
    _finite,
    _finite_positive,
    _result_head,
    _short,
)

TASK_NAMES = frozenset({"list", "restyle", "scroll", "inputs", "canvas", "animation"})
MAX_TASKS = 20_000
MAX_TAPS = 10_000


def _nonneg(x: Any) -> bool:
    return _finite(x) and x >= 0


def validate_qoe_result(payload: dict[str, Any], config: CellConfig) -> CellResult:
    """Check a QoE page's result (ok or error) against its cell's config."""
    assert config.qoe is not None
    v = _V(payload)
    cell, status, error = _result_head(v, config)
    ok = status == "ok"
    runtime, requested = v.get("runtime", "str"), v.get("backend_requested", "str")
    if (runtime, requested) != (config.runtime, config.backend):
        raise InvalidResult(f"result is for {runtime}/{requested}, the cell asked {config.runtime}/{config.backend}")
    backend = v.get("backend", "str", required=ok, nullable=not ok)
    if ok and backend not in (requested, f"{requested}-partial"):
        raise InvalidResult(f"status 'ok' but backend {backend!r} differs from requested {requested!r}")
    threads = v.get("threads", "int", required=False, nullable=True)
    versions = v.get("versions", "dict", required=False, nullable=True) or {}
    gpu = v.get("gpu", "dict", required=False, nullable=True)
    q = v.get("qoe", "dict", required=ok, nullable=not ok)
    if not ok and q is not None:
        raise InvalidResult("an error result carries no qoe measurements")
    frames = None
    if q is not None:
        frames = _check_qoe(q, config.qoe)
    raw = {k: val for k, val in payload.items() if k != "token"}
    return CellResult(
        cell=cell, status=status, error=error, runtime=runtime, backend_requested=requested, backend=backend,
        threads_requested=config.threads, threads=threads, simd=None,
        cross_origin_isolated=v.get("cross_origin_isolated", "bool", required=False, nullable=True),
        user_agent=v.get("user_agent", "str", required=False, nullable=True),
        hardware_concurrency=v.get("hardware_concurrency", "int", required=False, nullable=True),
        versions={str(k): str(x) for k, x in versions.items()}, gpu=dict(gpu) if gpu is not None else None,
        setup_ms=None, first_inference_ms=None, warmup_ms=(), latencies_ms=(), js_heap_mb=None, outputs=(),
        frames=frames, raw=raw)


def _check_qoe(q: dict[str, Any], want: QoeConfig) -> dict[str, Any]:
    qv = _V(q)
    mode = qv.get("mode", "str")
    if mode != want.mode:
        raise InvalidResult(f"qoe.mode {mode!r} is not the cell's {want.mode!r}")
    tasks = qv.get("tasks", "list")
    if not tasks or len(tasks) > MAX_TASKS:
        raise InvalidResult(f"qoe.tasks must hold 1..{MAX_TASKS} tasks, got {len(tasks)}")
    for i, t in enumerate(tasks):
        if not isinstance(t, dict) or t.get("name") not in TASK_NAMES or not _finite_positive(t.get("ms")) \
                or not isinstance(t.get("round"), int):
            raise InvalidResult(f"qoe.tasks[{i}] must be {{name, round, ms > 0}}, got {_short(t)}")
    frames = qv.get("frames", "dict")
    for k in ("count", "long_frames"):
        x = frames.get(k)
        if not (isinstance(x, int) and not isinstance(x, bool) and x >= 0):
            raise InvalidResult(f"qoe.frames.{k} must be a non-negative integer, got {_short(x)}")
    if not isinstance(frames.get("source"), str):
        raise InvalidResult("qoe.frames.source must name where the frame timing came from")
    taps = qv.get("taps", "list")
    if len(taps) > MAX_TAPS:
        raise InvalidResult(f"qoe.taps holds {len(taps)} taps (at most {MAX_TAPS})")
    for i, t in enumerate(taps):
        if not isinstance(t, dict) or not _nonneg(t.get("delay_ms")) \
                or not (t.get("paint_ms") is None or _nonneg(t.get("paint_ms"))):
            raise InvalidResult(f"qoe.taps[{i}] must be {{delay_ms >= 0, paint_ms >= 0 or null}}, got {_short(t)}")
        if "on_pad" in t and not isinstance(t["on_pad"], bool):
            raise InvalidResult(f"qoe.taps[{i}].on_pad must be true or false, got {_short(t['on_pad'])}")
    timing = q.get("event_timing") or []
    if not isinstance(timing, list) or len(timing) > MAX_TAPS or not all(
            isinstance(e, dict) and _nonneg(e.get("duration_ms")) for e in timing):
        raise InvalidResult(f"qoe.event_timing must be a list of {{duration_ms >= 0, ...}}, got {_short(timing)}")
    if q.get("event_timing_supported") not in (None, True, False):
        raise InvalidResult("qoe.event_timing_supported must be true, false or absent")
    wait = q.get("first_tap_wait_ms")
    if wait is not None and not _nonneg(wait):
        raise InvalidResult(f"qoe.first_tap_wait_ms must be a number >= 0 or null, got {_short(wait)}")
    if not _finite_positive(qv.get("window_ms", "pos")):
        raise InvalidResult("qoe.window_ms must be positive")
    n = qv.get("inferences", "int")
    lat = qv.get("inference_ms", "list")
    if n != len(lat) or not all(_finite_positive(x) for x in lat):
        raise InvalidResult(f"qoe.inferences ({n}) must count qoe.inference_ms, every one positive")
    if mode == "baseline" and n:
        raise InvalidResult("a baseline cell runs no inference")
    if mode != "baseline" and n == 0:
        raise InvalidResult(f"no inference finished inside the {mode} cell's window")
    return dict(frames)
