"""Reproducibility: two identical local sweeps back to back; the worst ratio of medians across cells.

    .venv/bin/python -m benchmarks.bench_repro [--model mobilenet_v2] [-- extra mwi sweep flags]

Runs `mwi sweep --models mobilenet_v2 --backends wasm --threads 1 --no-html --no-capabilities`
twice in a row (a child process each, results under a scratch --out removed afterwards, sweep
defaults otherwise: every browser runtime on wasm and the native tflite-native xnnpack cell at
1 thread, the default repeats and budget).  Per configuration (target, browser, model, runtime,
backend, threads) the median pools every timed latency of its repeats; the ratio is second /
first.  Prints one line per configuration and one bar: the configuration farthest from 1.

Bar: every median within 5% (0.95 <= second / first <= 1.05).

Gaps (issue 21): per browser configuration and sweep, the paired gap (the median of its rounds'
browser / native ratios, CI95 from loads then rounds) and the unpaired gap (its pooled median over
the native cell's, measured in other windows; CI95 from both sides' bootstraps) are printed side by
side, so their spreads on the same machine in the same run compare directly; then each gap's ratio
second / first sweep.  Bar: every paired gap within 5% between the sweeps (the unpaired gaps' worst
ratio is printed beside it).  `-- --no-pairing` runs both sweeps unpaired (the paired bar is then
skipped).
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
from typing import TYPE_CHECKING

from ._common import REPO_ROOT, Report, main_guard, parser
from ._overhead import RangeBar, pooled_median, ratio_ci

if TYPE_CHECKING:
    import numpy as np

LO, HI = 0.95, 1.05


def sweep(out: Path, model: str, extra: Sequence[str]) -> tuple[Path, float]:
    cmd = [sys.executable, "-m", "mobile_webinfer", "sweep", "--models", model, "--backends", "wasm",
           "--threads", "1", "--no-html", "--no-capabilities", "--pairing", "--out", str(out), *extra]
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


def gaps(run_dir: Path) -> dict[tuple, dict]:
    """Per browser configuration: its paired round ratios (per load) and the unpaired gap's sides."""
    from mobile_webinfer.records import load_records
    from mobile_webinfer.store import RunStore

    recs = [r for r in load_records(RunStore.open(run_dir).results()) if r.ok and r.cell is not None]
    native: dict[tuple, list[list[float]]] = {}
    for r in recs:
        c = r.cell
        if c is not None and c.runtime == "tflite-native" and c.backend == "xnnpack" and r.latencies_ms:
            native.setdefault((c.model, c.threads), []).append(list(r.latencies_ms))
    out: dict[tuple, dict] = {}
    for r in recs:
        c = r.cell
        if c is None or c.is_native or c.is_qoe or not r.latencies_ms:
            continue
        d = out.setdefault((c.browser, c.model, c.runtime, c.backend, f"t{c.threads}"),
                           {"rounds": [], "browser": [], "native": native.get((c.model, c.threads), [])})
        d["browser"].append(list(r.latencies_ms))
        if r.pairing is not None and r.pairing.paired:
            d["rounds"].append(r.pairing.ratios())
    return out


def _boot_gap(rounds: list[list[float]], seed: int) -> np.ndarray:
    from mobile_webinfer.stats import bootstrap_medians

    return bootstrap_medians(rounds, seed=seed)


def report_gaps(report: Report, ga: dict[tuple, dict], gb: dict[tuple, dict]) -> None:
    """Paired and unpaired gaps of both sweeps, their spreads, and the two-sweep ratios (bars)."""
    import numpy as np

    from mobile_webinfer.paired_stats import paired_gap

    worst_p: tuple | None = None
    worst_u: tuple | None = None
    for key in sorted(set(ga) & set(gb)):
        line = ["/".join(key[2:]) + ":"]
        per_run = []
        for name, g in (("first", ga[key]), ("second", gb[key])):
            pg = paired_gap(g["rounds"]) if g["rounds"] else None
            ug = ug_ci = None
            if g["native"]:
                ug = pooled_median(g["browser"]) / pooled_median(g["native"])
                _, ug_ci = ratio_ci(g["browser"], g["native"])
            txt = f"{name}: paired " + (f"{pg.gap:.3f}x [{pg.ci95[0]:.3f}-{pg.ci95[1]:.3f}] ({pg.rounds} rounds)"
                                        if pg is not None and pg.ci95 else "-")
            txt += ", unpaired " + (f"{ug:.3f}x [{ug_ci[0]:.3f}-{ug_ci[1]:.3f}]" if ug is not None else "-")
            line.append(txt)
            per_run.append((pg, ug))
        report.info(" ".join(line))
        (pa, ua), (pb, ub) = per_run
        if pa is not None and pb is not None:
            ba, bb = _boot_gap(ga[key]["rounds"], 1), _boot_gap(gb[key]["rounds"], 2)
            r = pb.gap / pa.gap
            q = bb / ba
            ci = (float(np.percentile(q, 2.5)), float(np.percentile(q, 97.5)))
            report.info(f"  paired gap second / first {r:.3f} [CI95 {ci[0]:.3f}-{ci[1]:.3f}]")
            if worst_p is None or abs(math.log(r)) >= abs(math.log(worst_p[1])):
                worst_p = (key, r, ci)
        if ua is not None and ub is not None:
            r = ub / ua
            report.info(f"  unpaired gap second / first {r:.3f}")
            if worst_u is None or abs(math.log(r)) >= abs(math.log(worst_u[1])):
                worst_u = (key, r)
    if worst_u is not None:
        report.info(f"unpaired gaps: worst second / first {worst_u[1]:.3f} ({'/'.join(worst_u[0][2:])})")
    if worst_p is not None:
        report.add(RangeBar("repro_worst_paired_gap_ratio", worst_p[1], LO, HI, worst_p[2],
                            note=f"second / first sweep, paired gaps, worst: {'/'.join(worst_p[0][2:])}"))


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
        report_gaps(report, gaps(run_a), gaps(run_b))
        if args.keep:
            report.info(f"kept {run_a} and {run_b}")
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return report.finish()


if __name__ == "__main__":
    main_guard(main)
