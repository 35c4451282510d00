"""`mwi sweep`: measure models in browsers and natively, store the cells, print the gap table."""

from __future__ import annotations

import inspect
import signal
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import typer

from ..errors import MwiError, NothingMeasured, UsageError
from ..sweep.spec import DEFAULT_REPEATS, SweepSpec, load_spec_file
from ..vocab import QUICK, Budget


def _csv(value: str | None, cast=str) -> list | None:
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    try:
        return [cast(v) for v in items]
    except ValueError:
        raise UsageError(f"cannot read {value!r} as a comma-separated list") from None


def sweep(
    target: list[str] = typer.Option(["local"], "--target", "-t",
                                     help="Where to run: `local` (this computer) or a phone's serial; repeatable."),
    models: str = typer.Option(None, "--models", "-m", help="Comma-separated model names (default: mobilenet_v2)."),
    runtimes: str = typer.Option(None, "--runtimes", help="Browser runtimes: tfjs,tflite,ort,litert (default: all; "
                                                          "tflite = tfjs-tflite, the study's, superseded by litert)."),
    backends: str = typer.Option(None, "--backends", help="Backends: wasm,webgl,webgpu,webnn,cpu (default: all)."),
    threads: str = typer.Option(None, "--threads", help="Thread counts for wasm and native CPU (default: 1,2)."),
    repeats: int = typer.Option(None, "--repeats", help="Fresh page loads / native processes per cell (default 3)."),
    quick: bool = typer.Option(False, "--quick", help="Smoke run: few iterations, 1 repeat, short budgets."),
    out: Path = typer.Option(None, "--out", help="Results root; the run goes to ROOT/runs/<run-id>/ (default out/)."),
    resume: Path = typer.Option(None, "--resume", help="Finish an interrupted run: RUN_DIR (other options ignored)."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="With --resume: run again every cell whose last try was an "
                                      "infrastructure failure (phone lost, adb timed out, cool-down gate fault, low "
                                      "battery not charging); never a measurement error (page error, backend fell "
                                      "back, unsupported) or a skip by policy. A plain --resume already re-runs a "
                                      "quarantined phone's cells and the failures that tripped its quarantine."),
    no_native: bool = typer.Option(False, "--no-native", help="Skip native TFLite cells."),
    native_runtimes: str = typer.Option(None, "--native-runtimes", help="Native runtimes: tflite-native,ort-native "
                                        "(default tflite-native; ort-native = host ONNX Runtime, local target only)."),
    profile_ops: bool = typer.Option(False, "--profile-ops", help="Also record per-operator profiles in separate "
                                     "processes (never in the latency numbers); see `mwi report RUN_DIR --ops`."),
    iterations: int = typer.Option(None, "--iterations", help="Ceiling: timed inferences per page load / process "
                                   "(default 2000)."),
    warmups: int = typer.Option(None, "--warmups", help="Floor: warmup inferences per cell, reported apart; "
                                "warm-up then goes on until the latency stops drifting (default 10)."),
    time_budget: float = typer.Option(None, "--time-budget", help="Ceiling: seconds of timed inference per page "
                                      "load / native process (default 5; at least --min runs are timed, 3 where one run outlasts the ceiling)."),
    precision: float = typer.Option(None, "--precision", help="Stop timing once the CI95 half-width of the median "
                                    "is this share of it (default 0.02 = 2%; 0 = run to the ceilings); "
                                    "configurations that miss it get extra repeats."),
    max_time_per_cell: float = typer.Option(None, "--max-time-per-cell", help="Ceiling: wall seconds one "
                                            "configuration may take over all its repeats, extra ones included; a planned "
                                            "repeat that would pass it is not run (recorded skipped; default 40; "
                                            "--quick 60)."),
    chromium: str = typer.Option(None, "--chromium", help="Chromium binary for the local target."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the cells and a time estimate; measure nothing."),
    spec_file: Path = typer.Option(None, "--spec", help="A sweep file (TOML, see examples/sweep.toml); flags override it."),
    browsers: str = typer.Option(None, "--browsers", help="Phones: browser packages (default: every installed Chrome "
                                                          "channel and Samsung Internet)."),
    native_backends: str = typer.Option(None, "--native-backends", help="Phones: cpu,xnnpack,gpu,nnapi (default "
                                                                        "cpu,xnnpack,gpu)."),
    benchmark_model: str = typer.Option(None, "--benchmark-model", help="Phones: TFLite benchmark_model binary "
                                                                        "for the phone's ABI."),
    max_battery_temp: float = typer.Option(None, "--max-battery-temp", help="Phones: cool-down gate, battery C "
                                                                            "(default 35.0)."),
    cooldown_timeout: float = typer.Option(None, "--cooldown-timeout", help="Phones: longest cool-down wait, s "
                                                                            "(default 600)."),
    on_hot: str = typer.Option(None, "--on-hot", help="Phones: a phone that never cools: `flag` (run, flagged) "
                                                      "or `skip` the cell."),
    on_throttle: str = typer.Option(None, "--on-throttle", help="Phones: a cell during which the thermal status "
                                                                "rose: `rerun` it after cool-down (default) or `flag`."),
    first_run: bool = typer.Option(False, "--first-run", help="Phones: click through browsers' first-run / EULA "
                                                              "screens (uiautomator2, steps from the device profile)."),
    cell_timeout: float = typer.Option(None, "--cell-timeout", help="Ceiling: longest a cell may take, s "
                                                                    "(default 1800)."),
    stall_timeout: float = typer.Option(None, "--stall-timeout", help="Watchdog: a page silent this long, s, fails "
                                                                      "its cell `stalled` (default 120; a page that "
                                                                      "keeps posting progress is never cut)."),
    webnn_device: str = typer.Option(None, "--webnn-device", help="WebNN cells: MLContext deviceType cpu, gpu or "
                                                                  "npu (default cpu)."),
    thread_policy: str = typer.Option(None, "--thread-policy", help="`as-is` (default) or `exact`: show a runtime "
                                                                    "that caps wasm threads at half the cores enough "
                                                                    "cores for the threads asked (recorded)."),
    min_battery: float = typer.Option(None, "--min-battery", help="Phones: below this charge, % (default 25), a "
                                                                  "phone is not measured."),
    on_low_battery: str = typer.Option(None, "--on-low-battery", help="Phones: under --min-battery, `wait` to "
                                                                      "charge (bounded by --cooldown-timeout, then "
                                                                      "skip the cell) or `flag` (run, flagged)."),
    max_infra_failures: int = typer.Option(None, "--max-infra-failures", help="Phones: infrastructure failures "
                                                                              "in a row before a phone is "
                                                                              "quarantined (default 3)."),
    boot_timeout: float = typer.Option(None, "--boot-timeout", help="Phones: how long a phone that dropped away "
                                                                    "(a reboot, an update) is waited for, s, before "
                                                                    "it is quarantined (default 180; Ctrl-C ends "
                                                                    "the wait)."),
    no_html: bool = typer.Option(False, "--no-html", help="Skip writing the HTML report (RUN_DIR/report/) at the end."),
    no_capabilities: bool = typer.Option(False, "--no-capabilities", help="Skip the per-browser capability probe "
                                                                          "stored in the manifest."),
    qoe: bool = typer.Option(False, "--qoe", help="Also QoE cells: a seeded GUI workload alone, beside the model "
                             "on the main thread, and beside it in a Web Worker (`mwi qoe`: only these)."),
    qoe_only: bool = typer.Option(False, "--qoe-only", hidden=True, help="Only the QoE cells (what `mwi qoe` runs)."),
    qoe_rounds: int = typer.Option(None, "--qoe-rounds", help="QoE cells: rounds of the GUI workload per page load "
                                                              "(1-1000, default 6; spec file `qoe_rounds`)."),
    pairing: bool = typer.Option(None, "--pairing/--no-pairing", help="Paired cells: each browser cell takes "
                                 "turns with its native reference in short rounds and the gap comes from the rounds "
                                 "(opt-in for now; default: each cell in its own window, unpaired; spec file "
                                 "`pairing`)."),
    pair_round: float = typer.Option(None, "--pair-round", help="Paired cells: seconds of each side's block in one "
                                     "round (default 0.5; implies --pairing)."),
    cluster: str = typer.Option(None, "--cluster", help="A running Ray cluster's HOST:PORT: every phone on every "
                                                        "node (or the --target serials) runs on its own node; the "
                                                        "run directory is written here (needs the `cluster` extra)."),
    wide: bool = typer.Option(False, "--wide", help="The gap table with every cell whole on one line (default: "
                                                    "fitted to the terminal, $COLUMNS; long errors as notes below)."),
    no_preflight: bool = typer.Option(False, "--no-preflight", help="Phones: skip the preflight (mwi doctor --phone's "
                                                                    "cheap checks) that stops a sweep in seconds "
                                                                    "(exit 3) on a locked screen or a wrong-ABI "
                                                                    "benchmark_model."),
) -> None:
    """Measure in-browser inference against native TFLite and print the gap table.

    With no options: the local target, MobileNetV2, every runtime/backend, threads 1 and 2.
    The run directory is the last line printed.

    Phones: `--target SERIAL` (repeat for several; one worker each, in parallel).

    Phones on many hosts: `--cluster HEAD:6379` (each phone measured on the Ray node it is plugged into).

    Exit codes: 0 ok; 1 error; 2 bad input (checked before anything runs: --out, --models,
    --benchmark-model, the serials); 3 device or lab failure; 5 nothing measured (no cell, or no
    cell of one phone, measured: the last line says so; the run directory is still stdout's last line).

    Example: mwi sweep --quick --models tiny_cnn --runtimes tfjs,ort --backends wasm
    """
    run_sweep_cli(cluster=cluster, targets=target, models=_csv(models), runtimes=_csv(runtimes), backends=_csv(backends),
                  threads=_csv(threads, int), repeats=repeats, quick=quick, out=out, resume=resume,
                  retry_failed=retry_failed, native=not no_native, iterations=iterations, warmups=warmups,
                  time_budget=time_budget, precision=precision, max_time_per_cell=max_time_per_cell,
                  chromium=chromium, dry_run=dry_run, spec_file=spec_file,
                  browsers=_csv(browsers), native_backends=_csv(native_backends), benchmark_model=benchmark_model,
                  native_runtimes=_csv(native_runtimes), profile_ops=profile_ops,
                  max_battery_temp=max_battery_temp, cooldown_timeout=cooldown_timeout, on_hot=on_hot,
                  on_throttle=on_throttle, cell_timeout=cell_timeout, stall_timeout=stall_timeout, first_run=first_run, webnn_device=webnn_device,
                  thread_policy=thread_policy, capabilities=not no_capabilities,
                  html=not no_html, max_infra_failures=max_infra_failures, min_battery=min_battery, on_low_battery=on_low_battery,
                  boot_timeout=boot_timeout, qoe=qoe, qoe_only=qoe_only, qoe_rounds=qoe_rounds, preflight=not no_preflight,
                  wide=wide, pairing=pairing, pair_round=pair_round)


def build_spec(*, targets: list[str], models: list[str] | None, runtimes: list[str] | None,
               backends: list[str] | None, threads: list[int] | None, repeats: int | None, quick: bool,
               native: bool, iterations: int | None, warmups: int | None, time_budget: float | None,
               chromium: str | None, precision: float | None = None, max_time_per_cell: float | None = None, spec_file: Path | None = None, browsers: list[str] | None = None,
               native_backends: list[str] | None = None, benchmark_model: str | None = None,
               max_battery_temp: float | None = None, cooldown_timeout: float | None = None,
               on_hot: str | None = None, on_throttle: str | None = None, cell_timeout: float | None = None,
               stall_timeout: float | None = None,
               first_run: bool = False, webnn_device: str | None = None, thread_policy: str | None = None,
               capabilities: bool = True, max_infra_failures: int | None = None, min_battery: float | None = None,
               on_low_battery: str | None = None, native_runtimes: list[str] | None = None,
               profile_ops: bool = False, qoe: bool = False, qoe_only: bool = False,
               qoe_rounds: int | None = None, boot_timeout: float | None = None, pairing: bool | None = None,
               pair_round: float | None = None) -> SweepSpec:
    """The spec from a sweep file and flags (a flag given on the command line wins)."""
    base = load_spec_file(spec_file) if spec_file else {}
    if base.get("quick"):
        quick = True
    budget = QUICK if quick else Budget()
    if "budget" in base:
        budget = replace(budget, **base.pop("budget"))
    overrides: dict[str, Any] = {k: v for k, v in (("iterations", iterations), ("warmups", warmups),
                                   ("time_budget_s", time_budget), ("cell_timeout_s", cell_timeout),
                                   ("stall_timeout_s", stall_timeout), ("precision", precision),
                                   ("max_time_s", max_time_per_cell)) if v is not None}
    if overrides:
        budget = replace(budget, **overrides)
    spec = SweepSpec(**{k: v for k, v in base.items() if k != "budget"})
    spec.budget = budget
    if targets and (targets != ["local"] or "targets" not in base):
        spec.targets = list(targets)
    spec.chromium = chromium or spec.chromium
    spec.native = spec.native and native
    spec.quick = quick
    spec.profile_ops = spec.profile_ops or profile_ops
    spec.qoe = spec.qoe or qoe
    spec.qoe_only = spec.qoe_only or qoe_only
    if pairing is not None:  # the flag wins over the spec file; asking for a round length asks for rounds
        spec.pairing = pairing
    elif pair_round is not None:
        spec.pairing = True
    if pair_round is not None:
        spec.pair_round_s = pair_round
    if qoe_rounds is not None:
        if not 1 <= qoe_rounds <= 1000:
            raise UsageError(f"--qoe-rounds must be from 1 to 1000, got {qoe_rounds}")
        spec.qoe_rounds = qoe_rounds
    flags = {"models": models, "runtimes": runtimes, "backends": backends, "threads": threads, "browsers": browsers,
             "native_backends": native_backends, "benchmark_model": benchmark_model, "on_throttle": on_throttle,
             "webnn_device": webnn_device, "thread_policy": thread_policy,
             "max_infra_failures": max_infra_failures, "native_runtimes": native_runtimes}
    for name, value in flags.items():
        if value:
            setattr(spec, name, value)
    cd = dict(spec.cooldown)
    for k, v in (("max_battery_c", max_battery_temp), ("timeout_s", cooldown_timeout), ("on_timeout", on_hot),
                 ("min_battery_pct", min_battery), ("on_low_battery", on_low_battery)):
        if v is not None:
            cd[k] = v
    if cd.get("on_timeout", "flag") not in ("flag", "skip"):
        raise UsageError("--on-hot must be `flag` or `skip`")
    if cd.get("on_low_battery", "wait") not in ("wait", "flag"):
        raise UsageError("--on-low-battery must be `wait` or `flag`")
    if not 0 <= float(cd.get("min_battery_pct", 25.0)) <= 100:
        raise UsageError("--min-battery must be a percentage from 0 to 100")
    spec.cooldown = cd
    if boot_timeout is not None:
        spec.boot_timeout_s = boot_timeout
    if first_run:
        spec.first_run = True
    if not capabilities:
        spec.capabilities = False
    if repeats is not None:
        spec.repeats = repeats
    elif "repeats" not in base:
        spec.repeats = 1 if quick else DEFAULT_REPEATS
    return spec


def run_sweep_cli(*, out: Path | None, resume: Path | None, retry_failed: bool, dry_run: bool,
                  cluster: str | None = None, html: bool = True, preflight: bool = True, wide: bool = False,
                  **flags: Any) -> None:
    """The CLI's sweep: build the spec, run (or print the plan), print the table and the run directory last."""
    from rich.console import Console

    from ..paths import default_out_root
    from ..progress import SweepProgress
    from ..report import build_rows, render_table
    from ..sweep.runner import resolve_for_dry_run, run_sweep
    from ..sweep.spec import estimate_gate_seconds, estimate_seconds
    from ..vocab import NATIVE_RUNTIME
    from .checks import check_benchmark_model_for, check_out_root, check_serials_attached

    console = Console()
    spec = build_spec(**flags)
    if resume is None:
        _profile_ops_native_side(spec, user_set=flags.get("native_runtimes") is not None or bool(
            flags.get("spec_file") and "native_runtimes" in load_spec_file(flags["spec_file"])),
            no_native=not flags.get("native", True))
    if resume is None:
        spec.validate()
        from ..models.catalog import check_model_name

        for m in spec.models:
            check_model_name(m)  # unknown names fail here, before anything runs (zoo or `mwi models add`)
    out_root = Path(out) if out else default_out_root()
    if not dry_run:
        check_out_root(out_root)
    if resume is None and cluster is None:  # a cluster's phones are attached to its nodes, not here
        phones = [t for t in spec.targets if t != "local"]
        check_serials_attached(phones)
        if not dry_run and spec.native and NATIVE_RUNTIME in spec.native_runtimes:
            check_benchmark_model_for(phones, spec.benchmark_model)
    if dry_run:
        if resume is not None:
            raise UsageError("--dry-run plans a new sweep; it does not take --resume")
        if cluster is not None:
            from ..cluster.ray_cluster import cluster_dry_run

            cells = cluster_dry_run(spec, address=cluster)
        else:
            cells = resolve_for_dry_run(spec)
        for c in cells:
            console.print(c.key, highlight=False)
        est = estimate_seconds(cells, spec.cell_budget())
        b = spec.budget
        extra = (f"; configurations whose CI95 misses {100 * b.precision:g}% of the median may get extra repeats "
                 f"(up to {b.max_repeat_factor}x, within {b.max_time_s:g} s each)"
                 if b.precision > 0 and b.max_repeat_factor > 1 else "")
        gate = None if cluster is not None else estimate_gate_seconds(cells, spec.budget, spec.cooldown,
                                                                        _battery_now(cells))
        gate_part = ""
        if gate is not None:
            est += gate.expected_s
            gate_part = (f"the cool-down gate's waits included (~{gate.expected_s / 60:.1f} min expected, up to "
                         f"{gate.worst_s / 60:.0f} min if a phone never cools; {gate.how}); ")
        console.print(f"{len(cells)} cells; {gate_part}estimated {est / 60:.1f} min{extra}", highlight=False,
                      soft_wrap=True)
        return
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        def _term(signum: int, frame: Any) -> None:  # a polite kill: unwind, restore the phones, keep what is stored
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, _term)
    if preflight and resume is None and cluster is None:
        from .doctor_cmd import sweep_preflight_or_exit

        sweep_preflight_or_exit(spec)
    progress = SweepProgress()
    if cluster is not None:
        from ..cluster.ray_cluster import run_cluster_sweep

        outcome = run_cluster_sweep(spec, address=cluster, out_root=out_root, resume=resume,
                                    retry_failed=retry_failed, progress=progress, stop=stop)
    else:
        outcome = run_sweep(spec, out_root=out_root, resume=resume, retry_failed=retry_failed, progress=progress,
                            stop=stop)
    store = outcome.store
    rows = build_rows(store.results())
    render_table(rows, console=console, wide=wide)
    if html:
        from ..htmlreport import write_report

        try:  # the numbers are stored whatever happens to the report
            print(f"report: {write_report(store.run_dir)}", flush=True)
        except MwiError as exc:
            print(f"mwi: warning: the HTML report was not written: {exc.one_line()} "
                  f"(mwi report {store.run_dir} tries again)", file=sys.stderr)
    from ..records import nothing_measured_line

    empty = nothing_measured_line(store.results())
    if outcome.failures:
        for name, why in outcome.failures.items():
            print(f"mwi: target {name} failed: {why}; finish with: mwi sweep --resume {store.run_dir}",
                  file=sys.stderr)
        print(store.run_dir, flush=True)
        if empty:
            print(f"mwi: error: {empty} (a device or lab failure; exit 3)", file=sys.stderr, flush=True)
        raise SystemExit(3)
    print(store.run_dir, flush=True)
    if empty:  # stdout's last line stays the run directory; the run's verdict is the last line said
        raise NothingMeasured(f"{empty}; why each cell failed: mwi report {store.run_dir}")


def _profile_ops_native_side(spec: SweepSpec, *, user_set: bool, no_native: bool) -> None:
    """`--profile-ops` on this computer: LiteRT has no per-operator profiler here, so operator rows
    would have no native side.  ONNX Runtime native is added when the user chose no native runtimes;
    otherwise one line says exactly how to get a native side."""
    from ..vocab import ORT_NATIVE_RUNTIME

    if not spec.profile_ops or "local" not in spec.targets or ORT_NATIVE_RUNTIME in spec.native_runtimes:
        return
    why = "LiteRT has no per-operator profiler on this computer"
    if no_native or not spec.native:
        print(f"mwi sweep: warning: --profile-ops with --no-native: the operator rows of `local` have no native "
              f"side; drop --no-native (ort-native, host ONNX Runtime, is then added: {why})", file=sys.stderr)
    elif user_set:
        print(f"mwi sweep: warning: --profile-ops: the operator rows of `local` have no native side ({why}); add "
              f"ONNX Runtime native: --native-runtimes {','.join([*spec.native_runtimes, ORT_NATIVE_RUNTIME])}",
              file=sys.stderr)
    else:
        spec.native_runtimes = [*spec.native_runtimes, ORT_NATIVE_RUNTIME]
        print(f"mwi sweep: --profile-ops: ort-native (host ONNX Runtime) added as the native side of the operator "
              f"rows of `local` ({why}); --native-runtimes chooses otherwise", file=sys.stderr)


def _battery_now(cells: list) -> dict[str, float | None]:
    """Each phone's battery temperature now (`dumpsys battery`), for the dry run's gate estimate; None
    where it cannot be read."""
    from ..adb.device import Device
    from ..adb.shell import AdbSession
    from ..probes.android import BatteryProbe

    out: dict[str, float | None] = {}
    for target in sorted({c.target for c in cells if c.target != "local"}):
        try:
            out[target] = BatteryProbe().sample(Device(target, client=AdbSession.from_env())).temperature_c
        except MwiError:
            out[target] = None
    return out


def qoe(**flags: Any) -> None:
    """What the user feels while a model runs: only the QoE cells of a sweep.

    Per model / runtime / backend / threads, a seeded GUI workload (pages/qoe.html) runs alone
    (baseline), beside the model inferring on the main thread (main), and beside it in a Web
    Worker (worker), each over --repeats page loads, with synthetic taps.  `mwi report RUN_DIR`
    gives the GUI delay over the baseline (CI95), fps, long frames, input delay, inferences/s.
    Same selection flags as `mwi sweep`; the run directory is the last line printed.

    Example: mwi qoe --models mobilenet_v2 --runtimes tfjs,ort --backends wasm --threads 1 --repeats 5
    """
    sweep(**flags, qoe=True, qoe_only=True)


_SWEEP_SIG = inspect.signature(sweep)
qoe.__signature__ = _SWEEP_SIG.replace(  # type: ignore[attr-defined]
    parameters=[p for p in _SWEEP_SIG.parameters.values() if p.name not in ("qoe", "qoe_only")])
qoe.__annotations__ = {k: v for k, v in sweep.__annotations__.items() if k not in ("qoe", "qoe_only")}


def register(app: typer.Typer) -> None:
    app.command("sweep")(sweep)
    app.command("qoe")(qoe)
