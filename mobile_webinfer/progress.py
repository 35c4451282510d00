"""Sweep progress: a rich bar on a terminal; plain periodic lines otherwise (a log, CI).

Off a terminal a line `sweep: cell 3 of 12 done, 0:01:05 elapsed, about 0:03:20 left (...)` is
printed when a cell ends, at most every `interval_s` seconds (and always for the last cell).
"""

from __future__ import annotations

import time
from datetime import timedelta

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn


class SweepProgress:
    def __init__(self, console: Console | None = None, *, interval_s: float = 15.0):
        self.console = console or Console(stderr=True)
        self.interval_s = interval_s
        self.total = 0
        self.done = 0
        self._resumed = 0
        self._t0 = time.monotonic()
        self._last_line = float("-inf")
        self._p: Progress | None = None
        self._task: TaskID | None = None
        self.failed = 0

    def start(self, total: int, done: int = 0) -> None:
        self.total, self.done, self._resumed, self._t0 = total, done, done, time.monotonic()
        if not self.console.is_terminal:
            self.console.print(f"sweep: {total} cells ({done} already stored)", highlight=False, markup=False)
            return
        self._p = Progress(TextColumn("[bold]sweep"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                           TextColumn("{task.description}"), console=self.console, transient=False)
        self._p.start()
        self._task = self._p.add_task("", total=total, completed=done)
        if done:
            self.console.print(f"resuming: {done} of {total} cells already stored")

    def on_start(self, cell) -> None:
        if self._p is not None and self._task is not None:
            self._p.update(self._task, description=f"{cell.model} {cell.runtime}/{cell.backend} "
                                                   f"t{cell.threads} r{cell.repeat}")

    def on_cell(self, cell, rec) -> None:
        """`rec`: the stored CellRecord (status, error)."""
        if rec.status != "ok":
            self.failed += 1
            self.console.print(f"[yellow]{rec.status}[/] {cell.key}: {(rec.error or '')[:200]}")
        self.done += 1
        if self._p is not None and self._task is not None:
            self._p.advance(self._task)
        elif not self.console.is_terminal:
            self._plain_line(cell)

    def _plain_line(self, cell) -> None:
        now = time.monotonic()
        if now - self._last_line < self.interval_s and self.done < self.total:
            return
        self._last_line = now
        elapsed = now - self._t0
        ran = self.done - self._resumed
        left = (self.total - self.done) * elapsed / ran if ran > 0 else None
        est = f", about {timedelta(seconds=round(left))} left" if left is not None else ""
        self.console.print(f"sweep: cell {self.done} of {self.total} done, {timedelta(seconds=round(elapsed))} "
                           f"elapsed{est} (last: {cell.key})", highlight=False, markup=False, soft_wrap=True)

    def finish(self) -> None:
        if self._p is not None:
            self._p.stop()
            self._p = None
