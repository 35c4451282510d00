"""The HTML report's cost: `htmlreport.write_report` over a synthetic run of 600 cells and 1,000,000 samples.

    .venv/bin/python -m benchmarks.bench_report [--scale 2]

One phone, 10 models x 2 thread counts x (native CPU + GPU and 8 browser runtime/backend pairs) x 3
repeats = 600 cells, 30 latencies each; 1,000,000 probe rows (meminfo, thermal, battery, cpu,
gfxinfo) spread over the cells (tests/report/synthetic.py).  Building the run is not timed.

Bar: the first report (gap table, cells.parquet and samples.parquet built from the JSON Lines,
every figure, the page) within 10 s of wall time.  The second report, with the Parquet files
fresh, is printed as information.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from ._common import Bar, Report, main_guard, parser, scaled

REPORT_BAR_S = 10.0


def main(argv: Sequence[str] | None = None) -> int:
    from mobile_webinfer.htmlreport import write_report
    from tests.report.synthetic import BROWSER_CONFIGS, make_run

    args = parser(__doc__ or "").parse_args(argv)
    rep = Report("bench_report")
    root = Path(tempfile.mkdtemp(prefix="mwi-bench-report-"))
    try:
        t0 = time.perf_counter()
        run = make_run(root, targets=("R58M12345",), models=10, threads=(1, 4), configs=BROWSER_CONFIGS[:8],
                       repeats=3, latencies=30, samples=1_000_000)
        rep.info(f"synthetic run built in {time.perf_counter() - t0:.1f} s: {run}")
        t0, c0 = time.perf_counter(), time.process_time()
        write_report(run)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        rep.add(Bar("report_600_cells_1M_samples_s", wall, scaled(REPORT_BAR_S, args.scale),
                    note=f"wall time, cold (Parquet built too); CPU {cpu:.1f} s"))
        t0 = time.perf_counter()
        write_report(run)
        rep.info(f"again with fresh Parquet files: {time.perf_counter() - t0:.1f} s wall")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return rep.finish()


if __name__ == "__main__":
    main_guard(main)
