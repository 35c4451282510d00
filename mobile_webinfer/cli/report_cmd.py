"""`mwi report RUN_DIR [RUN_DIR ...]`: the gap table, the HTML report and Parquet files; with two
or more runs, the comparison of matched cells."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def report(
    run_dirs: list[Path] = typer.Argument(..., help="A run directory (out/runs/<run-id>); two or more: compare them."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON to stdout only (rows, or the comparison list)."),
    as_csv: bool = typer.Option(False, "--csv", help="Print CSV to stdout only."),
    no_html: bool = typer.Option(False, "--no-html", help="Skip the HTML report (Parquet files are still written)."),
    wide: bool = typer.Option(False, "--wide", help="The table with every cell whole on one line (default: fitted "
                                                    "to the terminal, $COLUMNS; long errors as notes below)."),
    ops: bool = typer.Option(False, "--ops", help="The per-operator gap table (from `mwi sweep --profile-ops`); "
                                                  "with --json: its rows."),
    pair_ort_with: str = typer.Option("tflite-native", "--pair-ort-with",
                                      help="Native baseline of `ort` browser cells: tflite-native or ort-native."),
) -> None:
    """Print the browser-vs-native table of a finished (or partial) run, write RUN_DIR/report/index.html,
    cells.parquet and samples.parquet, and print the HTML path last.  With two or more runs: the ratio of
    medians per matched cell (B / A) with its CI95 and whether it is significant.

    Example: mwi report out/runs/20261126-101500-local-ab12
    Example: mwi report out/runs/RUN_A out/runs/RUN_B --json
    Example: mwi report out/runs/RUN --ops --pair-ort-with ort-native
    """
    from ..errors import UsageError
    from ..htmlreport import compare_runs, write_comparison, write_parquet_files, write_report
    from ..htmlreport.compare import render_comparison
    from ..report import load_rows, render_rows, rows_to_csv

    if len(run_dirs) > 1:
        if as_csv:
            raise UsageError("--csv prints one run's table; compare runs with --json or as a table")
        comps = compare_runs(run_dirs)
        if as_json:
            typer.echo(json.dumps([c.to_json() for c in comps], indent=2))
            return
        render_comparison(comps)
        if not no_html:
            typer.echo(write_comparison(run_dirs, comps))
        return
    run_dir = run_dirs[0]
    if pair_ort_with not in ("tflite-native", "ort-native"):
        raise UsageError("--pair-ort-with must be tflite-native or ort-native")
    if ops:
        from ..sweep.op_profiles import op_gap_rows, profile_notes, render_op_table

        op_rows = op_gap_rows(run_dir, pair_ort_with=pair_ort_with)
        notes = profile_notes(run_dir)
        if not op_rows and not notes:
            raise UsageError(f"{run_dir} has no per-operator profiles (run the sweep with --profile-ops)")
        if as_json:
            typer.echo(json.dumps(op_rows, indent=2))
        else:
            if op_rows:
                render_op_table(op_rows)
            for n in notes:  # the configurations without a profile, and why
                typer.echo(f"no profile: {n['target']} {n['model']} {n['runtime']}/{n['backend']} t{n['threads']}: "
                           f"{n['status']}: {n['error']}")
        return
    rows = load_rows(run_dir, pair_ort_with=pair_ort_with)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    elif as_csv:
        typer.echo(rows_to_csv(rows), nl=False)
    else:
        render_rows(rows, title=f"in-browser vs native: {run_dir}", wide=wide)
        if no_html:
            files = write_parquet_files(run_dir)
            typer.echo(f"{files.cells}\n{files.samples}")
        else:
            typer.echo(write_report(run_dir))


def register(app: typer.Typer) -> None:
    app.command("report")(report)
