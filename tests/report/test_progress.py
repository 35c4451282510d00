"""Off a terminal the sweep's progress is plain periodic lines (cell n of N, elapsed, estimate)."""

import io

from rich.console import Console

from mobile_webinfer.progress import SweepProgress
from mobile_webinfer.records import CellRecord
from mobile_webinfer.vocab import Cell


def test_plain_lines_when_not_a_terminal():
    buf = io.StringIO()
    p = SweepProgress(Console(file=buf, force_terminal=False), interval_s=0.0)
    p.start(3)
    for i in range(3):
        cell = Cell("local", "chromium", "tiny_cnn", "tfjs", "wasm", 1, i)
        p.on_start(cell)
        p.on_cell(cell, CellRecord(status="ok"))
    p.finish()
    lines = buf.getvalue().splitlines()
    assert lines[0] == "sweep: 3 cells (0 already stored)"
    assert [ln.split(",")[0] for ln in lines[1:]] == [f"sweep: cell {i} of 3 done" for i in (1, 2, 3)]
    assert "elapsed" in lines[1] and "left" in lines[1] and "\x1b" not in buf.getvalue()


def test_lines_are_rate_limited_but_the_last_always_shows():
    buf = io.StringIO()
    p = SweepProgress(Console(file=buf, force_terminal=False), interval_s=3600)
    p.start(5)
    for i in range(5):
        cell = Cell("local", "chromium", "m", "tfjs", "wasm", 1, i)
        p.on_cell(cell, CellRecord(status="ok"))
    p.finish()
    lines = buf.getvalue().splitlines()[1:]
    assert [ln.split(",")[0] for ln in lines] == ["sweep: cell 1 of 5 done", "sweep: cell 5 of 5 done"]


def test_a_long_cell_still_prints_periodic_lines_and_finish_stops_them():
    import time

    buf = io.StringIO()
    p = SweepProgress(Console(file=buf, force_terminal=False), interval_s=3600, heartbeat_s=0.05)
    p.start(4, done=1)
    cell = Cell("local", "chromium", "tiny_cnn", "tfjs", "wasm", 1, 0)
    beat = p._beat
    assert beat is not None and beat.is_alive()
    p.on_start(cell)
    time.sleep(0.4)  # a "long" cell: several heartbeats
    p.on_cell(cell, CellRecord(status="ok"))
    time.sleep(0.15)  # nothing runs now: no heartbeat line
    p.finish()
    assert not beat.is_alive()
    lines = buf.getvalue().splitlines()
    beats = [ln for ln in lines if "running for" in ln]
    assert len(beats) >= 2, lines
    assert all(ln.startswith("sweep: cell 2 of 4 running for 0:00:0") and ln.endswith(f": {cell.key}")
               for ln in beats)
    assert lines.index(beats[-1]) < next(i for i, ln in enumerate(lines) if "done" in ln)
    size = len(buf.getvalue())
    time.sleep(0.15)
    assert len(buf.getvalue()) == size  # stopped in finish()


def test_heartbeat_is_off_on_a_terminal_and_when_disabled():
    for console, beat in ((Console(file=io.StringIO(), force_terminal=True), 0.05),
                          (Console(file=io.StringIO(), force_terminal=False), 0.0)):
        p = SweepProgress(console, heartbeat_s=beat)
        p.start(2)
        assert p._beat is None
        p.finish()
