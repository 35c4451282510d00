"""The `mwi` command line: a thin Typer layer over the library.

Each command lives in its own module here (5-15 lines over a library call) and registers
itself on the one app.  Library errors become one clear line and an exit code at this
edge; `mwi --debug ...` shows the traceback instead.
"""

from __future__ import annotations

import os
import sys

import typer

from ..errors import MwiError

#: every exit code of mwi, as --help and the README list them (codes are added, never reused)
EXIT_CODES_HELP = ("0 ok; 1 error; 2 bad input (found before anything runs); 3 device or lab failure; "
                   "4 a regression found by mwi check; 5 nothing measured (every cell of a run failed, or a phone of it measured none: "
                   "the last line says so); 130 interrupted")

app = typer.Typer(
    name="mwi",
    help=(
        "mobile-webinfer: measure deep-learning inference in web browsers (TF.js, TFLite-web, "
        "ONNX Runtime Web) against the same models run natively with TFLite, on Android phones "
        "over ADB or on this computer.\n\n"
        "Start with `mwi sweep --quick` (this computer) or `mwi devices` (phones).\n\n"
        f"Exit codes: {EXIT_CODES_HELP}."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_state = {"debug": False}


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks instead of one-line errors."),
) -> None:
    _state["debug"] = debug or bool(os.environ.get("MWI_DEBUG"))


def _register_all() -> None:
    from . import (  # noqa: F401
        devices_cmd,
        doctor_cmd,
        history_cmd,
        models_cmd,
        parse_cmd,
        report_cmd,
        studies_cmd,
        sweep_cmd,
    )

    for mod in (sweep_cmd, report_cmd, history_cmd, models_cmd, devices_cmd, doctor_cmd, parse_cmd, studies_cmd):
        mod.register(app)


_register_all()


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: usage errors are click's (exit 2); library errors one line."""
    try:
        app(args=argv, prog_name="mwi")
    except MwiError as exc:
        if _state["debug"]:
            raise
        print(f"mwi: error: {exc.one_line()}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("mwi: interrupted", file=sys.stderr)
        sys.exit(130)
