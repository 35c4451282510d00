"""What every benchmark shares: timing helpers, a bar, and the one-line verdicts.

A bar is a speed claim: `measured <= bar` for costs (seconds, a share of wall time) or
`measured >= bar` for rates (records per second).  Each benchmark prints one line per bar,

    NAME: measured X, bar Y, ratio X/Y (PASS|FAIL)

where NAME ends with its unit (`_ms`, `_per_s`, `_share`), then exits 1 if any bar failed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = REPO_ROOT / "tests" / "fixtures"


@dataclass(frozen=True)
class Bar:
    """One measured number against its bar.  `higher_is_better` for rates."""

    name: str
    measured: float
    bar: float
    higher_is_better: bool = False
    note: str = ""

    def __post_init__(self) -> None:
        if not self.bar > 0:
            raise ValueError(f"{self.name}: a bar must be positive, not {self.bar!r}")

    @property
    def ratio(self) -> float:
        return self.measured / self.bar

    @property
    def passed(self) -> bool:
        return self.measured >= self.bar if self.higher_is_better else self.measured <= self.bar

    def line(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        text = (f"{self.name}: measured {_num(self.measured)}, bar {_num(self.bar)}, "
                f"ratio {self.ratio:.3f} ({verdict})")
        return f"{text}  # {self.note}" if self.note else text


def _num(x: float) -> str:
    if x == 0:
        return "0"
    if abs(x) >= 100:
        return f"{x:.1f}"
    if abs(x) >= 1:
        return f"{x:.3f}"
    return f"{x:.4g}"


@dataclass
class Report:
    """Collects bars and free-form info lines; `finish()` prints the summary and the exit status."""

    bench: str
    bars: list[Bar] = field(default_factory=list)

    def add(self, bar: Bar) -> Bar:
        self.bars.append(bar)
        print(bar.line(), flush=True)
        return bar

    def info(self, text: str) -> None:
        print(f"  {text}", flush=True)

    def finish(self) -> int:
        failed = [b.name for b in self.bars if not b.passed]
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"{self.bench}: {len(self.bars) - len(failed)}/{len(self.bars)} bars passed "
              f"({os.cpu_count()} CPUs, load average {load:.2f})", flush=True)
        if failed:
            print(f"{self.bench}: FAILED {', '.join(failed)}", flush=True)
        return 1 if failed else 0


def best_of(fn: Callable[[], object], *, min_runs: int = 5, max_runs: int = 200, min_time_s: float = 0.2,
            clock: Callable[[], float] = time.process_time) -> tuple[float, float]:
    """(best, median) seconds of `fn()` over at least `min_runs` calls and `min_time_s` seconds.

    The default clock is this process's CPU time: on a shared machine other jobs stretch wall
    time but hardly the CPU a pure-Python call needs.  The best is the number to hold against
    a bar (other jobs only ever add time); the median shows how noisy the machine was.
    """
    times: list[float] = []
    spent = 0.0
    while len(times) < max_runs and (len(times) < min_runs or spent < min_time_s):
        t = clock()
        fn()
        dt = clock() - t
        times.append(dt)
        spent += dt
    return min(times), statistics.median(times)


def parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with `--scale`, which multiplies every bar (e.g. 2 on a slow box)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--scale", type=float, default=1.0,
                   help="multiply every time bar (divide every rate bar) by this; default 1")
    return p


def scaled(bar: float, scale: float, *, higher_is_better: bool = False) -> float:
    if not scale > 0:
        raise SystemExit(f"--scale must be a positive number, not {scale!r}")
    return bar / scale if higher_is_better else bar * scale


def main_guard(run: Callable[[Sequence[str] | None], int]) -> None:
    """Run a benchmark's `main(argv)` and exit with its status; a crash exits 2, not a FAIL (1)."""
    try:
        status = run(None)
    except KeyboardInterrupt:
        sys.exit(130)
    except SystemExit:
        raise
    except Exception:  # noqa: BLE001 - a broken benchmark is reported, then exits 2
        import traceback

        traceback.print_exc()
        sys.exit(2)
    sys.exit(status)
