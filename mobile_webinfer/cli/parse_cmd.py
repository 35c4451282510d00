"""`mwi parse KIND FILE [--json]`: read captured phone output offline."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from ..errors import UsageError
from ..parsers.dispatch import KINDS, PARSERS, parse_capture, record_json

_HELP = (
    "Parse captured phone output (a file, or - for stdin) and print a table or --json.\n\n"
    f"KIND is one of: {', '.join(KINDS)}.  A capture header ('# ...' lines ended by '# ---') is "
    "skipped; UTF-16 (PowerShell redirects) and CRLF are accepted.  Unreadable input exits with "
    "code 2 and one line saying what was expected.\n\n"
    "Example: adb shell dumpsys meminfo --package com.android.chrome > m.txt; mwi parse meminfo m.txt --json"
)


def register(app: typer.Typer) -> None:
    app.command("parse", help=_HELP)(parse)


def parse(
    kind: str = typer.Argument(..., help=f"What the file holds: {', '.join(KINDS)}."),
    file: str = typer.Argument(..., help="Capture file, or - to read stdin."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    if kind not in PARSERS:
        raise UsageError(f"unknown kind {kind!r}; expected one of: {', '.join(KINDS)}")
    data = _read(file)
    record = parse_capture(kind, data, source="<stdin>" if file == "-" else file)
    if as_json:
        typer.echo(json.dumps(record_json(kind, record), indent=2))
    else:
        _render(kind, record)


def _read(file: str) -> bytes:
    if file == "-":
        return sys.stdin.buffer.read()
    path = Path(file)
    if not path.is_file():
        raise UsageError(f"no such file: {file}")
    return path.read_bytes()


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _render(kind: str, rec: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console() if sys.stdout.isatty() else Console(width=160)  # piped: do not squeeze to 80
    if kind == "meminfo":
        t = Table(title="dumpsys meminfo (kB)")
        for col in ("pid", "process", "PSS", "RSS", "swap", "Java", "Native", "Code", "Stack", "Graphics",
                    "Priv.Other", "System"):
            t.add_column(col, justify="left" if col == "process" else "right",
                         overflow="fold" if col == "process" else "ellipsis")
        for p in rec.processes:
            s = p.summary
            t.add_row(str(p.pid), p.name, *(_fmt(x) for x in (
                p.total_pss_kb, p.total_rss_kb, p.total_swap_pss_kb, s.java_heap_kb, s.native_heap_kb, s.code_kb,
                s.stack_kb, s.graphics_kb, s.private_other_kb, s.system_kb)))
        console.print(t)
        if rec.not_found:
            console.print(f"no process found for {rec.not_found}")
        elif len(rec.processes) > 1:
            console.print(f"all processes: PSS {rec.total_pss_kb} kB")
    elif kind == "gfxinfo":
        t = Table(title="dumpsys gfxinfo")
        for col in ("pid", "process", "frames", "janky", "p50", "p90", "p95", "p99 ms", "missed vsync", "rows"):
            t.add_column(col, justify="left" if col == "process" else "right",
                         overflow="fold" if col == "process" else "ellipsis")
        for p in rec.processes:
            s = p.stats
            pct = s.percentiles_ms if s else {}
            t.add_row(str(p.pid), p.name, _fmt(s and s.total_frames), _fmt(s and s.janky_frames),
                      *(_fmt(pct.get(k)) for k in ("50", "90", "95", "99")), _fmt(s and s.missed_vsync),
                      str(len(p.frames)))
        console.print(t)
        fs = rec.frame_summary()
        if fs["count"]:
            console.print(f"framestats rows: {fs['count']} ({fs['janky']} janky, {rec.skipped_flagged_frames} "
                          f"flagged skipped); duration p50/p90/p95/p99 ms: "
                          + "/".join(_fmt(fs["percentiles_ms"][k]) for k in ("50", "90", "95", "99")))
    elif kind == "thermal":
        console.print(f"thermal status {rec.status} ({rec.status_name}), override={_fmt(rec.override)}, "
                      f"temperatures from the {rec.source} block")
        t = Table()
        for col in ("sensor", "type", "°C", "status"):
            t.add_column(col)
        for x in rec.temperatures:
            t.add_row(x.name, str(x.type), _fmt(x.value_c), str(x.status))
        console.print(t)
    elif kind == "battery":
        t = Table(title="dumpsys battery")
        t.add_column("field")
        t.add_column("value")
        for k, v in rec.to_json().items():
            if k != "extra":
                t.add_row(k, _fmt(v))
        console.print(t)
    elif kind == "getprop":
        t = Table(title=f"getprop ({len(rec)} properties)")
        t.add_column("key")
        t.add_column("value")
        for k, v in rec.items():
            t.add_row(k, v)
        console.print(t)
    elif kind == "benchmark-model":
        t = Table(title="benchmark_model")
        for col in ("run", "init us", "first us", "warmup avg us", "avg us", "std us", "count", "mem init MB",
                    "mem overall MB", "delegated"):
            t.add_column(col, justify="right")
        for i, r in enumerate(rec, start=1):
            deleg = f"{r.nodes_delegated}/{r.nodes_total}" if r.nodes_total else _fmt(r.delegate)
            t.add_row(str(i), *(_fmt(x) for x in (r.init_us, r.first_inference_us, r.warmup_avg_us,
                                                   r.inference_avg_us, r.inference_std_us, r.count,
                                                   r.memory_init_mb, r.memory_overall_mb)), deleg)
        console.print(t)
    else:
        console.print_json(json.dumps(record_json(kind, rec)))
