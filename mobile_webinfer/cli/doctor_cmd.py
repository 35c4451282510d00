"""`mwi doctor [--phone SERIAL|all] [--cluster] [--json]`: what is wrong, before a night's sweep."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from ..errors import UsageError

_HELP = (
    "Check this computer (adb and its server, Chromium, Playwright's driver, the vendored runtimes against "
    "their pins, ai-edge-litert / onnxruntime, the model cache, the results folder, cross-origin isolation "
    "served by the page server; Ray with --cluster) and, with --phone, each phone: authorised and online, "
    "Android / ABI / SoC, screen and lock, battery and charging, thermal, benchmark_model for its ABI "
    "(runs --version), each probe parses, adb reverse round trip, and per browser: a tiny page loads and "
    "posts, its DevTools socket, a tap lands on the page.  One line per check (ok / warn / fail / skip), "
    "and the fix under each warning or failure.  Exit 0 when nothing failed, 1 otherwise.\n\n"
    "Example: mwi doctor --phone all"
)


def register(app: typer.Typer) -> None:
    app.command("doctor", help=_HELP)(doctor)


def doctor(
    phone: list[str] = typer.Option(None, "--phone", help="A phone's serial to preflight (repeatable), or "
                                                           "'all' for every attached phone."),
    cluster: bool = typer.Option(False, "--cluster", help="Also check Ray (for mwi sweep --cluster)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON: {ok, checks: [{target, name, status, "
                                                        "detail, fix, seconds}]}."),
    out: Path = typer.Option(None, "--out", help="The results folder to check (default: $MWI_OUT or out/)."),
    benchmark_model: str = typer.Option(None, "--benchmark-model", help="The benchmark_model binary to check "
                                                                        "(default: the cached one per ABI)."),
    browsers: str = typer.Option(None, "--browsers", help="Comma-separated browser packages to check "
                                                          "(default: every measurable one installed)."),
    host: bool = typer.Option(True, "--host/--no-host", help="Check this computer too (default)."),
) -> None:
    from ..targets.doctor import DoctorReport, host_checks, render

    checks = list(host_checks(cluster=cluster, out_root=out).checks) if host else []
    if phone:
        from ..targets.android.preflight import PreflightOptions, phone_checks

        serials = _serials(phone)
        opts = PreflightOptions(benchmark_model=benchmark_model,
                                browsers=tuple(b.strip() for b in browsers.split(",") if b.strip())
                                if browsers else None)
        from ..web.server import PageServer

        with PageServer() as server:
            for serial in serials:
                checks += phone_checks(serial, opts, server=server).checks
    report = DoctorReport(tuple(checks))
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=1))
    else:
        typer.echo(render(report))
    raise typer.Exit(0 if report.ok else 1)


def _serials(given: list[str]) -> list[str]:
    from ..adb.discovery import list_devices
    from ..adb.shell import validate_serial

    if [g for g in given if g == "all"]:
        found = [d.serial for d in list_devices()]
        if not found:
            raise UsageError("--phone all: no phone is attached (adb devices lists none)")
        return found
    return [validate_serial(s) for s in given]


def sweep_preflight_or_exit(spec: Any) -> None:
    """`mwi sweep`'s start on phones: the cheap preflight checks of each phone.  What the sweep's own gates
    handle (heat, battery: they wait or flag) is printed as a warning; what would fail every cell of a
    phone (a lock screen the host cannot dismiss, a benchmark_model for another ABI) stops the sweep now
    with the fix, exit 3."""
    from ..targets.android.preflight import PreflightOptions, sweep_blocking, sweep_preflight

    phones = [t for t in spec.targets if t != "local"]
    if not phones:
        return
    opts = PreflightOptions(benchmark_model=spec.benchmark_model, native=bool(spec.native),
                            browsers=tuple(spec.browsers) if spec.browsers else None,
                            max_battery_temp_c=float((spec.cooldown or {}).get("max_battery_c") or 35.0),
                            min_battery_pct=float((spec.cooldown or {}).get("min_battery_pct") or 20.0))
    report = sweep_preflight(phones, opts)
    blocking = sweep_blocking(report)
    for c in report.checks:
        if c.status in ("warn", "fail") and c not in blocking:
            print(f"mwi: preflight {c.target} {c.name}: {c.status}: {c.detail}", file=sys.stderr)
    for c in blocking:
        print(f"mwi: preflight {c.target} {c.name} failed: {c.detail}\n  fix: {c.fix}", file=sys.stderr)
    if blocking:
        print("mwi: sweep not started (mwi doctor --phone SERIAL checks everything; --no-preflight skips this)",
              file=sys.stderr)
        raise SystemExit(3)
