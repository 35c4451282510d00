"""`mwi models`: list, build and add models (seeded architectures or the user's own files)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

models_app = typer.Typer(
    help="The model catalog: list it, build the zoo (.tflite fp32/fp16/int8, TF.js, ONNX), add your own.",
    invoke_without_command=True,
)


@models_app.callback()
def _models(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand is None:  # `mwi models` alone: show the subcommands
        typer.echo(ctx.get_help())


@models_app.command("list")
def list_models(
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list (one object per model)."),
    models_dir: Path = typer.Option(None, "--models-dir", help="Models folder (default: the user cache)."),
) -> None:
    """List every model: task, parameters, FLOPs, file sizes per format, built or not.

    Example: mwi models list --json
    """
    from ..models.catalog import model_summaries
    from ..models.view import print_models_table

    rows = model_summaries(models_dir)
    if as_json:
        typer.echo(json.dumps(rows, indent=1))
    else:
        print_models_table(rows)


@models_app.command("build")
def build_models(
    names: list[str] = typer.Argument(None, help="Model names (see `mwi models list`)."),
    all_: bool = typer.Option(False, "--all", help="Build every model of the zoo."),
    force: bool = typer.Option(False, "--force", help="Rebuild even when already built."),
    formats: str = typer.Option(None, "--formats",
                                help="Comma-separated subset of tflite,tflite_fp16,tflite_int8,tfjs,onnx."),
    models_dir: Path = typer.Option(None, "--models-dir", help="Models folder (default: the user cache)."),
) -> None:
    """Build models from their architectures with seeded weights, convert and check every format.

    Idempotent: a built model is skipped unless --force.

    Example: mwi models build tiny_cnn mobilenet_v2
    """
    from ..models.view import build_with_progress

    fmts = [f.strip() for f in formats.split(",") if f.strip()] if formats else None
    build_with_progress(names or [], all_=all_, force=force, formats=fmts, models_dir=models_dir)


@models_app.command("add")
def add_model(
    file: Path = typer.Argument(..., help="A .tflite, .onnx or TF.js model.json file."),
    name: str = typer.Option(None, "--name", help="Name to register it under (default: from the file name)."),
    task: str = typer.Option("custom", "--task", help="Task label shown in listings."),
    force: bool = typer.Option(False, "--force", help="Replace a user model of the same name."),
    models_dir: Path = typer.Option(None, "--models-dir", help="Models folder (default: the user cache)."),
) -> None:
    """Register your own .tflite, .onnx or TF.js model.json (copied, with a manifest).

    The manifest records sha256 and size, inputs/outputs read from the file itself, seeded
    sample inputs, and reference outputs from one run on this computer (.tflite/.onnx).

    Example: mwi models add ./my_model.tflite --name my_model
    """
    from ..models.user import add_user_model

    m = add_user_model(file, name=name, task=task, force=force, models_dir=models_dir)
    typer.echo(f"added {m.name}: {', '.join(m.formats)} -> {m.dir}")


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
