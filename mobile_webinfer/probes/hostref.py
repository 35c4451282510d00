"""A speed reference of this computer, taken beside each local cell.

Shared and virtual machines change speed by themselves (here: level shifts of 20-30 % lasting
seconds to minutes, with no steal time to show for them), so two local measurements can differ
because the host did, not the runtime.  `reference_ms()` times a fixed piece of single-threaded
CPU work (integer arithmetic in the interpreter: no memory traffic to speak of, no allocation, no
I/O), best of a few tries: the fastest try is the one least disturbed by other jobs of the
moment, and what remains is the host's speed level.  The local target takes it before and after
each cell (`Context.host_ref_ms`); the report gives each row the spread of its loads' references
(`host_ref_spread`) and flags rows whose host moved, and `benchmarks/bench_repro` divides the
host's change out of its sweep-to-sweep ratios as a diagnosis.

A reference is only comparable with references of the same `REFERENCE_NAME` on the same host.
"""

from __future__ import annotations

import time

REFERENCE_NAME = "lcg-60k-best-of-5"   # change it when the work below changes
_STEPS = 60_000                         # ~6 ms on a 2-core cloud VM (2026)
_TRIES = 5


def _work(steps: int) -> int:
    x = 0
    for i in range(steps):
        x = (x * 31 + i) & 0xFFFFFFFF
    return x


def reference_ms(tries: int = _TRIES, steps: int = _STEPS) -> float:
    """The fixed work's best time over `tries` runs, ms (about 30 ms of wall time in all)."""
    if tries < 1 or steps < 1:
        raise ValueError("reference_ms needs tries >= 1 and steps >= 1")
    best = float("inf")
    for _ in range(tries):
        t0 = time.perf_counter()
        _work(steps)
        best = min(best, time.perf_counter() - t0)
    return round(best * 1000.0, 4)


def spread(refs: list[float]) -> float | None:
    """max / min - 1 over references of one configuration's loads (None under two of them)."""
    good = [r for r in refs if r > 0]
    if len(good) < 2:
        return None
    return max(good) / min(good) - 1.0


__all__ = ["REFERENCE_NAME", "reference_ms", "spread"]
