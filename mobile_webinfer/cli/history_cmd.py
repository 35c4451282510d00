"""`mwi history [RUN_DIRS | LAB]`, `mwi history pin NAME RUN_DIR` and `mwi check RUN_DIR`: results over
time, named baselines and the CI gate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from ..history import History

EXIT_HELP = ("Exit status: 0 no regression; 4 a regression (its ratio's CI95 lies above 1 + threshold; with "
             "--confirm, measured again and still regressed); 1 error; 2 bad input; 3 device / lab failure.")


def history(
    paths: list[str] = typer.Argument(None, help="Run directories, or one lab folder (out/ or out/runs/; default "
                                                 "out/).  `pin NAME RUN_DIR` names a baseline instead."),
    as_json: bool = typer.Option(False, "--json", help="Print the history as JSON (every series, its steps, events)."),
    html: bool = typer.Option(False, "--html", help="Write the history page (LAB/history/report/index.html) and "
                                                    "print its path last."),
    series: str = typer.Option(None, "--series", help="Only this series (its id, as `--json` prints it: "
                                                      "target|browser|model|runtime|backend|tN)."),
    window: int = typer.Option(90, "--window", help="Statuses from each target's last N runs (0: every run; "
                                                   "--series always reads every run of its series)."),
    all_series: bool = typer.Option(False, "--all", help="List every series, stable ones too."),
) -> None:
    """Every run of a lab as series (one configuration on one device; browser / runtime versions, model
    sha256 and build fingerprint are events on the series), the steps in them with their size, CI95,
    first run after and cause, and a status per series: stable, regressed, improved, noisy.  Runs that
    cannot be read are listed with the reason.  Nothing in a run directory is written.

    Example: mwi history out/
    Example: mwi history out/ --html
    Example: mwi history out/ --series 'R58M12345|com.android.chrome|mobilenet_v2|ort|wasm|t1' --json
    Example: mwi history pin nightly-ok out/runs/20261201-020000-R58M12345-ab12
    """
    from ..errors import UsageError
    from ..history import analyse, open_lab, pin

    args = list(paths or [])
    if args and args[0] == "pin":
        if len(args) != 3:
            raise UsageError("usage: mwi history pin NAME RUN_DIR")
        where = pin(args[1], Path(args[2]))
        typer.echo(f"pinned {args[1]} = {args[2]} ({where})")
        return
    if window < 0:
        raise UsageError("--window must be 0 (every run) or a positive number of runs")
    lab = open_lab([Path(p) for p in args], window=0 if series else window,
                   targets={series.split("|", 1)[0]} if series else None)
    h = analyse(lab, series=series)
    if series and not h.series:
        raise UsageError(f"no series {series!r} (ids as `mwi history --json` prints them)")
    if as_json:
        typer.echo(json.dumps(h.to_json(), indent=2))
    else:
        _print(h, all_series=all_series or bool(series))
    if html:
        from ..history.page import write_history_page
        from ..history.runs import state_dir_for

        folder = lab.state_dir or state_dir_for(lab.runs[0].run_dir.parent if lab.runs else Path(args[0]).parent)
        typer.echo(write_history_page(h, folder))


def _pct(x: float) -> str:
    return f"{100 * x:+.1f}%"


def _print(h: History, *, all_series: bool) -> None:
    c = h.counts()
    typer.echo(f"history: {len(h.runs)} runs ({len(h.unreadable)} not read), {len(h.series)} series: "
               + ", ".join(f"{v} {k}" for k, v in c.items()) + (f" ({h.notes[0]})" if h.notes else ""))
    opened = [(s, s.open_regression) for s in h.series if s.open_regression is not None]
    if opened:
        typer.echo("open regressions:")
        for s, st in opened:
            typer.echo(f"  {s.key.id}  {_pct(st.size)} [{_pct(st.ci95[0])}, {_pct(st.ci95[1])}] "
                       f"{st.metric} from {st.run_id} ({st.at[:16]}): {st.cause_text}")
    if h.unreadable:
        typer.echo("not read:")
        for u in h.unreadable:
            typer.echo(f"  {u.run_dir}: {u.reason}")
    shown = [s for s in h.series if all_series or s.status != "stable"]
    if shown:
        typer.echo("series:" if all_series else "series not stable (--all lists every one):")
    for s in shown:
        steps = "; ".join(f"{_pct(x.size)} {x.metric} at {x.run_id}: {x.cause_text}" for x in s.steps) or "no step"
        typer.echo(f"  {s.status:9s} {s.key.id}  {len(s.points)} runs, last {s.points[-1].median_ms:.4g} ms, "
                   f"noise {100 * s.noise:.1f}%; {steps}")
        if all_series and s.events:
            typer.echo("            events: " + "; ".join(f"{e.text} at {e.run_id}" for e in s.events))


def check(
    run_dir: Path = typer.Argument(..., help="The run to judge (out/runs/<run-id>)."),
    baseline: str = typer.Option("auto", "--baseline", help="A run directory, `auto` (the newest earlier run "
                                                            "of the lab on the same target) or a pinned name."),
    threshold: str = typer.Option("5%", "--threshold", help="Slowdown that counts: a row is regressed when "
                                                            "its ratio's CI95 lies above 1 + threshold."),
    confirm: bool = typer.Option(False, "--confirm", help="Measure the regressed configurations again on the same "
                                                          "target (with native) before saying so."),
    as_json: bool = typer.Option(False, "--json", help="Print the verdict as JSON."),
    junit: Path = typer.Option(None, "--junit", help="Also write JUnit XML here (one test case per configuration)."),
) -> None:
    """Gate a run against a baseline: per configuration the ratio of medians (run / baseline) with a
    CI95 from the two rows' own CIs.  Exit status: 0 no regression; 4 a regression (its ratio's CI95
    lies above 1 + threshold; with --confirm, measured again and still regressed); 1 error;
    2 bad input; 3 device / lab failure.

    Example: mwi check out/runs/RUN --baseline auto --threshold 5%
    Example: mwi check out/runs/RUN --baseline nightly-ok --confirm --junit check.xml
    """
    from ..errors import UsageError
    from ..history import check as run_check
    from ..history import parse_threshold
    from ..history.check import write_junit

    thr = parse_threshold(threshold)
    if junit is not None and not junit.parent.is_dir():
        raise UsageError(f"--junit {junit}: no folder {junit.parent}")
    result = run_check(run_dir, baseline=baseline, threshold=thr, confirm=confirm)
    if junit is not None:
        write_junit(result, junit)
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2))
    else:
        typer.echo(f"check {result.run_dir.name} against {result.baseline_dir.name} ({result.baseline_how}), "
                   f"threshold {thr:.1%}{', confirmed by re-measuring' if confirm else ''}")
        for r in result.rows:
            ratio = f"{r.ratio:.3f}x" if r.ratio is not None else "-"
            ci = f" [{r.ratio_ci95[0]:.3f}, {r.ratio_ci95[1]:.3f}]" if r.ratio_ci95 else ""
            extra = f"; re-measured: {r.confirm}" if r.confirm else ""
            typer.echo(f"  {r.status:13s} {r.id}  {ratio}{ci}{extra}")
        if result.confirm_run:
            typer.echo(f"re-measured in {result.confirm_run}")
        typer.echo(f"{len(result.regressions)} regression(s)")
    if result.exit_code:
        raise typer.Exit(code=result.exit_code)


def register(app: typer.Typer) -> None:
    app.command("history")(history)
    app.command("check", epilog=EXIT_HELP)(check)
