"""The stored cell record: frozen, typed, versioned (the seam between targets, sweep and report).

One `CellRecord` per measured (or failed, or skipped) cell.  Targets build it from their
source with one constructor each (`from_page_result`, `from_benchmark_model`,
`from_host_native`, `failed`, `skipped`); the runner adds identity, agreement and flags
with `dataclasses.replace`; the store writes `to_json()`; the report reads `from_json()`.

On disk the layout is the one every earlier run used (`results.jsonl`, one object per line):
timings at the top level, `in_effect`, `memory`, `context`, `agreement` as objects.  Keys this
version does not know are kept in `extra` and written back, so nothing a page or a newer tool
reported is lost.  Schema 1 (the first wave) loads unchanged: it only lacked keys.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, TypeVar

from .errors import StoreError
from .vocab import Cell

SCHEMA_VERSION = 2
READABLE_SCHEMAS = (1, 2)

#: flag stored with a cell whose page was hidden (timers throttled) at any time during the timed run
PAGE_HIDDEN = "page-hidden"
#: a planned repeat not run: its configuration had spent its --max-time-per-cell (status "skipped")
TIME_CEILING_SKIP = "skipped-time-ceiling"

T = TypeVar("T", bound="_Part")


def _plain(v: Any) -> Any:
    """JSON-ready: tuples to lists, records to their JSON, mappings copied."""
    if isinstance(v, _Part):
        return v.to_json()
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    return v


def _frozen(v: Any) -> Any:
    """Lists (from JSON) to tuples, recursively, so a record is hashable-ish and never mutated."""
    if isinstance(v, list):
        return tuple(_frozen(x) for x in v)
    return v


@dataclass(frozen=True)
class _Part:
    """A typed JSON object with an `extra` mapping for keys this version does not name."""

    _NESTED: ClassVar[dict[str, type[_Part]]] = {}
    _RENAMED: ClassVar[dict[str, str]] = {}  # field name -> JSON key where they differ

    @classmethod
    def from_json(cls: type[T], d: Mapping[str, Any] | None) -> T:
        d = dict(d or {})
        kw: dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "extra":
                continue
            key = cls._RENAMED.get(f.name, f.name)
            if key not in d:
                continue
            v = d.pop(key)
            sub = cls._NESTED.get(f.name)
            if sub is not None and v is not None:
                v = sub.from_json(v) if isinstance(v, Mapping) else v
            kw[f.name] = _frozen(v) if sub is None else v
        return cls(**kw, extra=d)  # type: ignore[call-arg]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "extra":
                continue
            out[self._RENAMED.get(f.name, f.name)] = _plain(getattr(self, f.name))
        for k, v in getattr(self, "extra", {}).items():
            out.setdefault(k, _plain(v))
        return out


@dataclass(frozen=True)
class InEffect(_Part):
    """What actually ran: the runtime's own report (page or native), never what was asked."""

    runtime: str | None = None
    backend: str | None = None
    backend_requested: str | None = None
    threads: int | None = None
    threads_requested: int | None = None
    simd: bool | None = None
    cross_origin_isolated: bool | None = None
    versions: Mapping[str, Any] = field(default_factory=dict)
    user_agent: str | None = None
    hardware_concurrency: int | None = None
    gpu: Mapping[str, Any] | None = None
    software_gpu: bool = False
    nodes_delegated: int | None = None
    nodes_total: int | None = None
    wasm_files: tuple[Any, ...] | None = None
    wasm_build: str | None = None                      # which of the runtime's wasm builds loaded
    fully_accelerated: bool | None = None              # whole graph on the accelerator asked for
    delegation: Mapping[str, Any] | None = None        # {delegated_nodes, total_nodes, partitions, source}
    concurrency_override: Mapping[str, Any] | None = None  # thread policy `exact`: {policy, real, reported}
    runtime_info: Mapping[str, Any] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def partial(self) -> bool:
        """Part of the graph ran off the accelerator asked for (backend `<asked>-partial`)."""
        return bool(self.backend and self.backend.endswith("-partial"))

    def delegation_summary(self) -> dict[str, Any] | None:
        """`{"delegated_nodes", "total_nodes", "partitions"}` where the runtime said (page or native)."""
        if self.delegation:
            return {k: self.delegation.get(k) for k in ("delegated_nodes", "total_nodes", "partitions")}
        if self.nodes_delegated is not None and self.nodes_total is not None:
            return {"delegated_nodes": self.nodes_delegated, "total_nodes": self.nodes_total, "partitions": None}
        return None


@dataclass(frozen=True)
class Memory(_Part):
    peak_total_mb: float | None = None
    peak_by_type_mb: Mapping[str, float] | None = None
    source: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Context(_Part):
    """Conditions around the cell: thermal and battery state, cool-down wait, UI frames."""

    thermal_status_start: int | None = None
    thermal_status_max: int | None = None
    battery_temp_start_c: float | None = None
    battery_temp_max_c: float | None = None
    cooldown_s: float | None = None
    cooldown: Mapping[str, Any] | None = None
    janky_frame_share: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def never_cooled(self) -> bool:
        return isinstance(self.cooldown, Mapping) and self.cooldown.get("ok") is False


@dataclass(frozen=True)
class Agreement(_Part):
    ok: bool = False
    max_abs_diff: float | None = None
    top1_match: bool | None = None
    reason: str | None = None
    reference: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Visibility(_Part):
    """The page's own visibility report: a hidden page has its timers throttled."""

    at_start: str | None = None
    hidden_during_run: bool | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Attempt(_Part):
    """An earlier try of the same cell (throttled and re-run, phone lost and recovered)."""

    at: str | None = None
    status: str | None = None
    note: str | None = None
    thermal_status_max: int | None = None
    median_ms: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Qoe(_Part):
    """A QoE cell's measurements (pages/qoe.html; `mobile_webinfer.qoe_metrics` summarises them)."""

    mode: str | None = None                          # baseline | main | worker
    seed: int | None = None
    rounds: int | None = None
    gap_ms: float | None = None
    block_ms: float | None = None                    # test knob: a busy loop instead of the model
    setup_ms: float | None = None
    first_inference_ms: float | None = None
    tasks: tuple[Mapping[str, Any], ...] = ()        # {name, round, ms}: task start -> the frame showing it
    frames: Mapping[str, Any] | None = None          # in-page rAF over the window: count, long_frames, fps
    taps: tuple[Mapping[str, Any], ...] = ()         # {delay_ms (timestamp -> handler), paint_ms (-> next frame), on_pad}
    event_timing: tuple[Mapping[str, Any], ...] = ()  # Event Timing API entries of the taps (>= 16 ms), where it exists
    event_timing_supported: bool | None = None        # whether the browser has the Event Timing API
    window_ms: float | None = None
    first_tap_wait_ms: float | None = None           # window opened -> first tap landed (None: none came)
    inferences: int | None = None
    inference_ms: tuple[float, ...] = ()
    inferences_per_s: float | None = None
    taps_sent: int | None = None                     # host side: synthetic taps sent from the window's opening to the result
    tap_source: str | None = None                    # cdp Input.dispatchMouseEvent | adb input tap
    gfxinfo: Mapping[str, Any] | None = None         # phones: the browser's gfxinfo framestats over the window
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PairRound(_Part):
    """One round of a paired cell: a block of browser inferences, then a block of native ones.
    Times are seconds since the cell's first round began (host clock)."""

    browser_median_ms: float | None = None
    native_median_ms: float | None = None
    browser_n: int = 0
    native_n: int = 0
    browser_start_s: float | None = None
    browser_end_s: float | None = None
    native_start_s: float | None = None
    native_end_s: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        b, n = self.browser_median_ms, self.native_median_ms
        return b / n if b is not None and n else None


@dataclass(frozen=True)
class Pairing(_Part):
    """A browser cell measured in rounds against its native reference (issue 21), or why it was not.

    `mode`: `warm-process` (host: a native child that loaded the model once and runs a block on the
    host's word) or `benchmark_model-chunks` (phones: one `benchmark_model` run per block, its own
    timings); empty with `unpaired_reason` set where the cell could not be paired."""

    mode: str = ""
    native_runtime: str | None = None
    native_backend: str | None = None
    native_threads: int | None = None
    round_s: float | None = None                     # the round length asked (each side's block)
    block_warmups: int | None = None                 # untimed inferences opening each block, both sides (at least)
    block_warmup_ms: float | None = None             # ... and for at least this long (re-warm)
    block_min: int | None = None                     # timed inferences in a block, at least (count ceiling allowing)
    rounds: tuple[PairRound, ...] = ()
    gap: float | None = None                         # median of the rounds' ratios
    gap_precision: float | None = None               # CI95 half-width of that median / median (order statistics)
    stop_reason: str | None = None                   # precision | time-ceiling | count-ceiling
    native_setup_ms: float | None = None
    native_version: str | None = None
    unpaired_reason: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, d: Mapping[str, Any] | None) -> Pairing:
        d = dict(d or {})
        rounds = d.pop("rounds", None) or []
        p = super().from_json(d)
        return dataclasses.replace(p, rounds=tuple(PairRound.from_json(r) for r in rounds if isinstance(r, Mapping)))

    @property
    def paired(self) -> bool:
        return bool(self.mode) and bool(self.rounds)

    def ratios(self) -> list[float]:
        return [r for r in (x.ratio for x in self.rounds) if r is not None]


@dataclass(frozen=True)
class CellRecord(_Part):
    """One cell's result.  `status`: ok | error | unsupported | skipped."""

    cell: Cell | None = None
    key: str = ""
    status: str = "error"
    error: str | None = None
    error_kind: str | None = None
    infra: bool | None = None
    started_at: str | None = None
    finished_at: str | None = None
    fingerprint: Mapping[str, Any] | None = None
    model_sha256: str | None = None
    model_bytes: int | None = None
    budget: Mapping[str, Any] | None = None
    wall_s: float | None = None
    flags: tuple[str, ...] = ()
    attempts: tuple[Attempt, ...] = ()
    # timings
    setup_ms: float | None = None
    runtime_load_ms: float | None = None
    first_inference_ms: float | None = None
    warmup_ms: tuple[float, ...] = ()
    latencies_ms: tuple[float, ...] | None = None
    latency_t_ms: tuple[float, ...] | None = None      # studies: start of each timed latency, ms since the run began
    latency_summary_ms: Mapping[str, Any] | None = None
    # what ran and what it cost
    in_effect: InEffect | None = None
    memory: Memory | None = None
    context: Context = field(default_factory=Context)
    agreement: Agreement | None = None
    visibility: Visibility | None = None
    frames: Mapping[str, Any] | None = None
    js_heap_mb: Mapping[str, Any] | None = None
    outputs: tuple[Mapping[str, Any], ...] = ()
    events: tuple[Mapping[str, Any], ...] = ()
    browser_version: str | None = None
    sampler_cost: Mapping[str, Any] | None = None
    raw_output_tail: str | None = None
    node: str | None = None                            # the Ray node that ran the cell (`mwi sweep --cluster`)
    qoe: Qoe | None = None                             # QoE cells (`cell.kind == "qoe"`)
    pairing: Pairing | None = None                     # browser cells: rounds against the native reference
    # how the cell's loops ended (adaptive run counts; None where a source does not say)
    warmup_converged: bool | None = None               # warm-up ended by convergence (None: a fixed count)
    stop_reason: str | None = None                     # precision | count-ceiling | time-ceiling
    precision_reached: float | None = None             # CI95 half-width of the median / median in this cell
    validity: str | None = None                        # valid | flagged | invalid (sweep.policy.validity)
    validity_reasons: tuple[str, ...] = ()
    schema_version: int = SCHEMA_VERSION
    extra: Mapping[str, Any] = field(default_factory=dict)

    _NESTED: ClassVar[dict[str, type[_Part]]] = {
        "in_effect": InEffect, "memory": Memory, "context": Context, "agreement": Agreement,
        "visibility": Visibility, "qoe": Qoe, "pairing": Pairing}

    # -- reading and writing ----------------------------------------------------------------
    @classmethod
    def from_json(cls, d: Mapping[str, Any] | None) -> CellRecord:
        """A stored record (schema 1 or 2).  A newer schema is refused with the reason."""
        d = dict(d or {})
        v = d.get("schema_version", 1)
        if not isinstance(v, int) or v not in READABLE_SCHEMAS:
            raise StoreError(f"record {d.get('key', '?')}: schema_version {v!r} is not one this mwi reads "
                             f"({', '.join(map(str, READABLE_SCHEMAS))}); upgrade mobile-webinfer")
        cell = d.pop("cell", None)
        attempts = d.pop("attempts", None) or []
        if d.get("context") is None:
            d.pop("context", None)
        rec = super().from_json(d)
        if isinstance(cell, Mapping):
            try:
                cell = Cell.from_json(dict(cell))
            except (KeyError, TypeError, ValueError):
                raise StoreError(f"record {d.get('key', '?')}: cell {cell!r} is not a cell") from None
        return dataclasses.replace(rec, cell=cell, schema_version=v,
                                   attempts=tuple(Attempt.from_json(a) for a in attempts if isinstance(a, Mapping)))

    def to_json(self) -> dict[str, Any]:
        out = super().to_json()
        out["cell"] = self.cell.to_json() if self.cell is not None else None
        if self.node is None:
            out.pop("node", None)  # only cluster runs say which node ran a cell
        if self.latency_t_ms is None:
            out.pop("latency_t_ms", None)  # only study runs time-stamp their latencies
        if self.qoe is None:
            out.pop("qoe", None)  # only QoE cells carry GUI measurements
        if self.pairing is None:
            out.pop("pairing", None)  # only browser cells of a paired sweep (and runs since issue 21)
        for k in ("warmup_converged", "stop_reason", "precision_reached", "validity"):
            if out.get(k) is None:
                out.pop(k, None)  # records of sources (and tools) that do not say stay as they were
        if not self.validity_reasons:
            out.pop("validity_reasons", None)
        out["schema_version"] = SCHEMA_VERSION
        return out

    # -- reading conveniences -----------------------------------------------------------------
    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def ctx(self) -> Context:
        return self.context

    @property
    def eff(self) -> InEffect:
        return self.in_effect or InEffect()

    @property
    def mem(self) -> Memory:
        return self.memory or Memory()

    def summary_median(self) -> float | None:
        """benchmark_model prints a summary, not every latency: its median (else its average)."""
        s = self.latency_summary_ms or {}
        m = s.get("median")
        return m if m is not None else s.get("avg")

    def samples_ms(self) -> list[float]:
        """The timed latencies; for a native phone run (benchmark_model prints a summary, not each run)
        its `count` timed inferences laid out by `summary_distribution_ms`; the one summary median where
        the tool printed no count or no percentiles."""
        if self.latencies_ms:
            return list(self.latencies_ms)
        dist = self.summary_distribution_ms()
        if dist:
            return dist
        m = self.summary_median()
        return [m] if m is not None else []

    def summary_distribution_ms(self) -> list[float] | None:
        """benchmark_model's own count and percentiles as `count` latencies: the quantile function drawn
        as straight lines through (0, min), (0.05, p5), (0.5, median), (0.95, p95), (1, max) (the points
        it printed), read at (i + 0.5) / count.  The median is the tool's; the spread about it is the
        tool's percentiles joined by straight lines, which for latencies (denser near the median than
        a straight line between p5 and the median says) makes the median's CI95 no narrower than the
        timed runs give: a row's precision and validity are judged on it as a browser row's are on its
        latencies.  None without a count of at least 2 or without p5 / median / p95."""
        s = self.latency_summary_ms or {}
        count, med = s.get("count"), s.get("median")
        if not isinstance(count, int) or isinstance(count, bool) or count < 2 or med is None:
            return None
        knots = [(q, s.get(k)) for q, k in ((0.0, "min"), (0.05, "p5"), (0.5, "median"), (0.95, "p95"),
                                             (1.0, "max"))]
        pts = [(q, float(v)) for q, v in knots if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if not {0.05, 0.5, 0.95} <= {q for q, _ in pts}:
            return None
        if pts[0][0] > 0:
            pts.insert(0, (0.0, pts[0][1]))
        if pts[-1][0] < 1:
            pts.append((1.0, pts[-1][1]))
        if any(b[1] < a[1] for a, b in zip(pts, pts[1:], strict=False)):
            return None  # percentiles out of order: not a distribution to draw
        out, j = [], 0
        for i in range(min(count, 100_000)):
            q = (i + 0.5) / count
            while pts[j + 1][0] < q:
                j += 1
            (q0, v0), (q1, v1) = pts[j], pts[j + 1]
            out.append(v0 + (v1 - v0) * (q - q0) / (q1 - q0))
        return out

    def with_flags(self, *extra: str) -> CellRecord:
        return dataclasses.replace(self, flags=tuple(sorted(set(self.flags) | set(extra))))

    # -- constructors, one per source ----------------------------------------------------
    @classmethod
    def failed(cls, message: str, kind: str, *, status: str = "error", infra: bool | None = None,
               context: Context | None = None) -> CellRecord:
        return cls(status=status, error=message, error_kind=kind, infra=infra, context=context or Context())

    @classmethod
    def from_page_result(cls, raw: Mapping[str, Any]) -> CellRecord:
        """From the page's validated result (ok or error).  Everything the page posted is kept:
        the keys named here are typed, the rest land in the record's `extra`."""
        raw = {k: v for k, v in raw.items() if k != "token"}
        status = raw.get("status")
        err = raw.get("error") or None
        gpu = raw.get("gpu")
        named_eff = {f.name for f in fields(InEffect)}
        eff = InEffect(
            runtime=raw.get("runtime"), backend=raw.get("backend"), backend_requested=raw.get("backend_requested"),
            threads=raw.get("threads"), threads_requested=raw.get("threads_requested"), simd=raw.get("simd"),
            cross_origin_isolated=raw.get("cross_origin_isolated"), versions=dict(raw.get("versions") or {}),
            user_agent=raw.get("user_agent"), hardware_concurrency=raw.get("hardware_concurrency"),
            gpu=gpu, software_gpu=bool(isinstance(gpu, Mapping) and gpu.get("software")),
            wasm_files=_frozen(raw.get("wasm_files")), runtime_info=raw.get("runtime_info"),
            wasm_build=raw.get("wasm_build"), fully_accelerated=raw.get("fully_accelerated"),
            delegation=raw.get("delegation"), concurrency_override=raw.get("concurrency_override"))
        top = {"status", "error", "setup_ms", "first_inference_ms", "warmup_ms", "latencies_ms", "js_heap_mb",
               "outputs", "frames", "visibility", "runtime_load_ms", "cell", "latency_t_ms", "qoe",
               "warmup_converged", "stop_reason", "precision_reached"} | named_eff
        vis = raw.get("visibility")
        qoe = raw.get("qoe")
        rec = cls(
            status="ok" if status == "ok" else "error",
            setup_ms=raw.get("setup_ms"), first_inference_ms=raw.get("first_inference_ms"),
            runtime_load_ms=raw.get("runtime_load_ms"),
            warmup_ms=tuple(raw.get("warmup_ms") or ()), latencies_ms=tuple(raw.get("latencies_ms") or ()),
            latency_t_ms=tuple(raw["latency_t_ms"]) if raw.get("latency_t_ms") is not None else None,
            in_effect=eff, js_heap_mb=raw.get("js_heap_mb"), outputs=_frozen(list(raw.get("outputs") or [])),
            frames=raw.get("frames"), visibility=Visibility.from_json(vis) if isinstance(vis, Mapping) else None,
            qoe=Qoe.from_json(qoe) if isinstance(qoe, Mapping) else None,
            warmup_converged=raw.get("warmup_converged"), stop_reason=raw.get("stop_reason"),
            precision_reached=raw.get("precision_reached"),
            extra={"page": {k: v for k, v in raw.items() if k not in top}} if set(raw) - top else {})
        if status != "ok":
            kind = str(err.get("kind", "error")) if isinstance(err, Mapping) else "error"
            msg = str(err.get("message", "")) if isinstance(err, Mapping) else str(err or "")
            rec = dataclasses.replace(rec, error=f"{kind}: {msg}".strip(), error_kind=kind,
                                      status="unsupported" if kind in ("unsupported", "unsupported_op",
                                                                       "model_load") else "error")
        elif vis is not None and isinstance(vis, Mapping) and vis.get("hidden_during_run") is True:
            # timers of a hidden page are throttled: its numbers are kept but never published
            rec = dataclasses.replace(rec, status="error", error_kind=PAGE_HIDDEN,
                                      error=f"{PAGE_HIDDEN}: the page was hidden during the timed run "
                                            f"(visibility at start: {vis.get('at_start')}); timers throttled",
                                      flags=(PAGE_HIDDEN,))
        return rec

    @classmethod
    def from_benchmark_model(cls, bm: Any, *, threads: int, backend: str, runtime: str,
                             text_tail: str) -> CellRecord:
        """From a parsed `benchmark_model` run (a summary, not every latency)."""
        us = 1e-3
        summary: dict[str, Any] = {"avg": _mul(bm.inference_avg_us, us), "std": _mul(bm.inference_std_us, us),
                                   "count": bm.count}
        for k in ("p5", "median", "p95", "min", "max"):
            summary[k] = _mul(getattr(bm.inference, f"{k}_us", None) if bm.inference else None, us)
        return cls(
            status="ok", setup_ms=_mul(bm.init_us, us), first_inference_ms=_mul(bm.first_inference_us, us),
            warmup_ms=(bm.warmup_avg_us * us,) if bm.warmup_avg_us is not None else (),
            latencies_ms=None, latency_summary_ms=summary,
            in_effect=InEffect(runtime=runtime, backend=backend, threads=threads,
                               nodes_delegated=bm.nodes_delegated, nodes_total=bm.nodes_total),
            memory=Memory(peak_total_mb=bm.memory_overall_mb, source="benchmark_model memory footprint delta",
                          extra={"init_mb": bm.memory_init_mb}),
            raw_output_tail=text_tail)

    @classmethod
    def from_host_native(cls, res: Any, *, runtime: str) -> CellRecord:
        """From a host-native run (`native.host.NativeResult` of LiteRT or ONNX Runtime)."""
        lib = "onnxruntime" if str(res.runtime).startswith("onnxruntime") else "tflite"
        return cls(
            status="ok", setup_ms=res.setup_ms, first_inference_ms=res.first_inference_ms,
            warmup_ms=tuple(res.warmup_ms), latencies_ms=tuple(res.latencies_ms),
            latency_t_ms=tuple(res.latency_t_ms) if res.latency_t_ms is not None else None,
            in_effect=InEffect(runtime=runtime, backend=res.backend, threads=res.threads,
                               versions={lib: res.runtime}, software_gpu=False),
            warmup_converged=res.warmup_converged, stop_reason=res.stop_reason,
            precision_reached=res.precision_reached,
            memory=Memory(peak_total_mb=res.peak_rss_mb, source="VmHWM (peak RSS) of the native child process",
                          extra={"rss_before_mb": res.rss_before_mb, "rss_after_load_mb": res.rss_after_load_mb}))


def _mul(x: float | None, k: float) -> float | None:
    return None if x is None else x * k


def load_records(rows: Iterable[Mapping[str, Any] | CellRecord]) -> list[CellRecord]:
    """Typed records from stored dicts (already typed ones pass through)."""
    return [r if isinstance(r, CellRecord) else CellRecord.from_json(r) for r in rows]


def measured_by_target(records: Iterable[Mapping[str, Any] | CellRecord]) -> dict[str, tuple[int, int]]:
    """Per target: (cells measured, cells recorded).  A cell counts as measured only with status `ok`
    (failed, unsupported and skipped cells have no number); the exit code of a run is judged on this."""
    out: dict[str, list[int]] = {}
    for r in load_records(records):
        if r.cell is None:
            continue
        n = out.setdefault(r.cell.target, [0, 0])
        n[1] += 1
        n[0] += 1 if r.ok else 0
    return {t: (ok, total) for t, (ok, total) in out.items()}


def nothing_measured_line(records: Iterable[Mapping[str, Any] | CellRecord]) -> str | None:
    """The one line that says a run measured nothing (or a target of it measured nothing); None when
    every target measured at least one cell."""
    by = measured_by_target(records)
    total = sum(n for _, n in by.values())
    if not by or not any(ok for ok, _ in by.values()):
        return f"nothing measured: 0 of {total} cells measured"
    empty = [t for t, (ok, n) in sorted(by.items()) if not ok]
    if empty:
        return "nothing measured on " + ", ".join(f"{t} (0 of {by[t][1]} cells)" for t in empty)
    return None
