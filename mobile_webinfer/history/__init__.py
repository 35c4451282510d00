"""Results over time: a lab's runs as series, the steps in them, baselines and a CI gate.

Above the report layer: reads every run's `cells.parquet` in place through DuckDB (runs without
one are built in memory by the report's own code), finds steps with ruptures, and draws a page in
the report's style.  Nothing in a run directory is written.
"""

from __future__ import annotations

from .changes import History, SeriesKey, SeriesResult, Step, analyse, find_steps
from .check import EXIT_REGRESSION, CheckResult, check, junit_xml, parse_threshold, pin
from .runs import Lab, RunInfo, Unreadable, open_lab

__all__ = ["EXIT_REGRESSION", "CheckResult", "History", "Lab", "RunInfo", "SeriesKey", "SeriesResult", "Step",
           "Unreadable", "analyse", "check", "find_steps", "junit_xml", "open_lab", "parse_threshold", "pin"]
