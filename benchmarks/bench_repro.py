"""Reproducibility: two identical local sweeps back to back; the worst ratio of medians across cells.

    .venv/bin/python -m benchmarks.bench_repro [--model mobilenet_v2] [-- extra mwi sweep flags]

Runs `mwi sweep --models mobilenet_v2 --backends wasm --threads 1 --no-html --no-capabilities`
twice in a row (a child process each, results under a scratch --out removed afterwards, sweep
defaults otherwise: every browser runtime on wasm and the native tflite-native xnnpack cell at
1 thread, the default repeats and budget).  Per configuration (target, browser, model, runtime,
backend, threads) the median pools every timed latency of its repeats; the ratio is second /
first.  Prints one line per configuration and one bar: the configuration farthest from 1.

Bar: every median within 5% (0.95 <= second / first <= 1.05).
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from ._common import REPO_ROOT, Report, main_guard, parser
from ._overhead import RangeBar, pooled_median, ratio_ci

LO, HI = 0.95, 1.05


def sweep(out: Path, model: str, extra: Sequence[str]) -> tuple[Path, float]:
    cmd = [sys.executable, "-m", "mobile_webinfer", "sweep", "--models", model, "--backends", "wasm",
           "--threads", "1", "--no-html", "--no-capabilities", "--out", str(out), *extra]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT, check=False)
    wall = time.monotonic() - t0
    print(f"  sweep into {out.name}/: {wall:.0f} s, load average at its end {os.getloadavg()[0]:.2f} "
          f"(this sweep keeps about one core busy)", flush=True)
    lines = [ln for ln in proc.stdout.strip().splitlines() if ln.strip()]
    if proc.returncode not in (0, 1) or not lines or not Path(lines[-1].strip()).is_dir():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"mwi sweep exited {proc.returncode}: {' | '.join(tail)}")
    return Path(lines[-1].strip()), wall


def medians(run_dir: Path) -> dict[tuple, list[list[float]]]:
    from mobile_webinfer.store import RunStore

    groups: dict[tuple, list[list[float]]] = {}
    for rec in RunStore.open(run_dir).results():
        if rec.get("status") != "ok" or not rec.get("latencies_ms"):
            continue
        c = rec["cell"]
        key = (c["browser"], c["model"], c["runtime"], c["backend"], f"t{c['threads']}")
        groups.setdefault(key, []).append([float(x) for x in rec["latencies_ms"]])
    return groups


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1:]
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--model", default="mobilenet_v2")
    p.add_argument("--keep", action="store_true", help="keep the two run directories (printed)")
    args = p.parse_args(argv)
    report = Report("bench_repro")
    tmp = Path(tempfile.mkdtemp(prefix="mwi-bench-repro-"))
    try:
        run_a, _ = sweep(tmp / "a", args.model, extra)
        run_b, _ = sweep(tmp / "b", args.model, extra)
        a, b = medians(run_a), medians(run_b)
        missing = sorted(set(a) ^ set(b))
        if missing:
            report.info("cells ok in only one sweep (not compared): " + ", ".join("/".join(k) for k in missing))
        if not set(a) & set(b):
            raise RuntimeError("the two sweeps have no ok cell in common")
        worst_key, worst, worst_ci = None, 1.0, None
        for key in sorted(set(a) & set(b)):
            r, ci = ratio_ci(b[key], a[key])
            report.info(f"{'/'.join(key[2:])}: first {pooled_median(a[key]):.2f} ms, second "
                        f"{pooled_median(b[key]):.2f} ms, ratio {r:.3f} [CI95 {ci[0]:.3f}-{ci[1]:.3f}] "
                        f"({len(a[key])}+{len(b[key])} loads)")
            if abs(math.log(r)) >= abs(math.log(worst)):
                worst_key, worst, worst_ci = key, r, ci
        assert worst_key is not None
        report.add(RangeBar("repro_worst_median_ratio", worst, LO, HI, worst_ci,
                            note=f"second / first sweep, worst of {len(set(a) & set(b))} cells: "
                                 f"{'/'.join(worst_key[2:])}, {args.model}"))
        if args.keep:
            report.info(f"kept {run_a} and {run_b}")
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return report.finish()


if __name__ == "__main__":
    main_guard(main)
