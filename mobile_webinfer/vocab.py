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


@dataclass(frozen=True)
class Cell:
    target: str
    browser: str
    model: str
    runtime: str
    backend: str
    threads: int
    repeat: int

    @property
    def key(self) -> str:
        return "|".join([self.target, self.browser, self.model, self.runtime, self.backend,
                         f"t{self.threads}", f"r{self.repeat}"])

    @property
    def config_key(self) -> tuple:
        """Everything but the repeat: cells that may be pooled."""
        return (self.target, self.browser, self.model, self.runtime, self.backend, self.threads)

    @property
    def is_native(self) -> bool:
        return self.runtime in NATIVE_RUNTIMES

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Budget:
    """How much to measure in each cell."""

    warmups: int = 3
    iterations: int = 30
    min_iterations: int = 5
    time_budget_s: float = 10.0
    cell_timeout_s: float = 1800.0  # hard ceiling of one cell; the operative watchdog is the stall bound
    stall_timeout_s: float = 120.0  # no event from the page for this long: the cell fails `stalled`
    timestamps: bool = False        # studies: store each timed latency's start (ms since the timed run began)

    def to_json(self) -> dict:
        return asdict(self)


QUICK = Budget(warmups=2, iterations=10, min_iterations=3, time_budget_s=5.0, cell_timeout_s=600.0)


@dataclass(frozen=True)
class PageOptions:
    """Settings of the harness page that every browser cell of a sweep shares."""

    webnn_device: str = "cpu"      # MLContext deviceType for webnn cells: cpu, gpu or npu
    thread_policy: str = "as-is"   # "exact": a runtime that caps wasm threads is shown enough cores

    def to_json(self) -> dict[str, str]:
        return asdict(self)
