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
    lines = buf.getvalue().splitlines()[1:]
    assert [ln.split(",")[0] for ln in lines] == ["sweep: cell 1 of 5 done", "sweep: cell 5 of 5 done"]
