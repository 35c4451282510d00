"""`mwi devices`: attached phones (table or --json) and `mwi devices capture SERIAL`."""

from __future__ import annotations

import datetime as _dt
import json
import sys
from pathlib import Path
from typing import Optional

import typer

devices_app = typer.Typer(
    help="List attached Android phones, or record a phone's raw probe outputs.\n\n"
         "Example: mwi devices --json",
    invoke_without_command=True,
    no_args_is_help=False,
)


@devices_app.callback()
def devices(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list, one object per phone."),
) -> None:
    """Every phone adb sees: state, model, Android, SoC, battery, thermal status, browsers, profile.

    Example: mwi devices --json
    """
    if ctx.invoked_subcommand is not None:
        return
    from ..adb.discovery import describe_all

    descs = describe_all()
    for d in descs:
        for p in d.problems:
            print(f"mwi: warning: {p}", file=sys.stderr)
    records = [d.record for d in descs]
    if as_json:
        print(json.dumps(records, indent=2))
        return
    _table(records)


@devices_app.command("capture")
def capture_cmd(
    serial: str = typer.Argument(..., help="The phone's serial (see `mwi devices`)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder to write (default: out/captures/<model>_<serial>_<time>)."),
    no_redact: bool = typer.Option(False, "--no-redact", help="Keep serial numbers / IMEI in getprop."),
) -> None:
    """Record every probe's raw output (getprop, dumpsys, cpufreq, /proc/stat, wm) into a folder.

    Example: mwi devices capture R58M12345 --out captures/my-phone
    """
    from ..adb.capture import capture
    from ..adb.device import Device
    from ..adb.shell import AdbSession
    from ..paths import default_out_root

    session = AdbSession.from_env()
    session.require_device(serial)
    dev = Device(serial, client=session)
    if out is None:
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        model = str(dev.getprop("ro.product.model") or "phone").replace(" ", "_")
        safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in f"{model}_{serial}_{stamp}")
        out = default_out_root() / "captures" / safe
    report = capture(dev, out, redact=not no_redact)
    for f in report.failures:
        print(f"mwi: warning: {f}", file=sys.stderr)
    print(f"wrote {len(report.files)} files to {report.directory}")


def _table(records: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    if not records:
        print("no phones attached (check the cable, `adb devices`, and USB debugging)")
        return
    t = Table(show_lines=False)
    for col in ("serial", "state", "model", "android", "soc", "battery", "thermal", "browsers", "profile"):
        t.add_column(col, overflow="fold", no_wrap=col in ("serial", "state"))
    for r in records:
        batt = "" if r["battery_level"] is None else f"{r['battery_level']}%"
        if r["battery_temperature_c"] is not None:
            batt += f" {r['battery_temperature_c']:.1f}C"
        android = "" if r["android_release"] is None else f"{r['android_release']} (SDK {r['sdk']})"
        browsers = ", ".join(f"{b['name']} {b['version'] or '?'}" for b in r["browsers"])
        model = " ".join(x for x in (r["manufacturer"], r["model"]) if x)
        t.add_row(r["serial"], r["state"], model, android, r["soc"] or "", batt, r["thermal_status"] or "",
                  browsers, r["profile"] or "")
    console = Console()
    if not console.is_terminal:          # piped: never cut a serial to fit 80 columns
        console = Console(width=200)
    console.print(t)


def register(app: typer.Typer) -> None:
    app.add_typer(devices_app, name="devices")
