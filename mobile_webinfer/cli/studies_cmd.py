"""`mwi thermal` and `mwi battery`: soak and drain studies, browser against native, on one target."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import typer

from ..studies.spec import StudySpec, parse_duration, parse_runs, time_scale
from ..vocab import NATIVE_RUNTIME


def _run(kind: str, target: str, model: str, runs: str, duration: str, out: Path | None, chromium: str | None,
         benchmark_model: str | None, browser: str | None, max_battery_temp: float = 35.0,
         cooldown_timeout: str = "600s") -> None:
    from ..models.catalog import check_model_name
    from ..paths import default_out_root
    from ..studies.run import CHARGING_HINT, StudyStopped, run_study
    from ..studies.summary import summarize
    from .checks import check_benchmark_model_for, check_out_root, check_serials_attached

    spec = StudySpec(kind=kind, target=target, model=model, runs=parse_runs(runs), duration_s=parse_duration(duration),
                     chromium=chromium, benchmark_model=benchmark_model, browser=browser, time_scale=time_scale(),
                     max_battery_temp_c=max_battery_temp, cooldown_timeout_s=parse_duration(cooldown_timeout))
    out_root = check_out_root(Path(out) if out else default_out_root())  # every input before anything starts
    check_model_name(model)
    if target != "local":
        check_serials_attached([target])
        if any(r.runtime == NATIVE_RUNTIME for r in spec.runs):
            check_benchmark_model_for([target], benchmark_model)
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        def _term(signum: int, frame: Any) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, _term)
    outcome = run_study(spec, out_root=out_root, stop=stop,
                        say=lambda m: print(f"mwi {kind}: {m}", file=sys.stderr, flush=True))
    summary = summarize(outcome.store.run_dir)
    for s in summary:
        print(json.dumps({k: s.get(k) for k in ("runtime", "backend", "inferences", "latency_start_ms",
                                                "latency_end_ms", "stability", "time_to_throttle_s",
                                                "max_thermal_status", "max_temp_c", "energy_mj_per_inference",
                                                "energy_upper_bound_mj", "energy_flags",
                                                "charging_detected") if k in s}))
        if s.get("charging_detected"):
            print(f"mwi battery: {CHARGING_HINT}", file=sys.stderr)
        elif s.get("energy_upper_bound_mj") is not None:
            print(f"mwi battery: {s.get('runtime')}/{s.get('backend')}: energy < {s['energy_upper_bound_mj']:g} mJ "
                  f"per inference at 95 % (below the detection limit: the drain cannot be told from idle)",
                  file=sys.stderr)
    print(outcome.store.run_dir, flush=True)
    if outcome.partial:
        raise StudyStopped(f"study stopped, partial data kept in {outcome.store.run_dir}: {outcome.reason}")


TARGET = typer.Option("local", "--target", "-t", help="`local` (this computer) or a phone's serial.")
MODEL = typer.Option("mobilenet_v2", "--model", "-m", help="Model name (mwi models list).")
RUNS = typer.Option(..., "--runs", help="RUNTIME/BACKEND[,...]: browser runtimes as in mwi sweep, native as "
                                        "tflite-native/BACKEND; `@N` for N threads.")
OUT = typer.Option(None, "--out", help="Results root; the run goes to ROOT/runs/<run-id>/ (default out/).")
CHROMIUM = typer.Option(None, "--chromium", help="Chromium binary for the local target.")
BENCH = typer.Option(None, "--benchmark-model", help="Phones: TFLite benchmark_model binary for the phone's ABI.")
BROWSER = typer.Option(None, "--browser", help="Phones: browser package (default: the first installed Chrome).")
MAX_TEMP = typer.Option(35.0, "--max-battery-temp", help="Phones: the cool-down gate before each run waits until the "
                        "battery is at or under this many C (and the thermal status is NONE).")
COOL_TIMEOUT = typer.Option("600s", "--cooldown-timeout", help="Phones: the gate's bound (60s, 10m); a phone still "
                            "hot then runs flagged phone-never-cooled.")


def thermal(target: str = TARGET, model: str = MODEL, runs: str = RUNS,
            duration: str = typer.Option("10m", "--duration", "-d", help="Per run: 60s, 10m, ..."),
            out: Path = OUT, chromium: str = CHROMIUM, benchmark_model: str = BENCH, browser: str = BROWSER,
            max_battery_temp: float = MAX_TEMP, cooldown_timeout: str = COOL_TIMEOUT) -> None:
    """Thermal soak: each run infers back to back for the duration (after the cool-down gate) while thermal
    status, every temperature sensor, per-core CPU and GPU frequency and battery temperature are sampled;
    reports time to first throttle, peak temperatures, start/end latency and their ratio (stability).
    The run directory is the last line; `mwi report RUN_DIR --json` gives one object per run.

    Example: mwi thermal --target local --model mobilenet_v2 --runs tfjs/wasm,tflite-native/xnnpack --duration 2m
    """
    _run("thermal", target, model, runs, duration, out, chromium, benchmark_model, browser, max_battery_temp,
         cooldown_timeout)


def battery(target: str = TARGET, model: str = MODEL, runs: str = RUNS,
            duration: str = typer.Option("5m", "--duration", "-d", help="Per run and for the idle baseline."),
            out: Path = OUT, chromium: str = CHROMIUM, benchmark_model: str = BENCH, browser: str = BROWSER,
            max_battery_temp: float = MAX_TEMP, cooldown_timeout: str = COOL_TIMEOUT) -> None:
    """Battery drain: energy per inference (mJ and mAh per 1000 inferences, with a CI95) from the charge
    counter, against an idle baseline of the same length, with the phone in `dumpsys battery unplug`
    (reset afterwards, also after a hard kill).  Refuses under 25% battery; flags a phone that charges
    although unplugged.  This computer: RAPL or a laptop battery, else a one-line error.

    Example: mwi battery --target R58M12345 --model mobilenet_v2 --runs tfjs/wasm,tflite-native/xnnpack --duration 5m
    """
    _run("battery", target, model, runs, duration, out, chromium, benchmark_model, browser, max_battery_temp,
         cooldown_timeout)


def register(app: typer.Typer) -> None:
    app.command("thermal")(thermal)
    app.command("battery")(battery)
