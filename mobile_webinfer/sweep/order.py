"""The order cells run in (issue 21): configurations that are compared take turns, in a seeded,
recorded round-robin.

Within each model, repeat by repeat, every configuration (native references included) runs once in
a shuffled order before any runs again; the shuffle is seeded by the sweep's `order_seed` and the
(target, model, repeat), so a run's order is reproducible from its manifest (which also lists it).
Slow drift (heat, a busy neighbour, a phone's DVFS) then spreads over every configuration and over
the native references alike, instead of landing on whichever ran last.  A QoE configuration's three
modes stay together, in their order (baseline, main, worker).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable

from ..vocab import Cell

POLICY = "seeded-round-robin"


def _rng(seed: int, target: str, model: str, repeat: int) -> random.Random:
    digest = hashlib.sha256(f"{seed}|{target}|{model}|{repeat}".encode()).hexdigest()
    return random.Random(int(digest[:16], 16))


def interleave(cells: Iterable[Cell], seed: int) -> list[Cell]:
    """`cells` (one target's plan) in the seeded round-robin order."""
    cells = list(cells)
    models: list[str] = list(dict.fromkeys(c.model for c in cells))
    out: list[Cell] = []
    for model in models:
        mine = [c for c in cells if c.model == model]
        for r in sorted({c.repeat for c in mine}):
            units: dict[tuple, list[Cell]] = {}
            for c in mine:
                if c.repeat == r:
                    units.setdefault((c.browser, c.runtime, c.backend, c.threads, c.kind), []).append(c)
            order = list(units.values())
            _rng(seed, mine[0].target, model, r).shuffle(order)
            for unit in order:
                out.extend(unit)
    return out


__all__ = ["POLICY", "interleave"]
