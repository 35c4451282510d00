"""What a sweep measures: the spec (stored in the manifest so `--resume` rebuilds the plan)."""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..paired_stats import DEFAULT_ROUND_S
from ..vocab import BROWSER_RUNTIMES, GPU_BACKENDS, RUNTIME_BACKENDS, Budget, Cell
from .policy import loads_affordable

DEFAULT_MODELS = ("mobilenet_v2",)
DEFAULT_BACKENDS = ("wasm", "webgl", "webgpu", "webnn", "cpu")
#: backends that run one thread count only (GPU, WebNN and plain JS do not use wasm threads)
SINGLE_THREAD_COUNT = (*GPU_BACKENDS, "webnn", "cpu")
WEBNN_DEVICES = ("cpu", "gpu", "npu")
THREAD_POLICIES = ("as-is", "exact")
DEFAULT_THREADS = (1, 2)
DEFAULT_REPEATS = 3
#: native backends a phone runs when the user names none (benchmark_model: builtin CPU, XNNPACK, GPU delegate)
DEFAULT_PHONE_NATIVE = ("cpu", "xnnpack", "gpu")


@dataclass
class SweepSpec:
    """What to measure.  Stored in the run manifest so `--resume` can rebuild the plan."""

    targets: list[str] = field(default_factory=lambda: ["local"])
    models: list[str] = field(default_factory=lambda: list(DEFAULT_MODELS))
    runtimes: list[str] = field(default_factory=lambda: list(BROWSER_RUNTIMES))
    backends: list[str] = field(default_factory=lambda: list(DEFAULT_BACKENDS))
    threads: list[int] = field(default_factory=lambda: list(DEFAULT_THREADS))
    repeats: int = DEFAULT_REPEATS
    native: bool = True
    native_backends: list[str] | None = None
    native_runtimes: list[str] = field(default_factory=lambda: ["tflite-native"])  # + ort-native: host ORT, cpu
    profile_ops: bool = False      # per-operator profiles in separate processes (never in the latency numbers)
    browsers: list[str] | None = None
    budget: Budget = field(default_factory=Budget)
    chromium: str | None = None
    quick: bool = False
    # phones
    cooldown: dict[str, Any] = field(default_factory=dict)   # CooldownPolicy fields
    benchmark_model: str | None = None
    sample_interval_s: float = 1.0
    first_run: bool = False        # phones: dismiss browsers' first-run screens (uiautomator2, profile steps)
    on_throttle: str = "rerun"     # a cell during which the phone throttled: "rerun" (after cool-down) or "flag"
    max_reruns: int = 1
    max_infra_failures: int = 3    # consecutive infrastructure failures before a phone is quarantined
    boot_timeout_s: float = 180.0  # a phone that dropped away (a reboot, an update) is waited for this long
    webnn_device: str = "cpu"      # WebNN cells: the MLContext deviceType asked for
    thread_policy: str = "as-is"   # "exact": TF.js wasm is shown enough cores to use the threads asked
    capabilities: bool = True      # probe each browser's capabilities once per run (manifest `capabilities`)
    qoe: bool = False              # also QoE cells: the GUI workload alone / beside main-thread / worker inference
    qoe_only: bool = False         # `mwi qoe`: only the QoE cells
    qoe_rounds: int = 6            # rounds of the GUI workload per QoE page load
    pairing: bool = False          # browser cells take turns with their native reference in rounds (issue 21;
                                   # opt-in until the drift test and the quiet-machine bars are shown)
    pair_round_s: float = DEFAULT_ROUND_S  # each side's block per round, seconds
    order_seed: int = 0            # the seeded round-robin order of configurations within each repeat

    def validate(self) -> None:
        bad = [r for r in self.runtimes if r not in BROWSER_RUNTIMES]
        if bad:
            raise UsageError(f"unknown runtime {bad[0]!r}; choose from {', '.join(BROWSER_RUNTIMES)}")
        allb = sorted({b for bs in RUNTIME_BACKENDS.values() for b in bs})
        bad = [b for b in self.backends if b not in allb]
        if bad:
            raise UsageError(f"unknown backend {bad[0]!r}; choose from {', '.join(allb)}")
        if not self.threads or any(t < 1 or t > 64 for t in self.threads):
            raise UsageError("threads must be whole numbers from 1 to 64")
        if self.repeats < 1 or self.repeats > 1000:
            raise UsageError("repeats must be from 1 to 1000")
        if not self.models:
            raise UsageError("no models given")
        b = self.budget
        if b.iterations < 1 or b.warmups < 0 or b.time_budget_s <= 0 or b.cell_timeout_s <= 0 \
                or b.stall_timeout_s <= 0:
            raise UsageError("iterations must be >= 1, warmups >= 0, time budget, cell and stall timeouts > 0")
        if not 0 <= b.precision < 1:
            raise UsageError(f"--precision must be from 0 (off) to below 1, got {b.precision:g}")
        if b.max_time_s <= 0:
            raise UsageError(f"--max-time-per-cell must be > 0 seconds, got {b.max_time_s:g}")
        if b.max_warmups < 0 or b.warmup_window < 1 or b.warmup_drift < 0 or b.max_repeat_factor < 1:
            raise UsageError("max_warmups must be >= 0, warmup_window >= 1, warmup_drift >= 0, max_repeat_factor >= 1")
        if b.min_iterations > b.iterations:  # --iterations 2: at most 2 timed runs, whatever the default minimum
            self.budget = replace(b, min_iterations=b.iterations)
        if not self.targets:
            raise UsageError("no targets given")
        from ..vocab import NATIVE_RUNTIMES

        bad = [r for r in self.native_runtimes if r not in NATIVE_RUNTIMES]
        if bad:
            raise UsageError(f"unknown native runtime {bad[0]!r}; choose from {', '.join(NATIVE_RUNTIMES)}")
        if self.on_throttle not in ("rerun", "flag"):
            raise UsageError("on_throttle must be `rerun` or `flag`")
        if not 1 <= self.max_infra_failures <= 100:
            raise UsageError("--max-infra-failures must be from 1 to 100")
        if not 1 <= self.boot_timeout_s <= 3600:
            raise UsageError(f"--boot-timeout must be from 1 to 3600 seconds, got {self.boot_timeout_s:g}")
        if self.webnn_device not in WEBNN_DEVICES:
            raise UsageError(f"--webnn-device must be one of {', '.join(WEBNN_DEVICES)}")
        if self.thread_policy not in THREAD_POLICIES:
            raise UsageError(f"--thread-policy must be one of {', '.join(THREAD_POLICIES)}")
        if not 1 <= self.qoe_rounds <= 1000:
            raise UsageError("qoe_rounds must be from 1 to 1000")
        if not 0.01 <= self.pair_round_s <= 60:
            raise UsageError(f"--pair-round must be from 0.01 to 60 seconds, got {self.pair_round_s:g}")

    def cell_budget(self) -> Budget:
        """The budget of one cell: each page load / process's time ceiling is at most half its share
        of `max_time_s` (--max-time-per-cell) over the planned repeats, leaving room for extra repeats."""
        b = replace(self.budget, pair_round_s=self.pair_round_s if self.pairing else 0.0)
        if b.precision <= 0:
            return b
        return replace(b, time_budget_s=min(b.time_budget_s, max(0.5, b.max_time_s / (2 * self.repeats))))

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["budget"] = self.budget.to_json()
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SweepSpec:
        d = dict(d)
        d["budget"] = Budget.from_json(d.get("budget", {}))
        d.setdefault("pairing", False)  # a run made before issue 21 measured every cell unpaired
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})


def plan_cells(spec: SweepSpec, target: str, browsers: list[str], native_backends: list[str]) -> list[Cell]:
    """Every cell of one target, in the order they run: per model, repeat by repeat, every
    configuration once (native references included) in a seeded shuffled order (`sweep.order`,
    `order_seed`), so slow drift (heat, background load) spreads over every configuration instead
    of landing on one, and the native references are not all measured first."""
    from .order import interleave

    return interleave(_cells(spec, target, browsers, native_backends), spec.order_seed)


def _cells(spec: SweepSpec, target: str, browsers: list[str], native_backends: list[str]) -> list[Cell]:
    from ..vocab import NATIVE_BROWSER, NATIVE_RUNTIME, ORT_NATIVE_RUNTIME, QOE, QOE_MODES

    cells: list[Cell] = []
    latency = not spec.qoe_only
    qoe = spec.qoe or spec.qoe_only
    threads = sorted(set(spec.threads))
    native_rts = list(getattr(spec, "native_runtimes", None) or [NATIVE_RUNTIME])
    for model in spec.models:
        if latency and spec.native and NATIVE_RUNTIME in native_rts:
            for nb in native_backends:
                ts = threads if nb in ("cpu", "xnnpack") else [threads[0]]
                for t in ts:
                    for r in range(spec.repeats):
                        cells.append(Cell(target, NATIVE_BROWSER, model, NATIVE_RUNTIME, nb, t, r))
        if latency and spec.native and ORT_NATIVE_RUNTIME in native_rts and target == "local":  # host ONNX Runtime only
            for t in threads:
                for r in range(spec.repeats):
                    cells.append(Cell(target, NATIVE_BROWSER, model, ORT_NATIVE_RUNTIME, "cpu", t, r))
        for r in range(spec.repeats):
            for browser in browsers:
                for runtime in spec.runtimes:
                    for backend in RUNTIME_BACKENDS[runtime]:
                        if backend not in spec.backends:
                            continue
                        ts = [threads[0]] if backend in SINGLE_THREAD_COUNT else threads
                        for t in ts:
                            if latency:
                                cells.append(Cell(target, browser, model, runtime, backend, t, r))
                            if qoe:  # the three modes side by side, repeat by repeat (drift spreads)
                                cells.extend(Cell(target, browser, model, runtime, backend, t, r, QOE, mode)
                                             for mode in QOE_MODES)
    return cells


def estimate_seconds(cells: list[Cell], budget: Budget) -> float:
    """Rough wall time: the per-load time ceiling plus launch/load overhead (GPU cells run longer:
    software GPUs compile shaders for long), a configuration's loads cut at `max_time_s` as the
    runner cuts them; extra repeats, added where a configuration misses --precision, come on top
    (within the same --max-time-per-cell)."""
    by_conf: dict[tuple, list[float]] = {}
    qoe: set[tuple] = set()
    for c in cells:
        per = budget.time_budget_s + (2.0 if c.is_native else 6.0)
        if c.backend in GPU_BACKENDS:
            per *= 3
        by_conf.setdefault(c.config_key, []).append(per)
        if c.is_qoe:
            qoe.add(c.config_key)
    total = 0.0
    for conf, pers in by_conf.items():
        per = max(pers)
        n = 0
        cut = budget.precision > 0 and conf not in qoe  # QoE cells are never cut
        while n < len(pers) and (not cut or loads_affordable([per] * n, budget.max_time_s) > 0):
            n += 1
        total += per * n
    return total


#: how fast an idle phone's battery cools towards the gate's limit, C per second (about 1 C a minute:
#: a phone at rest, screen dimmed; a warm room or a case makes it slower)
COOLING_C_PER_S = 1.0 / 60
#: what the gate costs a cell that needs no wait: a thermal and a battery reading
GATE_CHECK_S = 2.0
#: after each cell a phone has warmed by about this much (C per minute of load) and waits it off
WARMING_C_PER_LOAD_S = 1.0 / 60


@dataclass(frozen=True)
class GateEstimate:
    """The cool-down gate's share of a sweep's time: expected and at worst (every cell waits out its
    timeout on a phone that never cools), with how it was estimated."""

    expected_s: float
    worst_s: float
    how: str


def estimate_gate_seconds(cells: list[Cell], budget: Budget, cooldown: dict[str, Any],
                          battery_now_c: dict[str, float | None]) -> GateEstimate | None:
    """The gate's waits on phone targets (None without any phone cell).  Expected: the battery's
    temperature now above the limit, cooled at COOLING_C_PER_S, once per phone; then each cell's own
    warming (WARMING_C_PER_LOAD_S x its time budget, over the limit only when the battery starts within
    that of it) waited off, each capped by the timeout; plus GATE_CHECK_S per cell.  Worst: every cell
    waits the whole timeout."""
    limit = float(cooldown.get("max_battery_c", 35.0))
    timeout = float(cooldown.get("timeout_s", 600.0))
    per_target: dict[str, int] = {}
    for c in cells:
        if c.target != "local":
            per_target[c.target] = per_target.get(c.target, 0) + 1
    if not per_target:
        return None
    expected = worst = 0.0
    parts = []
    for target, n in per_target.items():
        now = battery_now_c.get(target)
        first = min(timeout, max(0.0, (now - limit) / COOLING_C_PER_S)) if now is not None else 0.0
        warm = budget.time_budget_s * WARMING_C_PER_LOAD_S            # C a cell adds
        start = now if now is not None else limit
        over = max(0.0, min(start, limit) + warm - limit)             # above the limit after a cell
        each = min(timeout, over / COOLING_C_PER_S)
        expected += first + n * (GATE_CHECK_S + each)
        worst += n * (GATE_CHECK_S + timeout)
        parts.append(f"{target}: battery {'?' if now is None else f'{now:g}'} C now")
    how = (f"battery limit {limit:g} C, cooling ~{COOLING_C_PER_S * 60:g} C/min, {GATE_CHECK_S:g} s of readings a "
           f"cell; " + ", ".join(parts))
    return GateEstimate(expected, worst, how)


def load_spec_file(path: Path) -> dict[str, Any]:
    """A sweep file: TOML whose keys are SweepSpec's fields (budget and cooldown as tables)."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"sweep file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"sweep file {path} is not valid TOML: {exc}") from None
    data = data.get("sweep", data)
    known = set(SweepSpec.__dataclass_fields__)
    bad = sorted(set(data) - known)
    if bad:
        raise UsageError(f"sweep file {path}: unknown key(s) {', '.join(bad)} (known: {', '.join(sorted(known))})")
    if "budget" in data:
        bk = set(Budget.__dataclass_fields__)
        badb = sorted(set(data["budget"]) - bk)
        if badb:
            raise UsageError(f"sweep file {path}: unknown budget key(s) {', '.join(badb)}")
    return data
