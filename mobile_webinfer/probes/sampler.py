"""One periodic thread that runs probes against a device and hands rows to a sink.

    rows = []
    with Sampler(dev, default_probes("com.android.chrome"), interval_s=1.0, sink=rows.append,
                 tags={"cell": "chrome/mobilenet/tfjs-wasm/0"}) as s:
        run_the_benchmark()
    s.cost()   # seconds per call per probe, share of wall time spent probing

Each row: {"t_s", "probe", "ok", "data" | "error", "cost_s", **tags}.  `t_s` is seconds since
start on the monotonic clock.  A probe that raises becomes an `ok: False` row with a one-line
error; it never stops the thread.  A probe whose `supported()` is False gets one such row and
is not run.  Ticks that fall behind are skipped (counted in `missed_ticks`), never bunched.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import MwiError, UsageError
from .base import Probe, ShellLike

Row = dict[str, Any]


@dataclass
class ProbeCost:
    calls: int = 0
    errors: int = 0
    total_s: float = 0.0
    max_s: float = 0.0

    def add(self, seconds: float, ok: bool) -> None:
        self.calls += 1
        self.errors += 0 if ok else 1
        self.total_s += seconds
        self.max_s = max(self.max_s, seconds)

    def to_json(self) -> dict:
        return {"calls": self.calls, "errors": self.errors, "total_s": round(self.total_s, 6),
                "mean_s": round(self.total_s / self.calls, 6) if self.calls else None, "max_s": round(self.max_s, 6)}


def _one_line(exc: BaseException) -> str:
    text = exc.one_line() if isinstance(exc, MwiError) else " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}"[:500]


@dataclass
class _State:
    costs: dict[str, ProbeCost] = field(default_factory=dict)
    rows: int = 0
    missed_ticks: int = 0
    setup_s: float = 0.0  # time spent in the supported() checks
    started: float | None = None
    stopped: float | None = None


class Sampler:
    """Runs `probes` every `interval_s` (each probe at most every `probe.default_interval_s`,
    unless `per_probe_interval=False`) on one thread; rows go to `sink`."""

    def __init__(self, device: ShellLike, probes: Sequence[Probe], interval_s: float, sink: Callable[[Row], None],
                 *, tags: dict[str, Any] | None = None, per_probe_interval: bool = True,
                 clock: Callable[[], float] = time.monotonic):
        if not (isinstance(interval_s, (int, float)) and math.isfinite(interval_s) and interval_s > 0):
            raise UsageError(f"sampler interval must be a positive number of seconds, not {interval_s!r}")
        names = [p.name for p in probes]
        if len(set(names)) != len(names):
            raise UsageError(f"probe names must be unique: {names}")
        self.device = device
        self.probes = list(probes)
        self.interval_s = float(interval_s)
        self.sink = sink
        self.per_probe_interval = per_probe_interval
        self._clock = clock
        self._tags = dict(tags or {})
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._state = _State(costs={p.name: ProbeCost() for p in self.probes})
        self._sink_error: BaseException | None = None
        self.active: list[str] = []

    # ---- lifecycle -------------------------------------------------------------------

    def start(self) -> Sampler:
        if self._thread is not None:
            raise UsageError("sampler already started")
        self._thread = threading.Thread(target=self._loop, name=f"mwi-sampler-{self.device.serial}", daemon=True)
        self._state.started = self._clock()
        self._thread.start()
        return self

    def stop(self, timeout: float | None = 60.0) -> None:
        """Stop after the probe in flight finishes; re-raise a sink failure (rows were lost)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise UsageError("sampler thread did not stop (a probe call is hanging past its timeout)")
        if self._state.stopped is None:
            self._state.stopped = self._clock()
        if self._sink_error is not None:
            err, self._sink_error = self._sink_error, None
            raise err

    def __enter__(self) -> Sampler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def set_tags(self, **tags: Any) -> None:
        """Change the tags (e.g. the cell) stamped on the following rows."""
        with self._lock:
            self._tags.update(tags)

    # ---- cost ----------------------------------------------------------------------

    def cost(self) -> dict:
        """Probe cost so far: per probe calls/errors/mean/max seconds, and `share`, the fraction of
        wall time spent waiting on probe calls (`setup_s`, the supported() checks, is apart)."""
        with self._lock:
            st = self._state
            end = st.stopped if st.stopped is not None else self._clock()
            wall = (end - st.started) if st.started is not None else 0.0
            busy = sum(c.total_s for c in st.costs.values())
            return {"wall_s": round(wall, 6), "busy_s": round(busy, 6), "setup_s": round(st.setup_s, 6),
                    "share": round(busy / wall, 6) if wall > 0 else None, "rows": st.rows,
                    "missed_ticks": st.missed_ticks, "interval_s": self.interval_s,
                    "probes": {k: v.to_json() for k, v in st.costs.items()}}

    @property
    def missed_ticks(self) -> int:
        return self._state.missed_ticks

    # ---- thread --------------------------------------------------------------------

    def _emit(self, row: Row) -> None:
        with self._lock:
            row = {**row, **{k: v for k, v in self._tags.items() if k not in row}}
            self._state.rows += 1
        try:
            self.sink(row)
        except BaseException as exc:  # noqa: BLE001 - a broken sink must stop us loudly, in stop()
            self._sink_error = exc
            self._stop.set()

    def _t(self) -> float:
        return round(self._clock() - (self._state.started or 0.0), 6)

    def _loop(self) -> None:
        t0 = self._state.started or self._clock()
        active: list[Probe] = []
        for probe in self.probes:
            if self._stop.is_set():
                return
            probe.reset()
            try:
                ok = probe.supported(self.device)
                why = "not supported on this device"
            except Exception as exc:  # noqa: BLE001 - becomes an event row
                ok, why = False, f"support check failed: {_one_line(exc)}"
            if ok:
                active.append(probe)
            else:
                self._emit({"t_s": self._t(), "probe": probe.name, "ok": False, "error": why, "cost_s": 0.0})
        self.active = [p.name for p in active]
        with self._lock:
            self._state.setup_s = self._clock() - t0
        last_run: dict[str, float] = {}
        tick = 0
        while not self._stop.is_set() and active:
            tick_at = t0 + tick * self.interval_s  # scheduled time: immune to jitter of earlier probes
            for probe in active:
                if self._stop.is_set():
                    break
                if self.per_probe_interval and probe.name in last_run and \
                        tick_at - last_run[probe.name] < probe.default_interval_s - self.interval_s / 2:
                    continue
                last_run[probe.name] = tick_at
                self._run_probe(probe)
            tick += 1
            next_at = t0 + tick * self.interval_s
            now = self._clock()
            if next_at <= now:  # fell behind: skip to the next future tick
                behind = int((now - t0) // self.interval_s) + 1 - tick
                with self._lock:
                    self._state.missed_ticks += behind
                tick += behind
                next_at = t0 + tick * self.interval_s
            self._stop.wait(max(0.0, next_at - self._clock()))

    def _run_probe(self, probe: Probe) -> None:
        start = self._clock()
        row: Row = {"t_s": round(start - (self._state.started or start), 6), "probe": probe.name}
        try:
            row["data"] = probe.data(probe.sample(self.device))
            row["ok"] = True
        except Exception as exc:  # noqa: BLE001 - a failing probe is an event row, never a crash
            row["ok"] = False
            row["error"] = _one_line(exc)
        cost = self._clock() - start
        row["cost_s"] = round(cost, 6)
        with self._lock:
            self._state.costs[probe.name].add(cost, row["ok"])
        self._emit(row)
