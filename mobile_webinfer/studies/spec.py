"""What a study asks: kind, target, model, runs (RUNTIME/BACKEND), duration; parsed from flags."""

from __future__ import annotations

import math
import os
import re
from dataclasses import asdict, dataclass
from typing import Any

from ..errors import UsageError
from ..vocab import NATIVE_RUNTIME, RUNTIME_BACKENDS

KINDS = ("thermal", "battery")
NATIVE_BACKENDS = ("xnnpack", "cpu", "gpu", "nnapi")
#: test facility: a fake phone started with the same --time-scale runs its heat and charge clocks this much
#: faster, and a study divides its real durations by it (a "10 minute" study runs in 10 min / scale)
TIME_SCALE_ENV = "MWI_TEST_TIME_SCALE"
MIN_BATTERY_PCT = 25.0

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)?\s*$")
_UNIT_S = {"ms": 1e-3, "s": 1.0, None: 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """`60s`, `10m`, `1.5h`, `90` (seconds) -> seconds."""
    m = _DURATION.match(str(text))
    if not m:
        raise UsageError(f"cannot read duration {text!r}: use a number with s, m or h (e.g. 60s, 10m)")
    seconds = float(m.group(1)) * _UNIT_S[m.group(2)]
    if not math.isfinite(seconds) or seconds <= 0 or seconds > 24 * 3600:
        raise UsageError(f"duration {text!r} must be more than 0 and at most 24 h")
    return seconds


@dataclass(frozen=True)
class RunSpec:
    """One run of a study: `tfjs/wasm`, `tflite-native/xnnpack` (threads: `tfjs/wasm@2`)."""

    runtime: str
    backend: str
    threads: int = 1

    @property
    def native(self) -> bool:
        return self.runtime == NATIVE_RUNTIME

    @property
    def label(self) -> str:
        return f"{self.runtime}/{self.backend}" + (f"@{self.threads}" if self.threads != 1 else "")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def parse_runs(text: str) -> tuple[RunSpec, ...]:
    """`tfjs/wasm,tflite-native/xnnpack` -> runs (checked against the runtime tables)."""
    out: list[RunSpec] = []
    for item in (x.strip() for x in str(text).split(",")):
        if not item:
            continue
        body, _, th = item.partition("@")
        rt, sep, be = body.partition("/")
        if not sep or not rt or not be:
            raise UsageError(f"run {item!r}: write RUNTIME/BACKEND, e.g. tfjs/wasm or tflite-native/xnnpack")
        if rt == NATIVE_RUNTIME:
            if be not in NATIVE_BACKENDS:
                raise UsageError(f"run {item!r}: native backend must be one of {', '.join(NATIVE_BACKENDS)}")
        elif rt not in RUNTIME_BACKENDS:
            raise UsageError(f"run {item!r}: unknown runtime {rt!r} (choose from "
                             f"{', '.join((*RUNTIME_BACKENDS, NATIVE_RUNTIME))})")
        elif be not in RUNTIME_BACKENDS[rt]:
            raise UsageError(f"run {item!r}: runtime {rt} has no backend {be!r} "
                             f"(choose from {', '.join(RUNTIME_BACKENDS[rt])})")
        threads = 1
        if th:
            if not th.isdigit() or not 1 <= int(th) <= 64:
                raise UsageError(f"run {item!r}: threads after @ must be 1..64")
            threads = int(th)
        out.append(RunSpec(rt, be, threads))
    if not out:
        raise UsageError("--runs names no run (e.g. --runs tfjs/wasm,tflite-native/xnnpack)")
    if len({r.label for r in out}) != len(out):
        raise UsageError(f"--runs names a run twice: {text}")
    return tuple(out)


def time_scale() -> float:
    """The test clock factor (`MWI_TEST_TIME_SCALE`, default 1): only for fake phones that honour it."""
    raw = os.environ.get(TIME_SCALE_ENV)
    if not raw:
        return 1.0
    try:
        v = float(raw)
    except ValueError:
        raise UsageError(f"{TIME_SCALE_ENV}={raw!r} is not a number") from None
    if not (math.isfinite(v) and 0 < v <= 1000):
        raise UsageError(f"{TIME_SCALE_ENV} must be in (0, 1000]")
    return v


@dataclass(frozen=True)
class StudySpec:
    kind: str
    target: str
    model: str
    runs: tuple[RunSpec, ...]
    duration_s: float
    chromium: str | None = None
    benchmark_model: str | None = None
    browser: str | None = None          # phones: browser package (default: the first installed Chrome)
    sample_interval_s: float = 1.0
    max_battery_temp_c: float = 35.0
    cooldown_timeout_s: float = 600.0
    min_battery_pct: float = MIN_BATTERY_PCT
    time_scale: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise UsageError(f"study kind must be one of {', '.join(KINDS)}")
        if not self.runs:
            raise UsageError("a study needs at least one run")
        if not 0.0 < self.max_battery_temp_c < 100.0:
            raise UsageError(f"--max-battery-temp must be between 0 and 100 C, not {self.max_battery_temp_c:g}")
        if not 0.0 <= self.cooldown_timeout_s <= 24 * 3600:
            raise UsageError(f"--cooldown-timeout must be between 0 s and 24 h, not {self.cooldown_timeout_s:g} s")

    @property
    def real_duration_s(self) -> float:
        return self.duration_s / self.time_scale

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["runs"] = [r.to_json() for r in self.runs]
        return d
