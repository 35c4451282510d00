"""Paired cells (issue 21): the page and its native reference take turns in short rounds.

After its warm-up the harness page waits for its turn (POST .../turn, held by the page server);
the host then alternates: one block of browser inferences (`round_s` long), one block of native
inferences of the same length, again and again, until the gap's CI95 half-width (the median of
the rounds' ratios, order statistics) is within `--precision`, or the cell's time ceiling, or the
count ceiling.  The page never runs while the native side does, and the other way round.

The native side is a `NativeBlocks`: on this computer a warm child process (`native.warm`,
mode `warm-process`); a phone runs one `benchmark_model` per block (`benchmark_model-chunks`).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..paired_stats import MIN_ROUNDS, gap_precision
from ..records import Pairing, PairRound
from ..stats import STOP_COUNT, STOP_PRECISION, STOP_TIME
from ..vocab import NATIVE_RUNTIME, Budget, Cell
from .contract import check_stop

#: a block never has fewer inferences than this, whatever its length (a median of a block needs
#: several, and a block of a few short inferences after a pause measures the pause, not the model)
BLOCK_MIN = 10
#: untimed inferences at the start of each block, both sides: the first ones after a pause run cold
#: (caches, a CPU that clocked down), and the block is about the steady state.  At least
#: BLOCK_WARMUPS of them, and for at least BLOCK_WARMUP_MS (at most BLOCK_WARMUP_CAP): one
#: MobileNetV2 inference re-warms, while tiny_cnn's (0.2 ms) first timed one after a single re-warm
#: still ran about 35 % slow on this computer
BLOCK_WARMUPS = 1
BLOCK_WARMUP_MS = 5.0
BLOCK_WARMUP_CAP = 100


@dataclass(frozen=True)
class NativeBlock:
    """A native block summarised by its source (benchmark_model prints a median, not each run)."""

    median_ms: float | None
    n: int


class NativeBlocks(Protocol):
    """The native half of a paired cell: runs one block of about `ms` and returns its latencies."""

    def block(self, ms: float, *, at_least: int = BLOCK_MIN, at_most: int = 0,
              warm: int = 1, warm_ms: float = 0.0) -> Sequence[float] | NativeBlock:
        """`warm` untimed inferences first, and more until `warm_ms` passed (re-warm after the
        pause), then the timed block: its latencies, or its summary where the source prints no
        single runs."""
        ...

    def info(self) -> dict[str, Any]:
        """`setup_ms` (model load) and `runtime` (its version), where the native side says."""
        ...


@dataclass(frozen=True)
class PairPlan:
    """What a paired browser cell pairs with (or why it cannot be paired)."""

    native_runtime: str = NATIVE_RUNTIME
    native_backend: str = ""
    round_s: float = 0.0
    unpaired_reason: str = ""


def plan_pairing(cell: Cell, budget: Budget, native_backends: Sequence[str]) -> PairPlan:
    """A browser latency cell pairs with native LiteRT (XNNPACK, else builtin CPU) at the same threads;
    `budget.pair_round_s` 0 (`--no-pairing`) leaves it unpaired, and so does a target without a CPU
    native backend.  QoE cells and native cells are never paired."""
    if cell.is_native or cell.is_qoe:
        return PairPlan(unpaired_reason="not a browser latency cell")
    if budget.timestamps:
        return PairPlan(unpaired_reason="a study's run (latency over time): never paired")
    if budget.pair_round_s <= 0:
        return PairPlan(unpaired_reason="pairing off (--no-pairing)")
    pick = next((b for b in ("xnnpack", "cpu") if b in native_backends), "")
    if not pick:
        return PairPlan(unpaired_reason="no native CPU backend on this target to pair with")
    return PairPlan(native_backend=pick, round_s=budget.pair_round_s)


def block_cap(budget: Budget) -> int:
    """At most this many inferences in one block: a fast model still gets `MIN_ROUNDS` x 2 rounds
    inside the count ceiling (`--iterations`)."""
    return max(BLOCK_MIN, budget.iterations // (2 * MIN_ROUNDS))


def _turn_wait(budget: Budget) -> float:
    return max(budget.stall_timeout_s, 30.0)


def await_turn(ticket: Any, timeout: float, stop: threading.Event | None = None) -> dict[str, Any]:
    """The page's next turn, waiting in 1 s steps so that the stop event (Ctrl-C) ends the wait at once;
    PageReportedError after `timeout` (a page that never ends its block) or when the page failed."""
    from ..web.protocol import PageReportedError

    t_end = time.monotonic() + timeout
    while True:
        if stop is not None:
            check_stop(stop)
        left = t_end - time.monotonic()
        try:
            return dict(ticket.wait_turn(max(0.01, min(1.0, left))))
        except PageReportedError as exc:
            if exc.kind != "timeout" or exc.result is not None or left <= 1.0 or ticket.closed:
                raise


def wait_ready(ticket: Any, budget: Budget, stop: threading.Event | None = None) -> dict[str, Any]:
    """The page's first turn: it is warm and waits (it says its threads in effect, where it knows)."""
    return await_turn(ticket, _turn_wait(budget), stop)


class NoNative:
    """A native side that could not start: the browser still runs its blocks (the cell is measured),
    its pairing says why it is unpaired."""

    def block(self, ms: float, *, at_least: int = BLOCK_MIN, at_most: int = 0, warm: int = 1,
              warm_ms: float = 0.0) -> Sequence[float]:
        return []

    def info(self) -> dict[str, Any]:
        return {}


def paired(ticket: Any, plan: PairPlan, budget: Budget, stop: threading.Event, start: Any, *,
           mode: str, threads: int, prestart: bool = False) -> tuple[Pairing, Any]:
    """A paired browser cell from the page's first turn to the host's last word: `start(threads)`
    makes the native side (a context manager yielding a `NativeBlocks` with `finish()`), at the
    threads the page says are in effect.  Returns the pairing and the native side's outputs (None
    where it could not run).  `prestart`: start the native side at once, at the threads asked,
    while the page loads (restarted at the page's threads in effect where they differ)."""
    from ..errors import MwiError

    early: Any = None
    if prestart:  # load the native side while the page loads and warms up (wall time, not measurement)
        try:
            early = start(threads)
        except MwiError:
            early = None  # tried again below, where its error is kept
    try:
        ready = wait_ready(ticket, budget, stop)
    except BaseException:
        if early is not None:
            early.__exit__(None, None, None)
        raise
    t_eff = ready.get("threads")
    n_threads = t_eff if isinstance(t_eff, int) and not isinstance(t_eff, bool) and t_eff >= 1 else threads
    if early is not None and n_threads != threads:  # the runtime runs fewer threads than asked: match them
        early.__exit__(None, None, None)
        early = None
    try:
        native = early if early is not None else start(n_threads)
    except MwiError as exc:
        p = run_rounds(ticket, NoNative(), plan, budget, stop, mode="", native_threads=n_threads)
        return _unpaired(p, f"the native reference could not start: {exc.one_line()}"), None
    with native:
        p = run_rounds(ticket, native, plan, budget, stop, mode=mode, native_threads=n_threads)
        info = native.info()
        p = dataclasses.replace(p, native_setup_ms=info.get("setup_ms"), native_version=info.get("runtime"))
        try:
            outputs = native.finish()
        except MwiError:
            outputs = None
        return p, outputs


def _unpaired(p: Pairing, why: str) -> Pairing:
    return dataclasses.replace(p, mode="", gap=None, gap_precision=None, unpaired_reason=why)


def run_rounds(ticket: Any, native: NativeBlocks, plan: PairPlan, budget: Budget, stop: threading.Event,
               *, mode: str, native_threads: int) -> Pairing:
    """Alternate browser and native blocks on a page that is waiting for its turn (after its
    warm-up: `wait_ready`), then let the page finish.  Every round's medians and host times are kept."""
    turn_wait = _turn_wait(budget)
    ms = plan.round_s * 1000
    cap = block_cap(budget)
    rounds: list[PairRound] = []
    ratios: list[float] = []
    n_browser = 0
    t0 = time.monotonic()
    why = STOP_TIME
    try:
        while True:
            check_stop(stop)
            tb0 = time.monotonic() - t0
            ticket.give_turn(True, ms=ms, max=min(cap, budget.iterations - n_browser), min=BLOCK_MIN,
                             warm_ms=BLOCK_WARMUP_MS, warm_max=BLOCK_WARMUP_CAP)
            got = await_turn(ticket, turn_wait + plan.round_s, stop)
            tb1 = time.monotonic() - t0
            b = [float(x) for x in got.get("latencies_ms") or []]
            n_browser += len(b)
            got_n = native.block(ms, at_least=BLOCK_MIN, at_most=cap, warm=BLOCK_WARMUPS, warm_ms=BLOCK_WARMUP_MS)
            nat = got_n if isinstance(got_n, NativeBlock) else NativeBlock(_med(list(got_n)), len(got_n))
            tn1 = time.monotonic() - t0
            rounds.append(PairRound(
                browser_median_ms=_med(b), native_median_ms=nat.median_ms, browser_n=len(b), native_n=nat.n,
                browser_start_s=round(tb0, 4), browser_end_s=round(tb1, 4), native_start_s=round(tb1, 4),
                native_end_s=round(tn1, 4)))
            bmed = _med(b)
            r = bmed / nat.median_ms if bmed is not None and nat.median_ms else None
            if r is not None:
                ratios.append(r)
            if n_browser >= budget.iterations:
                why = STOP_COUNT
                break
            if tn1 >= budget.time_budget_s and len(rounds) >= 2:
                why = STOP_TIME
                break
            if budget.precision > 0 and len(ratios) >= MIN_ROUNDS and mode:
                h = gap_precision(ratios)
                if h is not None and h <= budget.precision:
                    why = STOP_PRECISION
                    break
    finally:
        ticket.give_turn(False, stop_reason=why)
    gap = _med(ratios)
    return Pairing(mode=mode, native_runtime=plan.native_runtime, native_backend=plan.native_backend,
                   native_threads=native_threads, round_s=plan.round_s, rounds=tuple(rounds), gap=gap,
                   block_warmups=BLOCK_WARMUPS, block_warmup_ms=BLOCK_WARMUP_MS, block_min=BLOCK_MIN,
                   gap_precision=gap_precision(ratios), stop_reason=why)


def _med(xs: Sequence[float]) -> float | None:
    ys = sorted(xs)
    n = len(ys)
    if not n:
        return None
    return ys[n // 2] if n % 2 else (ys[n // 2 - 1] + ys[n // 2]) / 2


__all__ = ["BLOCK_MIN", "BLOCK_WARMUPS", "BLOCK_WARMUP_CAP", "BLOCK_WARMUP_MS", "NativeBlock", "NativeBlocks", "NoNative", "PairPlan", "block_cap", "paired", "plan_pairing", "run_rounds",
           "wait_ready"]
