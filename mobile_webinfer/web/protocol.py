"""What the host and the test page say to each other.

The host builds a :class:`CellConfig` (one measurement "cell": a model on one runtime,
backend and thread count), the page GETs it as JSON, measures, and POSTs a result that
:func:`validate_result` turns into a frozen :class:`CellResult` or rejects with one line.

    cfg = config_for(manifest, "tfjs", "wasm", 1, iterations=30)
    result = validate_result(json.loads(body), config=cfg)   # raises InvalidResult
    agreement(result.outputs[0], reference_array)             # -> Agreement(max_abs_diff, top1_match)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..agreement import strided_max_abs_diff
from ..errors import BackendFallback, PageError, ParseError, UsageError
from ..stats import SLOW_FLOOR
from ..vocab import GPU_BACKENDS, QOE_MODES, RUNTIME_BACKENDS
from ..vocab import RUNTIME_FORMAT as _BASE_FORMAT

SCHEMA_VERSION = 1

#: runtime -> the model format it loads (browser runtimes only; the tables live in vocab).
RUNTIME_FORMAT: dict[str, str] = {r: f for r, f in _BASE_FORMAT.items() if r in RUNTIME_BACKENDS}
DTYPES = frozenset({"float32", "float16", "int32", "int64", "uint8", "int8", "bool"})
ERROR_KINDS = frozenset({
    "backend_fallback", "backend_unavailable", "context_lost", "gpu-context-lost", "model_load", "unsupported_op",
    "input", "nonfinite_output", "exception", "config", "result_rejected", "timeout",
    "unsupported",   # the browser cannot do what the cell needs (e.g. no WebNN), in its own words
    "pairing",       # a paired cell's turn with the host failed (issue 21)
})
#: backends whose runtime may run part of a graph elsewhere; the page then reports
#: ``<backend>-partial`` (measured, labelled, never shown as the backend asked for).
PARTIAL_BACKENDS = ("webgpu", "webnn")
WEBNN_DEVICES = ("cpu", "gpu", "npu")
#: "as-is": the runtime picks its threads, the result says how many were in effect;
#: "exact": runtimes that cap threads from navigator.hardwareConcurrency (TF.js wasm: half
#: of it) are shown enough cores before they load, and the result records the override.
THREAD_POLICIES = ("as-is", "exact")
WASM_BUILDS = ("compat", "simd", "threaded", "jspi")
#: why a page's timed loop ended (stats.STOP_REASONS)
STOP_REASONS = ("precision", "count-ceiling", "time-ceiling")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_DIGEST_RE = re.compile(r"^[0-9a-f]{64}$")


class InvalidResult(ParseError):
    """A posted result does not match the schema (the reason is one line)."""

    def __init__(self, message: str):
        super().__init__(message, source="result")


class PageReportedError(PageError):
    """The page measured nothing: it posted status "error" (``.kind``, ``.result``) or timed out."""

    def __init__(self, message: str, *, kind: str = "exception", result: CellResult | None = None):
        self.kind = kind
        self.result = result
        super().__init__(message)


class PageBackendFallback(PageReportedError, BackendFallback):
    """The page ran (or would have run) on another backend than the one asked for."""


# ---- config ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TensorSpec:
    """One model input or output: canonical name, shape, dtype (and the URL of its sample bytes)."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    url: str | None = None

    @property
    def size(self) -> int:
        return int(math.prod(self.shape))

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}
        if self.url is not None:
            d["url"] = self.url
        return d


@dataclass(frozen=True)
class ModelRef:
    """Where the page finds the model in the format its runtime loads."""

    name: str
    format: str
    url: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    io_inputs: tuple[str, ...] = ()
    io_outputs: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "format": self.format, "url": self.url,
            "inputs": [t.to_json() for t in self.inputs],
            "outputs": [t.to_json() for t in self.outputs],
            "io_names": {"inputs": list(self.io_inputs), "outputs": list(self.io_outputs)},
        }


@dataclass(frozen=True)
class QoeConfig:
    """A QoE cell's page settings (pages/qoe.html): the mode, how many rounds of the seeded GUI
    workload, the idle gap between its tasks, the seed, `block_ms`: a test knob that replaces
    the model with a busy loop of that many ms per "inference" (a runtime whose cost is known),
    and `tap_wait_ms`: how long the window waits for the host's first tap before its rounds
    start (0: no wait)."""

    mode: str
    rounds: int = 6
    gap_ms: float = 40.0
    seed: int = 14
    block_ms: float = 0.0
    tap_wait_ms: float = 15_000.0   # the rounds start once the first tap lands, or after this long

    def __post_init__(self) -> None:
        if self.mode not in QOE_MODES:
            raise UsageError(f"qoe mode must be one of {', '.join(QOE_MODES)}, got {self.mode!r}")
        if isinstance(self.rounds, bool) or not isinstance(self.rounds, int) or not 1 <= self.rounds <= 1000:
            raise UsageError(f"qoe rounds must be an integer in [1, 1000], got {self.rounds!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < 2**32:
            raise UsageError(f"qoe seed must be an integer in [0, 2**32), got {self.seed!r}")
        for name, x in (("gap_ms", self.gap_ms), ("block_ms", self.block_ms)):
            if not _finite(x) or not 0 <= x <= 10_000:
                raise UsageError(f"qoe {name} must be a number in [0, 10000], got {x!r}")
        if not _finite(self.tap_wait_ms) or not 0 <= self.tap_wait_ms <= 120_000:
            raise UsageError(f"qoe tap_wait_ms must be a number in [0, 120000], got {self.tap_wait_ms!r}")

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class CellConfig:
    """Everything the page needs to measure one cell.  ``cell`` is set by PageServer.open_cell."""

    runtime: str
    backend: str
    threads: int
    model: ModelRef
    warmups: int = 5
    iterations: int = 50
    min_iterations: int = 10
    time_budget_ms: float = 20_000.0
    topk: int = 5
    raw_output_max: int = 1024
    sample_count: int = 64
    cell: str = ""
    webnn_device: str = "cpu"
    thread_policy: str = "as-is"
    record_timestamps: bool = False  # studies: the page also posts latency_t_ms (start of each timed inference)
    profile_ops: bool = False  # a separate profiled page load: the page also posts op_profile (never latencies)
    qoe: QoeConfig | None = None  # a QoE cell: pages/qoe.html runs it (mwi qoe)
    # adaptive run counts (pages/stopping.js): precision 0 = run to a ceiling; max_warmups 0 = warmups fixed
    precision: float = 0.0
    max_warmups: int = 0
    warmup_window: int = 5
    warmup_drift: float = 0.05
    # paired cells (issue 21): after warm-up the page measures in blocks of `pair_round_ms`, each on the
    # host's word (POST .../turn), pausing between them while the native reference runs; 0 = unpaired
    pair_round_ms: float = 0.0
    pair_block_max: int = 0  # at most this many inferences in one block (0: no cap but `iterations`)
    pair_block_warmups: int = 1  # untimed inferences at the start of each block (re-warm after the pause)

    def __post_init__(self) -> None:
        check_config(self)

    @property
    def warmup_ceiling(self) -> int:
        return max(self.warmups, self.max_warmups)

    def with_cell(self, cell: str) -> CellConfig:
        return dataclasses.replace(self, cell=cell)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION, "cell": self.cell, "runtime": self.runtime,
            "backend": self.backend, "threads": self.threads, "model": self.model.to_json(),
            "warmups": self.warmups, "iterations": self.iterations,
            "min_iterations": self.min_iterations, "time_budget_ms": self.time_budget_ms,
            "topk": self.topk, "raw_output_max": self.raw_output_max, "sample_count": self.sample_count,
            "webnn_device": self.webnn_device, "thread_policy": self.thread_policy,
            "record_timestamps": self.record_timestamps, "profile_ops": self.profile_ops,
            "qoe": self.qoe.to_json() if self.qoe is not None else None,
            "precision": self.precision, "max_warmups": self.warmup_ceiling,
            "warmup_window": self.warmup_window, "warmup_drift": self.warmup_drift,
            "pair_round_ms": self.pair_round_ms, "pair_block_max": self.pair_block_max,
            "pair_block_warmups": self.pair_block_warmups,
        }

    @property
    def page(self) -> str:
        """The page that measures this cell."""
        return "qoe.html" if self.qoe is not None else "harness.html"


def check_config(cfg: CellConfig) -> None:
    """Raise UsageError (one line) when the config asks for something the page cannot do."""
    if cfg.runtime not in RUNTIME_BACKENDS:
        raise UsageError(f"unknown runtime {cfg.runtime!r} (choose from {', '.join(RUNTIME_BACKENDS)})")
    if cfg.backend not in RUNTIME_BACKENDS[cfg.runtime]:
        raise UsageError(f"runtime {cfg.runtime} has no backend {cfg.backend!r} "
                         f"(choose from {', '.join(RUNTIME_BACKENDS[cfg.runtime])})")
    if cfg.model.format != RUNTIME_FORMAT[cfg.runtime]:
        raise UsageError(f"runtime {cfg.runtime} loads {RUNTIME_FORMAT[cfg.runtime]} models, "
                         f"not {cfg.model.format}")
    ints = {"threads": (cfg.threads, 1, 256), "warmups": (cfg.warmups, 0, 10_000),
            "iterations": (cfg.iterations, 1, 1_000_000), "min_iterations": (cfg.min_iterations, 1, 1_000_000),
            "topk": (cfg.topk, 1, 1000), "raw_output_max": (cfg.raw_output_max, 0, 1 << 20),
            "sample_count": (cfg.sample_count, 1, 1 << 16)}
    for key, (value, lo, hi) in ints.items():
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise UsageError(f"{key} must be an integer in [{lo}, {hi}], got {value!r}")
    if cfg.webnn_device not in WEBNN_DEVICES:
        raise UsageError(f"webnn_device must be one of {', '.join(WEBNN_DEVICES)}, got {cfg.webnn_device!r}")
    if cfg.thread_policy not in THREAD_POLICIES:
        raise UsageError(f"thread_policy must be one of {', '.join(THREAD_POLICIES)}, got {cfg.thread_policy!r}")
    if cfg.min_iterations > cfg.iterations:
        raise UsageError(f"min_iterations ({cfg.min_iterations}) exceeds iterations ({cfg.iterations})")
    if not _finite_positive(cfg.time_budget_ms):
        raise UsageError(f"time_budget_ms must be a finite positive number, got {cfg.time_budget_ms!r}")
    for fname, fx, fhi in (("precision", cfg.precision, 1.0), ("warmup_drift", cfg.warmup_drift, 10.0)):
        if not _finite(fx) or not 0 <= fx <= fhi:
            raise UsageError(f"{fname} must be a number in [0, {fhi:g}], got {fx!r}")
    if not _finite(cfg.pair_round_ms) or not 0 <= cfg.pair_round_ms <= 60_000:
        raise UsageError(f"pair_round_ms must be a number in [0, 60000], got {cfg.pair_round_ms!r}")
    for iname, n in (("max_warmups", cfg.max_warmups), ("warmup_window", cfg.warmup_window),
                     ("pair_block_max", cfg.pair_block_max), ("pair_block_warmups", cfg.pair_block_warmups)):
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= 10_000:
            raise UsageError(f"{iname} must be an integer in [0, 10000], got {n!r}")
    if not _NAME_RE.match(cfg.model.name):
        raise UsageError(f"bad model name {cfg.model.name!r}")
    if cfg.cell and not _NAME_RE.match(cfg.cell):
        raise UsageError(f"bad cell id {cfg.cell!r}")
    if not cfg.model.inputs or not cfg.model.outputs:
        raise UsageError(f"model {cfg.model.name} declares no inputs or no outputs")
    for t in cfg.model.inputs + cfg.model.outputs:
        if t.dtype not in DTYPES or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in t.shape):
            raise UsageError(f"model {cfg.model.name}: bad tensor spec {t.name} {t.shape} {t.dtype}")
    for t in cfg.model.inputs:
        if not t.url:
            raise UsageError(f"model {cfg.model.name}: input {t.name} has no sample data")
    for names, specs, what in ((cfg.model.io_inputs, cfg.model.inputs, "inputs"),
                               (cfg.model.io_outputs, cfg.model.outputs, "outputs")):
        if names and len(names) != len(specs):
            raise UsageError(f"model {cfg.model.name}: {len(names)} {cfg.model.format} {what} names "
                             f"for {len(specs)} {what}")


def _manifest_parts(manifest: Any) -> tuple[Path | None, Mapping[str, Any]]:
    if isinstance(manifest, Mapping):
        return None, manifest
    data = getattr(manifest, "data", None)
    if not isinstance(data, Mapping):
        raise UsageError(f"not a model manifest: {type(manifest).__name__}")
    d = getattr(manifest, "dir", None)
    return (Path(d) if d is not None else None), data


def _specs(items: Any, what: str, model: str) -> list[dict[str, Any]]:
    if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
        raise UsageError(f"model {model}: manifest {what!r} must be a list of objects")
    return items


def config_for(manifest: Any, runtime: str, backend: str, threads: int = 1, *, warmups: int = 5,
               iterations: int = 50, min_iterations: int | None = None, time_budget_ms: float = 20_000.0,
               topk: int = 5, raw_output_max: int = 1024, sample_count: int = 64,
               models_url: str = "/models", model_name: str | None = None, webnn_device: str = "cpu",
               thread_policy: str = "as-is", record_timestamps: bool = False, precision: float = 0.0,
               max_warmups: int = 0, warmup_window: int = 5, warmup_drift: float = 0.05) -> CellConfig:
    """A CellConfig for one model (a ModelManifest with ``.dir``/``.data``, or its manifest dict).

    URLs are ``{models_url}/{model dir name}/{file}``, as PageServer serves a models dir.
    """
    mdir, data = _manifest_parts(manifest)
    name = model_name or (mdir.name if mdir is not None else str(data.get("name", "")))
    if not name or not _NAME_RE.match(name):
        raise UsageError(f"model has no usable name ({name!r})")
    if runtime not in RUNTIME_FORMAT:
        raise UsageError(f"unknown runtime {runtime!r} (choose from {', '.join(RUNTIME_FORMAT)})")
    fmt = RUNTIME_FORMAT[runtime]
    files = data.get("files") or {}
    entry = files.get(fmt) if isinstance(files, Mapping) else None
    if not isinstance(entry, Mapping) or not isinstance(entry.get("path"), str):
        raise UsageError(f"model {name} has no {fmt} file for runtime {runtime}")
    base = f"{models_url.rstrip('/')}/{name}/"

    def url(rel: str) -> str:
        rel_path = Path(rel)
        if rel_path.is_absolute() or ".." in rel_path.parts:
            raise UsageError(f"model {name}: file path {rel!r} leaves the model folder")
        return base + rel_path.as_posix()

    samples = {s.get("name"): s for s in _specs(data.get("sample_inputs", []), "sample_inputs", name)}
    inputs = []
    for i, spec in enumerate(_specs(data.get("inputs"), "inputs", name)):
        sample = samples.get(spec.get("name"))
        if sample is None:
            all_samples = _specs(data.get("sample_inputs", []), "sample_inputs", name)
            sample = all_samples[i] if i < len(all_samples) else None
        if sample is None or not isinstance(sample.get("path"), str):
            raise UsageError(f"model {name}: no sample input for {spec.get('name')!r}")
        inputs.append(TensorSpec(str(spec["name"]), tuple(spec["shape"]), str(spec["dtype"]), url(sample["path"])))
    outputs = [TensorSpec(str(s["name"]), tuple(s["shape"]), str(s["dtype"]))
               for s in _specs(data.get("outputs"), "outputs", name)]
    io = (data.get("io_names") or {}).get(fmt) or {}
    model = ModelRef(name=name, format=fmt, url=url(entry["path"]), inputs=tuple(inputs),
                     outputs=tuple(outputs), io_inputs=tuple(io.get("inputs") or ()),
                     io_outputs=tuple(io.get("outputs") or ()))
    if min_iterations is None:
        min_iterations = min(iterations, 5)
    return CellConfig(runtime=runtime, backend=backend, threads=threads, model=model, warmups=warmups,
                      iterations=iterations, min_iterations=min_iterations, time_budget_ms=time_budget_ms,
                      topk=topk, raw_output_max=raw_output_max, sample_count=sample_count,
                      webnn_device=webnn_device, thread_policy=thread_policy,
                      record_timestamps=record_timestamps, precision=precision, max_warmups=max_warmups,
                      warmup_window=warmup_window, warmup_drift=warmup_drift)


# ---- result ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ErrorInfo:
    kind: str
    message: str


@dataclass(frozen=True)
class OutputRecord:
    """One output as the page saw it: digest of its float32 bytes, top-k, values or a strided sample."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    size: int
    digest: str
    topk: tuple[tuple[int, float], ...]
    stats: Mapping[str, float]
    stride: int = 1
    values: tuple[float, ...] | None = None
    sample: tuple[float, ...] | None = None
    stable: bool | None = None   # same digest on the first and the last inference

    def sample_indices(self) -> np.ndarray:
        """Flat indices of the reported values (all of them, or the strided sample)."""
        if self.values is not None:
            return np.arange(self.size)
        n = len(self.sample or ())
        return np.arange(n) * self.stride


@dataclass(frozen=True)
class Delegation:
    """How much of the graph the accelerator took, as the runtime reported it (None: not said)."""

    delegated_nodes: int | None
    total_nodes: int | None
    partitions: int | None
    source: str | None = None

    @property
    def partial(self) -> bool | None:
        if self.delegated_nodes is None or self.total_nodes is None:
            return None
        return self.delegated_nodes < self.total_nodes

    def to_json(self) -> dict[str, Any]:
        return {"delegated_nodes": self.delegated_nodes, "total_nodes": self.total_nodes,
                "partitions": self.partitions, "source": self.source}


@dataclass(frozen=True)
class ConcurrencyOverride:
    """The thread policy showed the runtime ``reported`` cores instead of the browser's ``real``."""

    policy: str
    real: int
    reported: int


@dataclass(frozen=True)
class CellResult:
    """A validated result.  Lists are tuples; ``raw`` is the posted JSON without the token."""

    cell: str
    status: str
    error: ErrorInfo | None
    runtime: str
    backend_requested: str
    backend: str | None
    threads_requested: int | None
    threads: int | None
    simd: bool | None
    cross_origin_isolated: bool | None
    user_agent: str | None
    hardware_concurrency: int | None
    versions: Mapping[str, str]
    gpu: Mapping[str, Any] | None
    setup_ms: float | None
    first_inference_ms: float | None
    warmup_ms: tuple[float, ...]
    latencies_ms: tuple[float, ...]
    js_heap_mb: Mapping[str, float | None] | None
    outputs: tuple[OutputRecord, ...]
    frames: Mapping[str, Any] | None
    raw: Mapping[str, Any] = field(repr=False, compare=False, default_factory=dict)
    #: which wasm build the runtime loaded (LiteRT.js: compat / simd / threaded / jspi)
    wasm_build: str | None = None
    #: accelerator backends: did the whole model run there (None: not an accelerator / unknown)
    fully_accelerated: bool | None = None
    delegation: Delegation | None = None
    concurrency_override: ConcurrencyOverride | None = None

    @property
    def partial(self) -> bool:
        """The runtime ran part of the graph off the accelerator (backend ``<asked>-partial``)."""
        return bool(self.backend and self.backend.endswith("-partial"))

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def software_gpu(self) -> bool:
        return bool(self.gpu and self.gpu.get("software"))

    @property
    def hidden_during_run(self) -> bool | None:
        """True when the page was hidden (timers throttled) at some point; None if not reported."""
        vis = self.raw.get("visibility")
        return vis.get("hidden_during_run") if isinstance(vis, dict) else None


def _finite_positive(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x > 0


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


class _V:
    """Small helpers that raise InvalidResult naming the offending field."""

    def __init__(self, d: Mapping[str, Any]):
        self.d = d

    def get(self, key: str, kind: str, *, required: bool = True, nullable: bool = False) -> Any:
        if key not in self.d:
            if required:
                raise InvalidResult(f"missing field {key!r}")
            return None
        value = self.d[key]
        if value is None:
            if nullable or not required:
                return None
            raise InvalidResult(f"field {key!r} must not be null")
        checks = {
            "str": lambda v: isinstance(v, str) and len(v) <= 4096,
            "bool": lambda v: isinstance(v, bool),
            "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "pos": _finite_positive,
            "dict": lambda v: isinstance(v, dict),
            "list": lambda v: isinstance(v, list),
        }
        if not checks[kind](value):
            raise InvalidResult(f"field {key!r} must be {_KIND_WORD[kind]}, got {_short(value)}")
        return value


_KIND_WORD = {"str": "a string", "bool": "true or false", "int": "an integer",
              "pos": "a finite positive number", "dict": "an object", "list": "a list"}


def _short(v: Any) -> str:
    text = json.dumps(v, allow_nan=True)[:60]
    return text


def _pos_list(v: _V, key: str, lo: int, hi: int, *, required: bool) -> tuple[float, ...]:
    items = v.get(key, "list", required=required)
    if items is None:
        return ()
    if not lo <= len(items) <= hi:
        want = f"{lo}" if lo == hi else f"{lo}..{hi}"
        raise InvalidResult(f"field {key!r} has {len(items)} entries, expected {want}")
    for i, x in enumerate(items):
        if not _finite_positive(x):
            raise InvalidResult(f"{key}[{i}] must be a finite positive number, got {_short(x)}")
    return tuple(float(x) for x in items)


def _output(o: Any, i: int, spec: TensorSpec | None, cfg: CellConfig | None) -> OutputRecord:
    if not isinstance(o, dict):
        raise InvalidResult(f"outputs[{i}] must be an object")
    v = _V(o)
    where = f"outputs[{i}]"
    try:
        name = v.get("name", "str")
        shape = v.get("shape", "list")
        if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape):
            raise InvalidResult(f"field 'shape' must list non-negative integers, got {_short(shape)}")
        dtype = v.get("dtype", "str")
        size = v.get("size", "int")
        digest = v.get("digest", "str")
        topk = v.get("topk", "list")
        stats = v.get("stats", "dict")
        stride = v.get("stride", "int", required=False) or 1
        values = v.get("values", "list", required=False)
        sample = v.get("sample", "list", required=False)
        stable = v.get("stable", "bool", required=False, nullable=True)
    except InvalidResult as exc:
        raise InvalidResult(f"{where}: {exc.message}") from None
    if size != math.prod(shape):
        raise InvalidResult(f"{where}: size {size} does not match shape {shape}")
    if spec is not None and tuple(shape) != spec.shape:
        raise InvalidResult(f"{where}: shape {shape} differs from the model's {list(spec.shape)}")
    if not _DIGEST_RE.match(digest):
        raise InvalidResult(f"{where}: digest must be 64 lowercase hex characters")
    k = min(cfg.topk, size) if cfg else None
    if (k is not None and len(topk) != k) or len(topk) > size:
        raise InvalidResult(f"{where}: topk has {len(topk)} entries, expected {k}")
    pairs = []
    for j, p in enumerate(topk):
        if (not isinstance(p, list) or len(p) != 2 or isinstance(p[0], bool) or not isinstance(p[0], int)
                or not 0 <= p[0] < size or not _finite(p[1])):
            raise InvalidResult(f"{where}: topk[{j}] must be [index, finite value], got {_short(p)}")
        pairs.append((p[0], float(p[1])))
    if any(pairs[j][1] < pairs[j + 1][1] for j in range(len(pairs) - 1)):
        raise InvalidResult(f"{where}: topk is not sorted by value")
    for key in ("sum", "mean", "min", "max"):
        if not _finite(stats.get(key)):
            raise InvalidResult(f"{where}: stats.{key} must be a finite number, got {_short(stats.get(key))}")
    raw_max = cfg.raw_output_max if cfg else None
    if values is not None and sample is not None:
        raise InvalidResult(f"{where}: give values or sample, not both")
    if values is not None:
        if len(values) != size:
            raise InvalidResult(f"{where}: values has {len(values)} entries for size {size}")
        if raw_max is not None and size > raw_max:
            raise InvalidResult(f"{where}: values sent for size {size} > raw_output_max {raw_max}")
        if stride != 1:
            raise InvalidResult(f"{where}: stride must be 1 with full values")
    elif sample is not None:
        if raw_max is not None and size <= raw_max:
            raise InvalidResult(f"{where}: size {size} <= raw_output_max needs full values, not a sample")
        if stride < 1 or (len(sample) - 1) * stride >= max(size, 1) or not sample:
            raise InvalidResult(f"{where}: sample of {len(sample)} with stride {stride} does not fit size {size}")
        want = -(-size // stride)
        if cfg is not None:
            want = min(want, cfg.sample_count)
        if len(sample) != want:
            raise InvalidResult(f"{where}: sample has {len(sample)} entries, expected {want}")
    elif size:
        raise InvalidResult(f"{where}: neither values nor sample")
    for j, x in enumerate(values if values is not None else sample or ()):
        if not _finite(x):
            raise InvalidResult(f"{where}: value {j} is not a finite number ({_short(x)})")
    return OutputRecord(
        name=name, shape=tuple(shape), dtype=dtype, size=size, digest=digest, topk=tuple(pairs),
        stats={k: float(stats[k]) for k in ("sum", "mean", "min", "max")}, stride=stride,
        values=tuple(float(x) for x in values) if values is not None else None,
        sample=tuple(float(x) for x in sample) if sample is not None else None, stable=stable)


def _reject_constant(name: str) -> Any:
    raise InvalidResult(f"non-finite number {name} in JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d: dict[str, Any] = {}
    for k, val in pairs:
        if k in d:
            raise InvalidResult(f"duplicate key {k!r}")
        d[k] = val
    return d


def loads_strict(body: bytes | str) -> Any:
    """json.loads that refuses NaN/Infinity, duplicate keys and invalid UTF-8 (InvalidResult)."""
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_no_duplicates)
    except UnicodeDecodeError:
        raise InvalidResult("body is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise InvalidResult(f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise InvalidResult("JSON nested too deeply") from None


def _result_head(v: _V, config: CellConfig | None) -> tuple[str, str, ErrorInfo | None]:
    """What every page result opens with (harness and QoE pages): its cell (the config's, when
    given), its status (ok | error) and, for an error, the error (an ok result carries none)."""
    cell = v.get("cell", "str")
    if config is not None and cell != config.cell:
        raise InvalidResult(f"result is for cell {cell!r}, not {config.cell!r}")
    status = v.get("status", "str")
    if status not in ("ok", "error"):
        raise InvalidResult(f"status must be 'ok' or 'error', got {_short(status)}")
    ok = status == "ok"
    err_obj = v.get("error", "dict", required=not ok, nullable=ok)
    if ok and err_obj is not None:
        raise InvalidResult("status 'ok' with an error object")
    if err_obj is None:
        return cell, status, None
    ev = _V(err_obj)
    kind, message = ev.get("kind", "str"), ev.get("message", "str")
    if kind not in ERROR_KINDS:
        raise InvalidResult(f"unknown error kind {kind!r}")
    return cell, status, ErrorInfo(kind, message)


def validate_result(payload: Any, *, config: CellConfig | None = None) -> CellResult:
    """Check a posted result against the schema (and the cell's config, when given).

    Raises InvalidResult with a one-line reason.  The token is checked by the server,
    and left out of ``raw``.
    """
    if not isinstance(payload, dict):
        raise InvalidResult("result must be a JSON object")
    if config is not None and config.qoe is not None:
        raise InvalidResult("a QoE cell's result: validate it with web.qoe_protocol.validate_qoe_result")
    v = _V(payload)
    cell, status, error = _result_head(v, config)
    ok = status == "ok"
    runtime = v.get("runtime", "str")
    backend_requested = v.get("backend_requested", "str")
    if config is not None and (runtime, backend_requested) != (config.runtime, config.backend):
        raise InvalidResult(f"result is for {runtime}/{backend_requested}, the cell asked "
                            f"{config.runtime}/{config.backend}")
    backend = v.get("backend", "str", required=ok, nullable=not ok)
    partial_ok = backend_requested in PARTIAL_BACKENDS and backend == f"{backend_requested}-partial"
    if ok and backend != backend_requested and not partial_ok:
        raise InvalidResult(f"status 'ok' but backend {backend!r} differs from requested "
                            f"{backend_requested!r} (a fallback must be an error)")
    threads_requested = v.get("threads_requested", "int", required=ok)
    if config is not None and threads_requested is not None and threads_requested != config.threads:
        raise InvalidResult(f"threads_requested {threads_requested} differs from the cell's {config.threads}")
    threads = v.get("threads", "int", required=ok, nullable=True)
    if threads is not None and not 1 <= threads <= 1024:
        raise InvalidResult(f"threads must be in 1..1024, got {threads}")
    simd = v.get("simd", "bool", required=ok, nullable=True)
    coi = v.get("cross_origin_isolated", "bool", required=ok, nullable=not ok)
    ua = v.get("user_agent", "str", required=ok, nullable=not ok)
    hc = v.get("hardware_concurrency", "int", required=ok, nullable=True)
    versions = v.get("versions", "dict", required=ok, nullable=not ok) or {}
    if not all(isinstance(k, str) and isinstance(x, str) for k, x in versions.items()):
        raise InvalidResult("versions must map names to version strings")
    gpu = v.get("gpu", "dict", required=ok, nullable=True)
    if gpu is not None:
        gv = _V(gpu)
        gv.get("vendor", "str", nullable=True)
        gv.get("renderer", "str", nullable=True)
        gv.get("software", "bool")
    if ok and backend_requested in GPU_BACKENDS and gpu is None:
        raise InvalidResult(f"backend {backend} needs gpu info")
    wasm_build = v.get("wasm_build", "str", required=False, nullable=True)
    if wasm_build is not None and wasm_build not in WASM_BUILDS:
        raise InvalidResult(f"wasm_build must be one of {', '.join(WASM_BUILDS)}, got {_short(wasm_build)}")
    fully = v.get("fully_accelerated", "bool", required=False, nullable=True)
    if ok and fully is False and not partial_ok:
        raise InvalidResult(f"status 'ok' on {backend!r} with fully_accelerated false: "
                            f"report backend {backend_requested}-partial")
    if ok and partial_ok and fully is True:
        raise InvalidResult("backend reported partial but fully_accelerated is true")
    delegation = _delegation(v.get("delegation", "dict", required=False, nullable=True))
    override = _override(v.get("concurrency_override", "dict", required=False, nullable=True))
    setup = v.get("setup_ms", "pos", required=ok, nullable=not ok)
    first = v.get("first_inference_ms", "pos", required=ok, nullable=not ok)
    # warm-up: the floor (at least one run once a time ceiling cut it) .. the ceiling
    w_lo, w_hi = (min(config.warmups, 1) if config.max_warmups else config.warmups, config.warmup_ceiling) \
        if config else (0, 1 << 20)
    warm = _pos_list(v, "warmup_ms", w_lo if ok else 0, w_hi, required=ok)
    v.get("warmup_converged", "bool", required=False, nullable=True)
    stop_reason = v.get("stop_reason", "str", required=False, nullable=True)
    if stop_reason is not None and stop_reason not in STOP_REASONS:
        raise InvalidResult(f"stop_reason must be one of {', '.join(STOP_REASONS)}, got {_short(stop_reason)}")
    reached = payload.get("precision_reached")
    if reached is not None and not (_finite(reached) and reached >= 0):
        raise InvalidResult(f"precision_reached must be a finite non-negative number, got {_short(reached)}")
    # timed runs: the floor, or SLOW_FLOOR where an adaptive load's time ceiling came first
    lo, hi = ((min(config.min_iterations, SLOW_FLOOR) if config.precision > 0 else config.min_iterations,
               config.iterations) if config else (1, 1 << 24))
    lat = _pos_list(v, "latencies_ms", lo if ok else 0, hi, required=ok)
    stamps = v.get("latency_t_ms", "list", required=False, nullable=True)
    if stamps is not None and (len(stamps) != len(lat) or not all(_finite(x) and x >= 0 for x in stamps)):
        raise InvalidResult(f"latency_t_ms must hold one non-negative time per latency ({len(lat)}), "
                            f"got {len(stamps)} entries")
    heap = v.get("js_heap_mb", "dict", required=ok, nullable=True)
    if heap is not None:
        for k, x in heap.items():
            if k == "source":
                if not isinstance(x, str):
                    raise InvalidResult("js_heap_mb.source must be a string")
            elif x is not None and not (_finite(x) and x >= 0):
                raise InvalidResult(f"js_heap_mb.{k} must be a finite non-negative number, got {_short(x)}")
    outs_raw = v.get("outputs", "list", required=ok, nullable=not ok) or []
    specs: Sequence[TensorSpec | None] = config.model.outputs if config else [None] * len(outs_raw)
    if ok and len(outs_raw) != len(specs):
        raise InvalidResult(f"outputs has {len(outs_raw)} entries, the model has {len(specs)}")
    if not ok and (outs_raw or lat):
        raise InvalidResult("an error result carries no outputs and no latencies")
    outputs = tuple(_output(o, i, specs[i] if i < len(specs) else None, config) for i, o in enumerate(outs_raw))
    frames = v.get("frames", "dict", required=ok, nullable=True)
    if frames is not None:
        for k in ("count", "long_frames"):
            x = frames.get(k)
            if not (isinstance(x, int) and not isinstance(x, bool) and x >= 0):
                raise InvalidResult(f"frames.{k} must be a non-negative integer, got {_short(x)}")
        if not isinstance(frames.get("source"), str):
            raise InvalidResult("frames.source must name where the frame timing came from")
    vis = v.get("visibility", "dict", required=False, nullable=True)
    if vis is not None and not isinstance(vis.get("hidden_during_run"), bool):
        raise InvalidResult("visibility.hidden_during_run must be true or false")
    raw = {k: val for k, val in payload.items() if k != "token"}
    return CellResult(
        cell=cell, status=status, error=error, runtime=runtime, backend_requested=backend_requested,
        backend=backend, threads_requested=threads_requested, threads=threads, simd=simd,
        cross_origin_isolated=coi, user_agent=ua, hardware_concurrency=hc, versions=dict(versions),
        gpu=dict(gpu) if gpu is not None else None, setup_ms=float(setup) if setup is not None else None,
        first_inference_ms=float(first) if first is not None else None, warmup_ms=warm, latencies_ms=lat,
        js_heap_mb=dict(heap) if heap is not None else None, outputs=outputs,
        frames=dict(frames) if frames is not None else None, raw=raw, wasm_build=wasm_build,
        fully_accelerated=fully, delegation=delegation, concurrency_override=override)


def _count(d: Mapping[str, Any], key: str, where: str) -> int | None:
    x = d.get(key)
    if x is None:
        return None
    if isinstance(x, bool) or not isinstance(x, int) or x < 0:
        raise InvalidResult(f"{where}.{key} must be a non-negative integer or null, got {_short(x)}")
    return x


def _delegation(d: Mapping[str, Any] | None) -> Delegation | None:
    if d is None:
        return None
    rec = Delegation(_count(d, "delegated_nodes", "delegation"), _count(d, "total_nodes", "delegation"),
                     _count(d, "partitions", "delegation"),
                     d.get("source") if isinstance(d.get("source"), str) else None)
    if rec.delegated_nodes is not None and rec.total_nodes is not None and rec.delegated_nodes > rec.total_nodes:
        raise InvalidResult(f"delegation: {rec.delegated_nodes} delegated of {rec.total_nodes} nodes")
    return rec


def _override(d: Mapping[str, Any] | None) -> ConcurrencyOverride | None:
    if d is None:
        return None
    policy, real, reported = d.get("policy"), d.get("real"), d.get("reported")
    if policy not in THREAD_POLICIES or not all(isinstance(x, int) and not isinstance(x, bool) and 1 <= x <= 4096
                                                for x in (real, reported)):
        raise InvalidResult(f"concurrency_override must be {{policy, real, reported}}, got {_short(dict(d))}")
    assert isinstance(real, int) and isinstance(reported, int)
    return ConcurrencyOverride(str(policy), real, reported)


def error_for(result: CellResult) -> PageReportedError:
    """The exception that an error result stands for (PageBackendFallback for fallbacks)."""
    err = result.error or ErrorInfo("exception", "page reported an error without details")
    msg = (f"cell {result.cell} ({result.runtime}/{result.backend_requested}) failed: "
           f"{err.kind}: {' '.join(err.message.split())[:300]}")
    cls = PageBackendFallback if err.kind in ("backend_fallback", "backend_unavailable") else PageReportedError
    return cls(msg, kind=err.kind, result=result)


# ---- agreement ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Agreement:
    max_abs_diff: float
    top1_match: bool
    digest_match: bool
    compared: int   # how many values were compared (all, or the strided sample)


def float32_digest(array: Any) -> str:
    """sha256 of an array's values as little-endian float32 bytes (what the page digests)."""
    return hashlib.sha256(np.ascontiguousarray(np.asarray(array), dtype="<f4").tobytes()).hexdigest()


def agreement(out: OutputRecord, reference: Any) -> Agreement:
    """Compare one page output with a reference array (e.g. the native TFLite output)."""
    ref = np.asarray(reference, dtype=np.float64).reshape(-1)
    if ref.size != out.size:
        raise UsageError(f"output {out.name}: reference has {ref.size} values, page reported {out.size}")
    got = np.asarray(out.values if out.values is not None else out.sample or (), dtype=np.float64)
    diff = strided_max_abs_diff(got, 1 if out.values is not None else out.stride, ref)
    if diff is None:
        raise UsageError(f"output {out.name}: {got.size} reported values do not fit the reference")
    top1 = bool(out.topk) and int(np.argmax(ref)) == out.topk[0][0]
    return Agreement(max_abs_diff=diff, top1_match=top1, digest_match=float32_digest(ref) == out.digest,
                     compared=int(got.size))
