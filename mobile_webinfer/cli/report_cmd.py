"""`mwi report RUN_DIR`: the gap table from stored results."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def report(
    run_dir: Path = typer.Argument(..., help="A run directory (out/runs/<run-id>)."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list, one object per configuration."),
    as_csv: bool = typer.Option(False, "--csv", help="Print CSV."),
) -> None:
    """Print the browser-vs-native table of a finished (or partial) run.

    Example: mwi report out/runs/20261126-101500-local-ab12 --json
    """
    from ..report import load_rows, render_table, rows_to_csv

    rows = load_rows(run_dir)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    elif as_csv:
        typer.echo(rows_to_csv(rows), nl=False)
    else:
        render_table(rows, title=f"in-browser vs native: {run_dir}")


def register(app: typer.Typer) -> None:
    app.command("report")(report)
