"""Speed bars for mobile-webinfer, kept out of the test suite (timed tests are flaky on shared boxes).

Run one with `.venv/bin/python -m benchmarks.bench_NAME`, or all with `.venv/bin/python -m benchmarks`.
Each prints `NAME: measured X, bar Y, ratio X/Y (PASS|FAIL)` lines and exits 1 if a bar failed.
"""

BENCHMARKS = ("bench_parsers", "bench_store", "bench_stats", "bench_sampler", "bench_report", "bench_cluster",
              "bench_native", "bench_fidelity", "bench_perturbation", "bench_repro", "bench_history",
              "bench_pairing")
