"""One native cell on a phone: the same .tflite and TFLite's `benchmark_model` (pushed once),
parsed with the benchmark-model parser including delegate coverage."""

from __future__ import annotations

import dataclasses
import posixpath
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import MeasurementError, MwiError, ProcessHung, UsageError
from ...native.benchmark_setup import benchmark_model_cache_path
from ...records import CellRecord
from ...stats import STOP_COUNT, STOP_TIME, stop_rule, summary_precision
from ...vocab import NATIVE_RUNTIME, RUNTIME_FORMAT, Budget, Cell
from ..contract import Measurement, ProfileCapture, Stopped
from .gate import gate
from .samples import summarize_samples

if TYPE_CHECKING:
    from .target import AndroidTarget

NATIVE_BACKENDS = ("cpu", "xnnpack", "gpu", "nnapi")
BENCHMARK_MODEL_HINT = ("TFLite's prebuilt benchmark_model for Android (android_aarch64_benchmark_model / "
                        "android_arm_benchmark_model, linked from the TensorFlow Lite 'performance/measurement' "
                        "docs)")


def benchmark_model_path(abi: str | None, explicit: str | None = None) -> Path | None:
    """The binary a phone's native cells run: `--benchmark-model PATH`, else the one
    `mwi devices setup` cached for the phone's ABI (arm64-v8a as the fallback)."""
    if explicit:
        p = Path(explicit).expanduser()
        return p if p.is_file() else None
    for a in filter(None, (abi, "arm64-v8a")):
        try:
            p = benchmark_model_cache_path(a)
        except MwiError:  # an ABI TFLite ships no prebuilt binary for
            continue
        if p.is_file():
            return p
    return None


def native_ceiling_s(budget: Budget) -> float:
    """benchmark_model's `--max_secs` for a cell: the configuration's time ceiling (--max-time-per-cell)
    within most of the cell ceiling, never under the time budget."""
    return max(budget.time_budget_s, min(0.8 * budget.cell_timeout_s, budget.max_time_s))


#: the least a benchmark_model process gets beyond its --max_secs: loading the model, the delegate, warmups
NATIVE_GRACE_S = 20.0


def native_deadline_s(max_secs: float, budget: Budget) -> float:
    """How long one benchmark_model process may run before it is called hung and killed: its
    `--max_secs` plus a grace as long again (at least NATIVE_GRACE_S), never past the cell ceiling."""
    return min(budget.cell_timeout_s, max_secs + max(NATIVE_GRACE_S, max_secs))


def kill_on_phone(dev: Any, binary: str) -> list[int]:
    """SIGKILL, by pid, every process on the phone running `binary` (its full remote path, which
    carries the content hash: nothing else matches); the pids killed."""
    from ...errors import DeviceError

    res = dev.shell(["ps", "-A", "-o", "PID,ARGS"], check=False)
    pids = []
    for line in res.stdout.splitlines()[1:]:
        pid, _, args = line.strip().partition(" ")
        if pid.isdigit() and (args.strip() == binary or args.strip().startswith(binary + " ")):
            pids.append(int(pid))
    if pids:
        res = dev.shell(["kill", "-9", *map(str, pids)], check=False)
        if res.exit_code != 0 and "No such process" not in (res.stderr + res.stdout):
            raise DeviceError("could not kill a hung process", serial=dev.serial, command=res.command,
                              status=res.exit_code, output=res.stderr or res.stdout)
    return pids


def run_bounded(t: AndroidTarget, argv: list[str], deadline_s: float, stop: threading.Event) -> Any:
    """Run a native process on the phone (benchmark_model) with `deadline_s` to finish.  The worker
    waits on an event, not on the adb stream: past the deadline, or on a stop (Ctrl-C), the process is
    killed on the phone by pid (a raw shell's child outlives its closed stream), the host's stream
    ends with it (or at its own timeout, a few seconds later), and the worker goes on at once."""
    from ..contract import check_stop

    done = threading.Event()
    box: dict[str, Any] = {}

    def go() -> None:
        try:
            box["res"] = t.dev.shell(argv, timeout=deadline_s + 10.0, check=False)
        except BaseException as exc:  # noqa: BLE001 - handed to the worker below
            box["exc"] = exc
        finally:
            done.set()

    threading.Thread(target=go, name=f"mwi-native-{t.serial}", daemon=True).start()
    t_end = time.monotonic() + deadline_s
    while not done.wait(0.25):
        if stop.is_set() or time.monotonic() >= t_end:
            break
    if done.is_set():
        if "exc" in box:
            raise box["exc"]
        return box["res"]
    pids = kill_on_phone(t.dev, argv[0])
    done.wait(5.0)  # the phone's shell ends with its process; the host's stream with it
    check_stop(stop)
    raise ProcessHung(f"{posixpath.basename(argv[0])} gave no result within {deadline_s:.0f} s (its --max_secs "
                      f"and a grace, from the cell's budget); killed on the phone "
                      f"(pid {', '.join(map(str, pids)) or 'none found: it had ended'})")


def benchmark_model_argv(remote_bin: str, remote_model: str, cell: Cell, budget: Budget) -> list[str]:
    # benchmark_model stops once it has num_runs runs AND min_secs have passed, or at max_secs; it
    # cannot stop by precision.  Ask it for the native floor (stats.stop_rule: >= 50 runs and >= 1 s,
    # as its own defaults) and let a slow model take up to the configuration's time ceiling
    # (--max-time-per-cell, within most of the cell ceiling) to reach it; the runner's extra
    # repeats (fresh processes) bring the precision.
    rule = stop_rule(budget, native=True)
    ceiling = native_ceiling_s(budget)
    argv = [remote_bin, f"--graph={remote_model}", f"--num_threads={cell.threads}",
            f"--warmup_runs={max(1, budget.warmups)}", f"--num_runs={max(1, rule.min_iterations)}",
            f"--min_secs={rule.min_time_s:g}", f"--max_secs={ceiling:g}",
            f"--use_xnnpack={'true' if cell.backend == 'xnnpack' else 'false'}"]
    if cell.backend == "gpu":
        argv.append("--use_gpu=true")
    if cell.backend == "nnapi":
        argv.append("--use_nnapi=true")
    return argv


def run_native_cell(t: AndroidTarget, cell: Cell, manifest: Any, budget: Budget,
                    stop: threading.Event) -> Measurement:
    from ...parsers import parse_benchmark_model
    from ...probes.android import BatteryProbe, CpuProbe, ThermalProbe
    from ...probes.sampler import Sampler

    if cell.backend not in NATIVE_BACKENDS:
        raise UsageError(f"native backend {cell.backend!r} unknown (choose from {', '.join(NATIVE_BACKENDS)})")
    abi = t.abi
    binary = benchmark_model_path(abi, t.benchmark_model)
    if binary is None:
        raise MeasurementError(f"no benchmark_model binary for {abi or 'this ABI'}: run `mwi devices setup "
                               f"{t.serial}` to fetch {BENCHMARK_MODEL_HINT} for this phone (offline it prints "
                               f"what to download and where to put it), or pass --benchmark-model PATH")
    ctx, skipped = gate(t.dev, t.cooldown, stop, t.gate_state)
    if skipped:
        return Measurement(skipped)
    remote_bin = t.push_once(binary, "benchmark_model", executable=True)
    fmt = RUNTIME_FORMAT[NATIVE_RUNTIME]
    remote_model = t.push_once(manifest.file(fmt), f"{cell.model}.tflite", manifest.sha256(fmt))
    if budget.timestamps:
        return run_native_chunks(t, cell, remote_bin, remote_model, budget, stop, ctx)
    rows: list[dict[str, Any]] = []
    t0 = time.monotonic()
    with Sampler(t.dev, [ThermalProbe(), BatteryProbe(), CpuProbe()], t.sample_interval_s, rows.append,
                 tags={"key": cell.key}):
        res = run_bounded(t, benchmark_model_argv(remote_bin, remote_model, cell, budget),
                          native_deadline_s(native_ceiling_s(budget), budget), stop)
    text = res.stdout + "\n" + res.stderr
    if res.exit_code != 0:
        raise MeasurementError(f"benchmark_model exited {res.exit_code}: "
                               f"{' | '.join(text.strip().splitlines()[-2:])[:300]}")
    bm = parse_benchmark_model(text, source=f"{t.serial}: benchmark_model")
    backend = cell.backend
    flags: list[str] = []
    if cell.backend in ("gpu", "nnapi"):
        d, n = bm.nodes_delegated, bm.nodes_total
        if d is None or n is None:
            flags.append(f"{cell.backend}-coverage-unknown")
        elif d == 0:
            backend = "cpu-fallback"
        elif d < n:
            backend = f"{cell.backend}-partial"
            flags.append(f"{cell.backend}-partial({d}/{n})")
    if bm.count is not None and bm.count < budget.min_iterations:  # never one timed run published as a number
        flags.append(f"too-few-runs({bm.count}<{budget.min_iterations})")
    rec = CellRecord.from_benchmark_model(bm, threads=cell.threads, backend=backend, runtime=NATIVE_RUNTIME,
                                          text_tail="\n".join(text.strip().splitlines()[-12:]))
    asked = stop_rule(budget, native=True).min_iterations
    rec = dataclasses.replace(rec, wall_s=round(time.monotonic() - t0, 3), context=summarize_samples(rows, ctx),
                              flags=tuple(flags),
                              stop_reason=STOP_TIME if bm.count is not None and bm.count < asked else STOP_COUNT,
                              precision_reached=summary_precision(rec.latency_summary_ms))
    return Measurement(rec, samples=rows)


def run_native_profile(t: AndroidTarget, cell: Cell, manifest: Any, budget: Budget,
                       stop: threading.Event) -> ProfileCapture:
    """`mwi sweep --profile-ops`: the cell's benchmark_model run again as its own process with
    `--enable_op_profiling=true` (the profiler's own cost stays out of the latency cell); its whole
    log is the raw export ("Operator-wise Profiling Info" tables), checked readable here."""
    from ...parsers.op_profile import parse_benchmark_op_profile

    binary = benchmark_model_path(t.abi, t.benchmark_model)
    if binary is None:
        raise MeasurementError(f"no benchmark_model binary for {t.abi or 'this ABI'}: run `mwi devices setup "
                               f"{t.serial}` or pass --benchmark-model PATH")
    _ctx, skipped = gate(t.dev, t.cooldown, stop, t.gate_state)
    if skipped:
        raise MeasurementError(f"{cell.key}: no per-operator profile: {skipped.error}")
    remote_bin = t.push_once(binary, "benchmark_model", executable=True)
    fmt = RUNTIME_FORMAT[NATIVE_RUNTIME]
    remote_model = t.push_once(manifest.file(fmt), f"{cell.model}.tflite", manifest.sha256(fmt))
    argv = [*benchmark_model_argv(remote_bin, remote_model, cell, budget), "--enable_op_profiling=true"]
    res = run_bounded(t, argv, native_deadline_s(native_ceiling_s(budget), budget), stop)
    text = res.stdout + "\n" + res.stderr
    if res.exit_code != 0:
        raise MeasurementError(f"benchmark_model --enable_op_profiling exited {res.exit_code}: "
                               f"{' | '.join(text.strip().splitlines()[-2:])[:300]}")
    parse_benchmark_op_profile(text, source=f"{t.serial}: benchmark_model --enable_op_profiling")
    return ProfileCapture(source="benchmark_model", raw=text)


def chunk_seconds(duration_s: float) -> float:
    """Length of one benchmark_model run in a study: about 40 per duration, 0.5..10 s."""
    return min(10.0, max(0.5, duration_s / 40))


def run_native_chunks(t: AndroidTarget, cell: Cell, remote_bin: str, remote_model: str, budget: Budget,
                      stop: threading.Event, ctx: Any) -> Measurement:
    """Studies: benchmark_model back to back in chunks of `chunk_seconds` until the duration ends.
    benchmark_model prints a summary, not each run, so the time resolution is one chunk: each stores
    its start (ms since the first), inference count, median and mean.  Warmup only in the first chunk.
    A stop between chunks ends the run early with the chunks done (`extra.stopped`)."""
    from ...parsers import parse_benchmark_model

    chunk = chunk_seconds(budget.time_budget_s)
    chunks: list[dict[str, Any]] = []
    first: Any = None
    t0 = time.monotonic()
    stopped = False
    while time.monotonic() - t0 < budget.time_budget_s:
        if stop.is_set():
            stopped = True
            break
        left = budget.time_budget_s - (time.monotonic() - t0)
        secs = max(0.05, min(chunk, left))
        argv = [remote_bin, f"--graph={remote_model}", f"--num_threads={cell.threads}",
                f"--warmup_runs={max(1, budget.warmups) if not chunks else 1}",
                "--warmup_min_secs=0", "--num_runs=1", f"--min_secs={secs:g}",
                f"--max_secs={secs:g}", f"--use_xnnpack={'true' if cell.backend == 'xnnpack' else 'false'}"]
        if cell.backend in ("gpu", "nnapi"):
            argv.append(f"--use_{cell.backend}=true")
        started = time.monotonic()
        try:
            res = run_bounded(t, argv, native_deadline_s(secs, budget), stop)
        except Stopped:  # the chunk in flight was killed on the phone: the chunks done are kept
            stopped = True
            break
        text = res.stdout + "\n" + res.stderr
        if res.exit_code != 0:
            raise MeasurementError(f"benchmark_model exited {res.exit_code}: "
                                   f"{' | '.join(text.strip().splitlines()[-2:])[:300]}")
        bm = parse_benchmark_model(text, source=f"{t.serial}: benchmark_model")
        first = first or bm
        med = bm.inference.median_us if bm.inference else None
        chunks.append({"t_ms": round((started - t0) * 1000, 3), "wall_ms": round((time.monotonic() - started) * 1000, 3),
                       "count": bm.count, "median_ms": None if med is None else med / 1000,
                       "avg_ms": None if bm.inference_avg_us is None else bm.inference_avg_us / 1000})
    if first is None:
        rec = CellRecord.failed("stopped before the first benchmark_model run", "stopped", context=ctx)
        return Measurement(rec)
    rec = CellRecord.from_benchmark_model(first, threads=cell.threads, backend=cell.backend, runtime=NATIVE_RUNTIME,
                                          text_tail="")
    total = sum(int(c["count"] or 0) for c in chunks)
    rec = dataclasses.replace(rec, wall_s=round(time.monotonic() - t0, 3), context=ctx, latency_summary_ms=None,
                              extra={"chunks": chunks, "chunk_s": chunk, "inferences": total, "stopped": stopped,
                                     "latency_resolution": f"one benchmark_model run of {chunk:g} s per point "
                                                           f"(its median; benchmark_model prints no per-run "
                                                           f"latencies)"})
    return Measurement(rec)
