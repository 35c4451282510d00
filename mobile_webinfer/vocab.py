"""Cells and the settings every target shares.

A *cell* is one measurement: on one target, in one browser (or natively), one model, one
runtime and backend, one thread count, one repeat (a fresh page load or a fresh native
process).  Its key identifies it in the store, so a resumed sweep skips what is done.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

NATIVE_RUNTIME = "tflite-native"
ORT_NATIVE_RUNTIME = "ort-native"  # host ONNX Runtime (CPU EP) on the .onnx file ORT Web loads
NATIVE_RUNTIMES = (NATIVE_RUNTIME, ORT_NATIVE_RUNTIME)
NATIVE_BROWSER = "native"
# tflite = @tensorflow/tfjs-tflite (the study's, superseded by litert = LiteRT.js @litertjs/core)
BROWSER_RUNTIMES = ("tfjs", "tflite", "ort", "litert")
# runtime -> backends its adapter can ask for
RUNTIME_BACKENDS = {"tfjs": ("wasm", "webgl", "webgpu", "cpu"), "tflite": ("wasm",),
                    "ort": ("wasm", "webgpu", "webnn"), "litert": ("wasm", "webgpu", "webnn")}
# webnn is not here: its device (cpu / gpu / npu) is chosen per cell, not implied by the name
GPU_BACKENDS = ("webgl", "webgpu")
# runtime -> model file format it loads
RUNTIME_FORMAT = {"tfjs": "tfjs", "tflite": "tflite", "ort": "onnx", "litert": "tflite", NATIVE_RUNTIME: "tflite",
                  ORT_NATIVE_RUNTIME: "onnx"}

# What a cell measures: the latency gap, or the user's experience (a GUI workload beside inference)
LATENCY = "latency"
QOE = "qoe"
CELL_KINDS = (LATENCY, QOE)
# qoe cells: the workload alone, with the model inferring on the main thread, or in a Web Worker
QOE_MODES = ("baseline", "main", "worker")


@dataclass(frozen=True)
class Cell:
    target: str
    browser: str
    model: str
    runtime: str
    backend: str
    threads: int
    repeat: int
    kind: str = LATENCY        # "latency" (the gap) or "qoe" (GUI workload beside inference)
    qoe_mode: str = ""         # qoe cells: baseline | main | worker

    def __post_init__(self) -> None:
        if self.kind not in CELL_KINDS:
            raise ValueError(f"cell kind {self.kind!r} is not one of {', '.join(CELL_KINDS)}")
        if (self.kind == QOE) != (self.qoe_mode in QOE_MODES):
            raise ValueError(f"cell kind {self.kind!r} with qoe_mode {self.qoe_mode!r}")

    @property
    def key(self) -> str:
        parts = [self.target, self.browser, self.model, self.runtime, self.backend,
                 f"t{self.threads}", f"r{self.repeat}"]
        if self.kind == QOE:  # latency keys stay as every earlier run stored them (resume)
            parts.append(f"qoe-{self.qoe_mode}")
        return "|".join(parts)

    @property
    def config_key(self) -> tuple:
        """Everything but the repeat: cells that may be pooled."""
        base = (self.target, self.browser, self.model, self.runtime, self.backend, self.threads)
        return base if self.kind == LATENCY else (*base, self.kind, self.qoe_mode)

    @property
    def is_qoe(self) -> bool:
        return self.kind == QOE

    @property
    def is_native(self) -> bool:
        return self.runtime in NATIVE_RUNTIMES

    def to_json(self) -> dict:
        d = asdict(self)
        if self.kind == LATENCY:  # latency cells are stored as before the qoe fields existed
            d.pop("kind")
            d.pop("qoe_mode")
        return d

    @classmethod
    def from_json(cls, d: dict) -> Cell:
        """A stored cell (records of earlier runs have no kind: latency)."""
        kw = {k: d[k] for k in ("target", "browser", "model", "runtime", "backend", "threads", "repeat")}
        return cls(**kw, kind=d.get("kind", LATENCY), qoe_mode=d.get("qoe_mode", ""))


@dataclass(frozen=True)
class Budget:
    """How much to measure in each cell (one page load / native process) and in each configuration.

    Timed loop: at least `min_iterations`, then until the CI95 half-width of the median is <=
    `precision` x median (0: no early stop, a fixed budget), at most `iterations` runs or
    `time_budget_s` seconds (ceilings).  Natively the floor is also `native_min_iterations` runs
    and `native_min_time_s` seconds (as TFLite's benchmark_model).  Warm-up: at least `warmups`,
    then until the moving median of the last `warmup_window` runs drifts by <= `warmup_drift`, at
    most `max_warmups` (== warmups: a fixed count) or `time_budget_s`.  A configuration whose
    pooled CI misses `precision` gets extra repeats while it has spent < `max_time_s` (wall) and
    has < `max_repeat_factor` x the planned repeats."""

    warmups: int = 10
    iterations: int = 2000
    min_iterations: int = 5
    time_budget_s: float = 5.0
    cell_timeout_s: float = 1800.0  # hard ceiling of one cell; the operative watchdog is the stall bound
    stall_timeout_s: float = 120.0  # no event from the page for this long: the cell fails `stalled`
    timestamps: bool = False        # studies: store each timed latency's start (ms since the timed run began)
    precision: float = 0.02         # --precision: CI95 half-width of the median / median to stop at
    max_time_s: float = 40.0        # --max-time-per-cell: wall seconds one configuration may take, all repeats
    max_warmups: int = 50
    warmup_window: int = 5
    warmup_drift: float = 0.05
    native_min_iterations: int = 50
    native_min_time_s: float = 1.0
    max_repeat_factor: int = 3
    pair_round_s: float = 0.0       # paired cells (issue 21): round length, each side; 0 = unpaired (--no-pairing)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> Budget:
        """A stored budget (older runs lack the newer knobs: their defaults)."""
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})


QUICK = Budget(warmups=3, iterations=200, min_iterations=5, time_budget_s=2.0, cell_timeout_s=600.0,
               precision=0.05, max_time_s=60.0, max_warmups=10, warmup_window=3, native_min_iterations=10,
               native_min_time_s=0.2, max_repeat_factor=1)


@dataclass(frozen=True)
class PageOptions:
    """Settings of the harness page that every browser cell of a sweep shares."""

    webnn_device: str = "cpu"      # MLContext deviceType for webnn cells: cpu, gpu or npu
    thread_policy: str = "as-is"   # "exact": a runtime that caps wasm threads is shown enough cores

    def to_json(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class QoeOptions:
    """How each QoE cell runs (pages/qoe.html): rounds of the seeded GUI workload, the idle gap
    between its tasks, its seed, the host's synthetic tap interval, how long the window waits for
    the first tap to reach the page, and `block_ms` (a test knob: a busy loop of that many ms
    replaces each inference)."""

    rounds: int = 6
    gap_ms: float = 40.0
    seed: int = 14
    tap_interval_s: float = 0.3
    block_ms: float = 0.0
    tap_wait_s: float = 15.0   # the window's rounds wait this long at most for the first tap to land

    def to_json(self) -> dict:
        return asdict(self)
