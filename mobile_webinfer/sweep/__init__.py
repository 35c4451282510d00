"""`mwi sweep`: the matrix of cells, run target by target, stored as it goes.

    spec.py       what to measure (SweepSpec, sweep files) and the plan of cells
    runner.py     a worker per target, stop, resume, the manifest
    reference.py  reference outputs for agreement
    policy.py     the flags stored with each cell, the throttle re-run rule
"""

from .runner import Runner, SweepOutcome, TargetLost, plan, resolve_for_dry_run, run_sweep
from .spec import SweepSpec, estimate_seconds, load_spec_file, plan_cells

__all__ = ["Runner", "SweepOutcome", "SweepSpec", "TargetLost", "estimate_seconds", "load_spec_file", "plan",
           "plan_cells", "resolve_for_dry_run", "run_sweep"]
