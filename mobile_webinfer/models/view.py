"""Terminal output of `mwi models`: the catalog table and the build progress bar."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..errors import ModelError, UsageError

FORMAT_LABELS = (("tflite", "tflite"), ("tflite_fp16", "fp16"), ("tflite_int8", "int8"), ("tfjs", "tfjs"),
                 ("onnx", "onnx"))


def human_count(n: int | None) -> str:
    if n is None:
        return "-"
    for div, unit in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            return f"{n / div:.2f}{unit}"
    return str(n)


def human_bytes(n: int | None) -> str:
    if n is None:
        return "-"
    for div, unit in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if n >= div:
            return f"{n / div:.1f} {unit}"
    return f"{n} B"


def print_models_table(rows: Sequence[dict[str, Any]], console: Console | None = None) -> None:
    """The `mwi models list` table: one row per model."""
    if console is None:
        console = Console()
        if not console.is_terminal:
            console = Console(width=160)
    table = Table(show_lines=False)
    for col in ("name", "task", "params", "FLOPs", *(label for _, label in FORMAT_LABELS), "built", "build s"):
        table.add_column(col, justify="left" if col in ("name", "task") else "right")
    for r in rows:
        files = r.get("files") or {}
        sizes = [human_bytes(files[f]["bytes"]) if f in files else "-" for f, _ in FORMAT_LABELS]
        params = r.get("params")
        ptext = human_count(params) if params is not None else (
            f"(~{human_count(r['reference_params'])})" if r.get("reference_params") else "-")
        built = "user" if r.get("user_model") else ("yes" if r.get("built") else "no")
        secs = r.get("build_seconds")
        table.add_row(r["name"], str(r.get("task") or "-"), ptext, human_count(r.get("flops")), *sizes, built,
                      f"{secs:.1f}" if isinstance(secs, (int, float)) else "-")
    console.print(table)
    console.print("params in parentheses: the published reference, until built")


def build_with_progress(names: Sequence[str], *, all_: bool, force: bool, formats: Sequence[str] | None,
                        models_dir: Path | None, console: Console | None = None) -> list[Any]:
    """Build the named models (or all) with a rich progress bar; returns their manifests."""
    from .build import ensure_built, needs_build
    from .catalog import get_spec, known_names

    if all_ and names:
        raise UsageError("give model names or --all, not both")
    if not all_ and not names:
        raise UsageError(f"name the models to build, or --all; known: {', '.join(known_names())}")
    todo = known_names() if all_ else list(dict.fromkeys(names))
    for n in todo:
        get_spec(n)  # unknown names fail before anything is built
    console = console or Console(stderr=True)
    out = []
    failed: list[str] = []
    with Progress(TextColumn("[bold]models"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.description}"), console=console, transient=False) as bar:
        task = bar.add_task("", total=len(todo))
        for n in todo:
            stale = force or needs_build(n, models_dir=models_dir, formats=formats)
            bar.update(task, description=f"{n}: {'building' if stale else 'up to date'}")

            def step(stage: str, n: str = n) -> None:
                bar.update(task, description=f"{n}: {stage}")

            try:
                m = ensure_built(n, models_dir=models_dir, force=force, progress=step, formats=formats)
            except ModelError as exc:  # one broken model does not stop the others
                failed.append(n)
                bar.console.print(f"[red]{n}: FAILED[/]: {exc.one_line()}", soft_wrap=True, highlight=False)
                bar.advance(task)
                continue
            out.append(m)
            what = f"built in {m.data.get('build_seconds', 0):.1f} s" if stale else "already built"
            bar.console.print(f"{n}: {what} ({', '.join(m.formats)}) -> {m.dir}", soft_wrap=True, highlight=False)
            bar.advance(task)
    if failed:
        raise ModelError(f"{len(failed)} of {len(todo)} models failed to build: {', '.join(failed)} (reasons above)")
    return out
