"""Host native: our LiteRT child-process median against a bare `interpreter.invoke()` loop.

    .venv/bin/python -m benchmarks.bench_native [--model mobilenet_v2] [--pairs 8] [--iterations 200]

"Ours" is `native.host.run_isolated`, the path a sweep's `tflite-native` cell takes on this computer
(a fresh `python -m mobile_webinfer.native.host_worker` child: JSON request, load, first inference,
warmups, `timed_loop` of set_tensor + invoke + get_tensor, outputs back through an .npz).  "Bare" is
a plain Python child process that loads the same .tflite with the same interpreter
(`ai_edge_litert`, XNNPACK by default, `num_threads` as asked), sets the input once and times
`interpreter.invoke()` alone.  Processes are interleaved A B, B A, ...; the ratio is the median over
pairs of the two processes' medians (CI95: bootstrap over pairs and latencies).

Bar: ours / bare <= 1.02 (a harness can be cheaper only by skipping work: a CI95 wholly under 1
is called out in the line).  The paired ratio of each process's 10th percentile is printed beside
it: other jobs only ever add time, so it is the comparison with the least interference.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence

import numpy as np

from ._common import Report, main_guard, parser
from ._local import manifest_of
from ._overhead import RangeBar, abba, paired_ratio_ci, pooled_median, ratio_ci

BAR = 1.02

BARE = r"""
import json, sys, time
import numpy as np
from ai_edge_litert.interpreter import Interpreter
spec = json.loads(sys.argv[1])
it = Interpreter(model_path=spec["model"], num_threads=spec["threads"])
it.allocate_tensors()
for d, (path, dtype, shape) in zip(it.get_input_details(), spec["inputs"]):
    it.set_tensor(d["index"], np.fromfile(path, dtype=np.dtype(dtype).newbyteorder("<")).reshape(shape).astype(dtype))
for _ in range(1 + spec["warmups"]):
    it.invoke()
lat = []
for _ in range(spec["iterations"]):
    t = time.perf_counter()
    it.invoke()
    lat.append((time.perf_counter() - t) * 1000)
print(json.dumps(lat))
"""


def ours(model, inputs, threads: int, warmups: int, iterations: int) -> list[float]:
    from mobile_webinfer.native.host import run_isolated

    res = run_isolated(model, inputs, threads=threads, backend="xnnpack", warmups=warmups, iterations=iterations,
                       min_iterations=iterations, time_budget_s=600.0, timeout_s=600.0)
    return list(res.latencies_ms)


def bare(model, inputs, threads: int, warmups: int, iterations: int) -> list[float]:
    spec = {"model": str(model), "threads": threads, "warmups": warmups, "iterations": iterations,
            "inputs": [[str(p), dt, list(sh)] for p, dt, sh in inputs]}
    proc = subprocess.run([sys.executable, "-c", BARE, json.dumps(spec)], capture_output=True, text=True,
                          timeout=600, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"bare LiteRT loop failed: {proc.stderr.strip().splitlines()[-1:]}")
    return [float(x) for x in json.loads(proc.stdout.strip().splitlines()[-1])]


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--model", default="mobilenet_v2")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--pairs", type=int, default=8, help="process pairs (default 8: 16 processes)")
    p.add_argument("--iterations", type=int, default=200, help="timed invocations per process (default 200)")
    p.add_argument("--warmups", type=int, default=5)
    args = p.parse_args(argv)
    report = Report("bench_native")
    m = manifest_of(args.model)
    model = m.file("tflite")
    inputs = [(m.dir / s["path"], s["dtype"], s["shape"]) for s in m.data["sample_inputs"]]
    sides: dict[str, list[list[float]]] = {"a": [], "b": []}
    for order in abba(args.pairs):
        for side in order:
            run = ours if side == "a" else bare
            sides[side].append(run(model, inputs, args.threads, args.warmups, args.iterations))
    a, b = sides["a"], sides["b"]
    ratio, ci = paired_ratio_ci(a, b)
    pooled, pooled_ci = ratio_ci(a, b)
    p10, p10_ci = paired_ratio_ci(a, b, q=0.1)
    report.info("ours per process [" + ", ".join(f"{np.median(x):.2f}" for x in a) + "] ms; bare ["
                + ", ".join(f"{np.median(x):.2f}" for x in b) + f"] ms; ratio of pooled medians {pooled:.3f} "
                f"[CI95 {pooled_ci[0]:.3f}-{pooled_ci[1]:.3f}]; paired p10 ratio {p10:.3f} "
                f"[CI95 {p10_ci[0]:.3f}-{p10_ci[1]:.3f}] (least interference)")
    note = (f"ours {pooled_median(a):.2f} ms / bare invoke() {pooled_median(b):.2f} ms, {args.model} {model.name}, "
            f"t{args.threads}, {args.pairs}+{args.pairs} interleaved processes x {args.iterations}")
    if ci[1] < 1.0:
        note += "; ours FASTER than the bare loop (CI below 1): suspect"
    report.add(RangeBar(f"native_litert_t{args.threads}_ratio", ratio, 0.0, BAR, ci, note=note))
    return report.finish()


if __name__ == "__main__":
    main_guard(main)
