"""Thermal soak and battery drain studies (`mwi thermal`, `mwi battery`).

A study runs inference back to back for a duration on one target, per run (runtime/backend),
while its own sampler records the signal the study is about (thermal status, temperatures,
CPU / GPU frequency; battery charge, current, voltage).  It sits beside the sweep, above the
targets: `spec` (what was asked), `sources` (the probes a study needs, phone and host),
`run` (the runner: store, stop, restore), `derive` (pure figures from stored rows), `summary`
(one object per run for `mwi report --json` and the HTML report).
"""

from .spec import RunSpec, StudySpec, parse_duration, parse_runs

__all__ = ["RunSpec", "StudySpec", "parse_duration", "parse_runs"]
