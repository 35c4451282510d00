"""Sweep progress: a rich bar on a terminal; plain periodic lines otherwise (a log, CI).

Off a terminal a line `sweep: cell 3 of 12 done, 0:01:05 elapsed, about 0:03:20 left (...)` is
printed when a cell ends, at most every `interval_s` seconds (and always for the last cell).  So
that a long cell is not minutes of silence, a heartbeat thread prints
`sweep: cell 4 of 12 running for 0:01:30: <cell key>` every `heartbeat_s` seconds while a cell
runs longer than that (one line per running cell: phones are measured in parallel).

The sweep calls the hooks from one thread per target, so every counter is kept under a lock;
`finish()` stops the heartbeat thread.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from rich.console import Console
from rich.markup import escape as rich_escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from .records import TIME_CEILING_SKIP, CellRecord
from .vocab import Cell

_WAITING: dict[int, str] = {}   # thread id -> what the cell running in it waits for (the cool-down gate)
_WAITING_LOCK = threading.Lock()


def set_waiting(note: str | None) -> None:
    """What the calling thread's cell waits for now (`battery 41.2 C > 35 C`), or None: no longer.
    The heartbeat line of that cell says it (`... running for 0:00:59: KEY; waiting: battery ...`)."""
    with _WAITING_LOCK:
        if note:
            _WAITING[threading.get_ident()] = note
        else:
            _WAITING.pop(threading.get_ident(), None)


def waiting_in(thread_id: int) -> str | None:
    with _WAITING_LOCK:
        return _WAITING.get(thread_id)


def _span(seconds: float) -> str:
    return str(timedelta(seconds=round(seconds)))


class SweepProgress:
    def __init__(self, console: Console | None = None, *, interval_s: float = 15.0,
                 heartbeat_s: float = 30.0) -> None:
        self.console = console or Console(stderr=True)
        self.interval_s = interval_s
        self.heartbeat_s = heartbeat_s
        self.total = 0
        self.done = 0
        self._resumed = 0
        self._t0 = time.monotonic()
        self._last_line = float("-inf")
        self._p: Progress | None = None
        self._task: TaskID | None = None
        self.failed = 0
        self._lock = threading.Lock()
        self._running: dict[str, tuple[float, int]] = {}   # cell key -> (monotonic start, its number n)
        self._started = 0
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None
        self._threads: dict[str, int] = {}   # cell key -> the thread running it (its wait note)

    def _print(self, text: str) -> None:
        self.console.print(text, highlight=False, markup=False, soft_wrap=True)

    def start(self, total: int, done: int = 0) -> None:
        with self._lock:
            self.total, self.done, self._resumed, self._t0 = total, done, done, time.monotonic()
            self._started = done
        if not self.console.is_terminal:
            self._print(f"sweep: {total} cells ({done} already stored)")
            if self.heartbeat_s > 0 and self._beat is None:
                self._stop.clear()
                self._beat = threading.Thread(target=self._heartbeat, name="mwi-progress-heartbeat", daemon=True)
                self._beat.start()
            return
        self._p = Progress(TextColumn("[bold]sweep"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                           TextColumn("{task.description}"), console=self.console, transient=False)
        self._p.start()
        self._task = self._p.add_task("", total=total, completed=done)
        if done:
            self.console.print(f"resuming: {done} of {total} cells already stored")

    def add(self, n: int) -> None:
        """`n` more cells than planned (extra repeats where a configuration missed --precision)."""
        with self._lock:
            self.total += n
        if self._p is not None and self._task is not None:
            self._p.update(self._task, total=self.total)
        elif not self.console.is_terminal:
            self._print(f"sweep: {n} extra repeat(s) where the CI95 missed the precision; {self.total} cells now")

    def on_start(self, cell: Cell) -> None:
        with self._lock:
            self._started += 1
            self._running[cell.key] = (time.monotonic(), min(self._started, max(self.total, 1)))
            self._threads[cell.key] = threading.get_ident()
        if self._p is not None and self._task is not None:
            self._p.update(self._task, description=f"{cell.model} {cell.runtime}/{cell.backend} "
                                                   f"t{cell.threads} r{cell.repeat}")

    def on_cell(self, cell: Cell, rec: CellRecord) -> None:
        """`rec`: the stored CellRecord (status, error)."""
        with self._lock:
            self._running.pop(cell.key, None)
            self._threads.pop(cell.key, None)
            cut = rec.error_kind == TIME_CEILING_SKIP  # a planned repeat left unrun: not a failure
            if rec.status != "ok" and not cut:
                self.failed += 1
            self.done += 1
        if rec.status != "ok":
            # soft_wrap: an error's path (a missing vendored file) stays whole on its line; markup is the
            # status word's colour only, never read from the error text
            self.console.print(f"[{'dim' if cut else 'yellow'}]{rec.status}[/] {cell.key}: "
                               f"{rich_escape(' '.join((rec.error or '').split())[:300])}",
                               highlight=False, soft_wrap=True)
        if self._p is not None and self._task is not None:
            self._p.advance(self._task)
        elif not self.console.is_terminal:
            self._plain_line(cell)

    def _plain_line(self, cell: Cell) -> None:
        with self._lock:
            now = time.monotonic()
            if now - self._last_line < self.interval_s and self.done < self.total:
                return
            self._last_line = now
            elapsed = now - self._t0
            ran = self.done - self._resumed
            left = (self.total - self.done) * elapsed / ran if ran > 0 else None
            done, total = self.done, self.total
        est = f", about {_span(left)} left" if left is not None else ""
        self._print(f"sweep: cell {done} of {total} done, {_span(elapsed)} elapsed{est} (last: {cell.key})")

    def _heartbeat(self) -> None:
        """Every `heartbeat_s`: a line for each cell that has been running at least that long."""
        while not self._stop.wait(self.heartbeat_s):
            now = time.monotonic()
            with self._lock:
                long_ones = [(key, now - t0, n, self._threads.get(key)) for key, (t0, n) in self._running.items()
                             if now - t0 >= self.heartbeat_s]
                total = self.total
            for key, ran, n, tid in sorted(long_ones, key=lambda x: x[2]):
                note = waiting_in(tid) if tid is not None else None
                self._print(f"sweep: cell {n} of {total} running for {_span(ran)}: {key}"
                            + (f"; waiting: {note}" if note else ""))

    def finish(self) -> None:
        self._stop.set()
        beat, self._beat = self._beat, None
        if beat is not None:
            beat.join(timeout=5)
        if self._p is not None:
            self._p.stop()
            self._p = None
