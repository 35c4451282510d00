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
from collections.abc import Mapping, Sequence
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

    def recover(self) -> bool:
        """After the target dropped away: bring it back if possible."""
        ...

    def capabilities(self, server: Any) -> dict[str, Any]:
        """What each of this target's browsers offers (the probe page), by browser; a browser
        whose probe fails gets {"error": ...}.  Stored once per run in the manifest."""
        ...

    def measure(self, cell: Cell, model: Any, server: Any, budget: Budget,
                stop: threading.Event) -> Measurement:
        """One cell, native or in a browser.  Infrastructure failures raise; measurement
        failures come back as a record with status error."""
        ...


def page_config(manifest: Any, cell: Cell, budget: Budget, page: PageOptions) -> Any:
    """The harness page's config for a browser cell (the same on every target)."""
    from ..web.protocol import config_for

    return config_for(manifest, runtime=cell.runtime, backend=cell.backend, threads=cell.threads,
                      warmups=budget.warmups, iterations=budget.iterations, min_iterations=budget.min_iterations,
                      time_budget_ms=budget.time_budget_s * 1000, webnn_device=page.webnn_device,
                      thread_policy=page.thread_policy)


def check_stop(stop: threading.Event) -> None:
    if stop.is_set():
        raise Stopped("stopped")
