"""Sampler perturbation: browser-cell medians with every sampler on against all off.

    .venv/bin/python -m benchmarks.bench_perturbation [--where local,fakephone] [--runtimes litert,tfjs]
                                                      [--pairs 4] [--iterations 150]

Both sides are the same cell through the same target code (`LocalTarget.measure`; on the fake phone
`AndroidTarget.measure`: adb reverse, Chrome opened by intent, gate, watchdog).  "Off" swaps
`probes.sampler.Sampler` for one given no probe (`_overhead.samplers_off`, benchmark-only), which
removes the local /proc memory sampler (every Chromium process's smaps_rollup five times a
second), or the phone's dumpsys meminfo / gfxinfo / thermal / battery / cpu probes at their
intervals.  Loads are interleaved on, off, off, on, ...; the ratio is the median over pairs of
median(on) / median(off), CI95 by a bootstrap over pairs and latencies.

The fake phone (tests/fakephone) is a real headless Chromium on this computer behind a fake adb
device, so its "phone" CPU is this host's: the probes' adb round trips and the fake's dumpsys
work compete with the page for the same two cores, much as dumpsys competes with a real phone's
browser for the phone's cores (a real phone's dumpsys costs differ).

Bar: on / off <= 1.03.
"""

from __future__ import annotations

import contextlib
import statistics
from collections.abc import Callable, Sequence
from typing import Any

from ._common import Report, main_guard, parser
from ._local import STOP, LoadResult, browser_cell, fixed_budget, harness_load, manifest_of, page_server
from ._overhead import RangeBar, abba, paired_ratio_ci, pooled_median, samplers_off

BAR = 1.03
CHROME = "com.android.chrome"


def _compare(report: Report, where: str, runtime: str, pairs: int, iterations: int,
             load: Callable[[], LoadResult]) -> None:
    sides: dict[str, list[LoadResult]] = {"a": [], "b": []}
    for order in abba(pairs):
        for side in order:
            with (contextlib.nullcontext() if side == "a" else samplers_off()):
                sides[side].append(load())
    on, off = sides["a"], sides["b"]
    ratio, ci = paired_ratio_ci([r.latencies_ms for r in on], [r.latencies_ms for r in off])
    per = lambda rs: ", ".join(f"{statistics.median(r.latencies_ms):.2f}" for r in rs)  # noqa: E731
    p10, p10_ci = paired_ratio_ci([r.latencies_ms for r in on], [r.latencies_ms for r in off], q=0.1)
    report.info(f"{where} {runtime}: samplers on per load [{per(on)}] ms; off [{per(off)}] ms; paired p10 ratio "
                f"{p10:.3f} [CI95 {p10_ci[0]:.3f}-{p10_ci[1]:.3f}] (least interference)")
    report.add(RangeBar(f"sampler_perturbation_{where}_{runtime}_ratio", ratio, 0.0, BAR, ci,
                        note=f"on {pooled_median([r.latencies_ms for r in on]):.2f} ms / off "
                             f"{pooled_median([r.latencies_ms for r in off]):.2f} ms, {pairs}+{pairs} interleaved "
                             f"loads x {iterations}"))


@contextlib.contextmanager
def _sampler_cpu(costs: list[float]):
    """Thread CPU time of every local memory-probe sample (robust to other jobs, unlike wall time)."""
    import time

    from mobile_webinfer.probes import hostmem

    real = hostmem.ProcessTreeMemoryProbe.sample

    def timed(self, device):  # noqa: ANN001, ANN202
        c0 = time.thread_time()
        try:
            return real(self, device)
        finally:
            costs.append(time.thread_time() - c0)

    hostmem.ProcessTreeMemoryProbe.sample = timed  # type: ignore[method-assign]
    try:
        yield
    finally:
        hostmem.ProcessTreeMemoryProbe.sample = real  # type: ignore[method-assign]


def _android_load(target: Any, cell: Any, manifest: Any, server: Any, budget: Any) -> LoadResult:
    import time

    t0 = time.monotonic()
    rec = target.measure(cell, manifest, server, budget, STOP).record
    if not rec.ok or not rec.latencies_ms:
        raise RuntimeError(f"fake-phone cell {cell.runtime}/{cell.backend} failed: {rec.error}")
    eff = rec.in_effect
    return LoadResult(tuple(rec.latencies_ms), getattr(eff, "backend", None), getattr(eff, "threads", None),
                      getattr(eff, "wasm_build", None), time.monotonic() - t0)


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--where", default="local,fakephone", help="local, fakephone or both (default both)")
    p.add_argument("--runtimes", default="litert,tfjs")
    p.add_argument("--model", default="mobilenet_v2")
    p.add_argument("--pairs", type=int, default=4)
    p.add_argument("--iterations", type=int, default=150,
                   help="timed inferences per load (default 150: several seconds, so every probe runs in it)")
    p.add_argument("--warmups", type=int, default=5)
    p.add_argument("--profile", default="pixel", help="fake phone profile (tests/fakephone/profiles)")
    p.add_argument("--memory-interval", type=float, default=None,
                   help="diagnosis: the local memory sampler's interval, s, on the 'on' side "
                        "(default: the target's own, targets.local.MEMORY_INTERVAL_S)")
    args = p.parse_args(argv)
    if args.memory_interval is not None:
        from mobile_webinfer.targets import local as local_target

        local_target.MEMORY_INTERVAL_S = args.memory_interval  # read when a cell starts
    where = [w.strip() for w in args.where.split(",") if w.strip()]
    runtimes = [r.strip() for r in args.runtimes.split(",") if r.strip()]
    report = Report("bench_perturbation")
    manifest = manifest_of(args.model)
    budget = fixed_budget(args.warmups, args.iterations)
    with page_server() as server:
        if "local" in where:
            from mobile_webinfer.targets import local as local_target

            costs: list[float] = []
            with _sampler_cpu(costs):
                for rt in runtimes:
                    cell = browser_cell(args.model, rt, "wasm", 1)
                    _compare(report, "local", rt, args.pairs, args.iterations,
                             lambda cell=cell: harness_load(cell, manifest, server, budget))
            if costs:
                every = local_target.MEMORY_INTERVAL_S
                report.info(f"local memory sampler: median {statistics.median(costs) * 1e3:.1f} ms CPU per sample "
                            f"(max {max(costs) * 1e3:.1f}), every {every:g} s: about "
                            f"{statistics.median(costs) / every:.0%} of one core while a cell runs")
        if "fakephone" in where:
            from mobile_webinfer.targets.android.target import AndroidTarget
            from mobile_webinfer.vocab import Cell

            from ._fakephone import private_fake_phone

            with private_fake_phone(args.profile) as (_srv, phone, _device):
                target = AndroidTarget(phone.serial)
                target.describe()
                with target.conditions():
                    for rt in runtimes:
                        cell = Cell(target=phone.serial, browser=CHROME, model=args.model, runtime=rt,
                                    backend="wasm", threads=1, repeat=0)
                        _compare(report, "fakephone", rt, args.pairs, args.iterations,
                                 lambda cell=cell: _android_load(target, cell, manifest, server, budget))
    return report.finish()


if __name__ == "__main__":
    main_guard(main)
