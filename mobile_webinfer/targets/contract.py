"""The Target contract: what the sweep, the studies and the report may ask of a target.

A target is where inference runs (this computer, a phone).  Both implementations declare
every method; nothing is probed with `hasattr`.  `measure` returns a typed `Measurement`:
the cell's record (without identity, agreement or flags: the runner adds those), the
probe rows sampled during it, and native outputs where the runtime gives them.  `stop`
is the sweep's stop event: every wait inside a target (cool-down gate, page watchdog,
retries) returns promptly once it is set, raising `Stopped`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..errors import MwiError
from ..records import CellRecord
from ..vocab import Budget, Cell, PageOptions


class Stopped(MwiError):
    """The sweep was asked to stop (Ctrl-C, SIGTERM) while a target waited."""


@dataclass(frozen=True)
class Measurement:
    record: CellRecord
    samples: Sequence[Mapping[str, Any]] = ()
    outputs: Sequence[np.ndarray] | None = None
    #: a paired browser cell: its native reference's outputs (the run's reference where none is kept yet)
    reference_outputs: Sequence[np.ndarray] | None = None


@dataclass(frozen=True)
class ProfileCapture:
    """One cell's per-operator profile (`mwi sweep --profile-ops`), taken in a separate page load
    or process that never gives a latency: the runtime's raw export as text, or why there is none."""

    source: str = ""        # onnxruntime | tfjs | benchmark_model ("" when unsupported)
    raw: str = ""           # ORT's trace JSON, TF.js's kernel lists (JSON), benchmark_model's stdout
    skip_runs: int = 0      # inferences inside the raw export before the profiled ones (ORT traces the session)
    unsupported: str = ""   # the runtime / backend cannot profile operators: the reason, in its own words


@runtime_checkable
class Target(Protocol):
    name: str

    def describe(self) -> dict[str, Any]:
        """Fingerprint stored in the manifest (talks to the target)."""
        ...

    def browsers(self) -> list[str]:
        """Browsers this target measures in (after `describe`)."""
        ...

    def native_backends(self) -> list[str]:
        ...

    def conditions(self) -> AbstractContextManager[None]:
        """Hold the target steady for the sweep (screen, brightness...), restored on exit."""
        ...

    def recover(self, stop: threading.Event | None = None) -> bool:
        """After the target dropped away: bring it back if possible (a bounded wait; a set `stop`
        ends it by raising `Stopped`)."""
        ...

    def capabilities(self, server: Any) -> dict[str, Any]:
        """What each of this target's browsers offers (the probe page), by browser; a browser
        whose probe fails gets {"error": ...}.  Stored once per run in the manifest."""
        ...

    def measure(self, cell: Cell, model: Any, server: Any, budget: Budget,
                stop: threading.Event) -> Measurement:
        """One cell, native or in a browser.  Infrastructure failures raise; measurement
        failures come back as a record with status error.  A QoE cell (`cell.kind == "qoe"`)
        opens pages/qoe.html instead of the harness and taps it during its window
        (`targets/qoe.py`); its record carries `qoe`."""
        ...

    def profile(self, cell: Cell, model: Any, server: Any, budget: Budget,
                stop: threading.Event) -> ProfileCapture:
        """The cell's per-operator profile in a separate page load / process (never a latency);
        `ProfileCapture.unsupported` says why where the runtime has no profiler.  A failed
        profiled run raises."""
        ...


def page_config(manifest: Any, cell: Cell, budget: Budget, page: PageOptions) -> Any:
    """The harness page's config for a browser cell (the same on every target)."""
    from ..web.protocol import config_for

    return config_for(manifest, runtime=cell.runtime, backend=cell.backend, threads=cell.threads,
                      warmups=budget.warmups, iterations=budget.iterations, min_iterations=budget.min_iterations,
                      time_budget_ms=budget.time_budget_s * 1000, webnn_device=page.webnn_device,
                      thread_policy=page.thread_policy, record_timestamps=budget.timestamps,
                      precision=max(0.0, budget.precision), max_warmups=max(budget.warmups, budget.max_warmups),
                      warmup_window=budget.warmup_window, warmup_drift=budget.warmup_drift)


STALLED = "stalled"


def wait_for_page(ticket: Any, budget: Budget, stop: threading.Event,
                  between: Callable[[], Any] | None = None, step_s: float = 1.0) -> Any:
    """The page's result under a progress-based watchdog: a page that posts nothing for
    `budget.stall_timeout_s` fails `stalled`; one that keeps posting runs until its result or the
    hard ceiling `budget.cell_timeout_s` (`timeout`).  Waits in short steps so that the stop event
    ends the wait at once; `between()` runs at every step (a phone checks its renderers) and may
    return a value to end the wait with (returned as is)."""
    from ..web.protocol import PageReportedError

    deadline = time.monotonic() + budget.cell_timeout_s
    while True:
        check_stop(stop)
        left = deadline - time.monotonic()
        if left <= 0:
            raise PageReportedError(f"cell {ticket.cell_id}: no result after {budget.cell_timeout_s:.0f} s "
                                    f"(the cell's ceiling, --cell-timeout)", kind="timeout")
        if ticket.last_event_age_s >= budget.stall_timeout_s:
            raise PageReportedError(f"cell {ticket.cell_id}: {STALLED}: no event from the page for "
                                    f"{ticket.last_event_age_s:.0f} s (--stall-timeout "
                                    f"{budget.stall_timeout_s:g})", kind=STALLED)
        try:
            return ticket.wait(timeout=min(step_s, left))
        except PageReportedError as exc:
            if exc.result is not None or exc.kind != "timeout":
                raise
        if between is not None:
            out = between()
            if out is not None:
                return out


def check_stop(stop: threading.Event) -> None:
    if stop.is_set():
        raise Stopped("stopped")
