"""A rich progress bar for sweeps (quiet when not on a terminal)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn


class SweepProgress:
    def __init__(self, console: Console | None = None):
        self.console = console or Console(stderr=True)
        self._p: Progress | None = None
        self._task: TaskID | None = None
        self.failed = 0

    def start(self, total: int, done: int = 0) -> None:
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
        if self._p is not None and self._task is not None:
            self._p.advance(self._task)

    def finish(self) -> None:
        if self._p is not None:
            self._p.stop()
            self._p = None
