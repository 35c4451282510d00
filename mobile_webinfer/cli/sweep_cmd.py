"""`mwi sweep`: measure models in browsers and natively, store the cells, print the gap table."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import UsageError


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
    runtimes: str = typer.Option(None, "--runtimes", help="Browser runtimes: tfjs,tflite,ort (default: all)."),
    backends: str = typer.Option(None, "--backends", help="Backends: wasm,webgl,webgpu,cpu (default: all)."),
    threads: str = typer.Option(None, "--threads", help="Thread counts for wasm and native CPU (default: 1,2)."),
    repeats: int = typer.Option(None, "--repeats", help="Fresh page loads / native processes per cell (default 3)."),
    quick: bool = typer.Option(False, "--quick", help="Smoke run: few iterations, 1 repeat, short budgets."),
    out: Path = typer.Option(None, "--out", help="Results root; the run goes to ROOT/runs/<run-id>/ (default out/)."),
    resume: Path = typer.Option(None, "--resume", help="Finish an interrupted run: RUN_DIR (other options ignored)."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="With --resume: run failed cells again."),
    no_native: bool = typer.Option(False, "--no-native", help="Skip native TFLite cells."),
    iterations: int = typer.Option(None, "--iterations", help="Timed inferences per cell (default 30)."),
    warmups: int = typer.Option(None, "--warmups", help="Warmup inferences per cell, reported apart (default 3)."),
    time_budget: float = typer.Option(None, "--time-budget", help="Seconds of timed inference per cell (default 10; at least 5 inferences are timed)."),
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
    cell_timeout: float = typer.Option(None, "--cell-timeout", help="Watchdog: longest a cell may take, s "
                                                                    "(default 300)."),
) -> None:
    """Measure in-browser inference against native TFLite and print the gap table.

    With no options: the local target, MobileNetV2, every runtime/backend, threads 1 and 2.
    The run directory is the last line printed.

    Phones: `--target SERIAL` (repeat for several; one worker each, in parallel).

    Example: mwi sweep --quick --models tiny_cnn --runtimes tfjs,ort --backends wasm
    """
    from ..sweep import run_sweep_cli

    run_sweep_cli(targets=target, models=_csv(models), runtimes=_csv(runtimes), backends=_csv(backends),
                  threads=_csv(threads, int), repeats=repeats, quick=quick, out=out, resume=resume,
                  retry_failed=retry_failed, native=not no_native, iterations=iterations, warmups=warmups,
                  time_budget=time_budget, chromium=chromium, dry_run=dry_run, spec_file=spec_file,
                  browsers=_csv(browsers), native_backends=_csv(native_backends), benchmark_model=benchmark_model,
                  max_battery_temp=max_battery_temp, cooldown_timeout=cooldown_timeout, on_hot=on_hot,
                  on_throttle=on_throttle, cell_timeout=cell_timeout, first_run=first_run)


def register(app: typer.Typer) -> None:
    app.command("sweep")(sweep)
