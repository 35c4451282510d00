"""`mwi devices`: attached phones (table or --json) and `mwi devices capture SERIAL`."""

from __future__ import annotations

import datetime as _dt
import json
import sys
from pathlib import Path

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
    capabilities: bool = typer.Option(False, "--capabilities",
                                      help="Probe what each browser offers (wasm SIMD / relaxed SIMD / threads / "
                                           "JSPI / memory64, WebGL2, WebGPU adapter + features + limits, WebNN "
                                           "device types, cores, memory): this computer's Chromium and every "
                                           "browser on every phone."),
    chromium: str | None = typer.Option(None, "--chromium", help="With --capabilities: the local Chromium binary."),
    cluster: str | None = typer.Option(None, "--cluster", help="A running Ray cluster's HOST:PORT: the phones of "
                                                               "every node (rows gain `node`)."),
) -> None:
    """Every phone adb sees: state, model, Android, SoC, battery, thermal status, browsers, profile.

    Example: mwi devices --json

    Example: mwi devices --capabilities --json

    Example: mwi devices --cluster 10.0.0.5:6379 --json
    """
    if ctx.invoked_subcommand is not None:
        return
    if capabilities:
        _capabilities(as_json, chromium)
        return
    if cluster is not None:
        from ..cluster.ray_cluster import cluster_devices

        rows, problems = cluster_devices(cluster)
        for p in problems:
            print(f"mwi: warning: {p}", file=sys.stderr)
        print(json.dumps(rows, indent=2)) if as_json else _table(rows)
        return
    from ..targets.devices import describe_all

    descs = describe_all()
    for d in descs:
        for p in d.problems:
            print(f"mwi: warning: {p}", file=sys.stderr)
        for line in _devtools_notes(d.record):
            print(f"mwi: warning: {line}", file=sys.stderr)
    records = [d.record for d in descs]
    if as_json:
        print(json.dumps(records, indent=2))
        return
    _table(records)


@devices_app.command("capture")
def capture_cmd(
    serial: str = typer.Argument(..., help="The phone's serial (see `mwi devices`)."),
    out: Path | None = typer.Option(None, "--out", help="Folder to write (default: out/captures/<model>_<serial>_<time>)."),
    no_redact: bool = typer.Option(False, "--no-redact", help="Keep serial numbers / IMEI in getprop."),
) -> None:
    """Record every probe's raw output (getprop, dumpsys, cpufreq, /proc/stat, wm) into a folder.

    Example: mwi devices capture R58M12345 --out captures/my-phone
    """
    from ..adb.device import Device
    from ..adb.shell import AdbSession
    from ..paths import default_out_root
    from ..targets.capture import capture

    session = AdbSession.from_env()
    session.require_device(serial)
    dev = Device(serial, client=session)
    if out is None:
        stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        model = str(dev.getprop("ro.product.model") or "phone").replace(" ", "_")
        safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in f"{model}_{serial}_{stamp}")
        out = default_out_root() / "captures" / safe
    report = capture(dev, out, redact=not no_redact)
    for f in report.failures:
        print(f"mwi: warning: {f}", file=sys.stderr)
    print(f"wrote {len(report.files)} files to {report.directory}")


@devices_app.command("setup")
def setup_cmd(
    serial: str = typer.Argument(..., help="The phone's serial (see `mwi devices`); its ABI picks the binary."),
    url_base: str | None = typer.Option(None, "--url-base", help="Download site (default: TFLite's nightly "
                                           "prebuilt tools; env MWI_BENCHMARK_MODEL_URL_BASE)."),
    file: Path | None = typer.Option(None, "--file", help="Install this already downloaded binary instead."),
    abi: str | None = typer.Option(None, "--abi", help="ABI when the phone is not attached (arm64-v8a, "
                                      "armeabi-v7a, x86_64, x86)."),
) -> None:
    """Fetch TFLite's prebuilt benchmark_model for the phone's ABI into the cache, checked, with its sha256.

    Example: mwi devices setup R58M12345
    """
    from ..native.benchmark_setup import DownloadUnavailable, setup_benchmark_model

    try:
        rec = setup_benchmark_model(serial, url_base=url_base, file=file, abi=abi,
                                    say=lambda m: print(m, file=sys.stderr))
    except DownloadUnavailable as exc:
        print(f"mwi: error: {exc.one_line()}", file=sys.stderr)
        print(exc.instructions)
        raise typer.Exit(3) from None
    print(f"stored {rec.path} ({rec.abi}, {rec.size} bytes, sha256 {rec.sha256})")
    if rec.version_output is not None:
        print(f"--version on {serial} (exit {rec.version_exit}): {rec.version_output.splitlines()[-1] if rec.version_output else ''}")


def _capabilities(as_json: bool, chromium: str | None) -> None:
    """The capability matrix: one row per target x browser (the probe page in each browser)."""
    from ..targets.capabilities import collect_capabilities

    rows = collect_capabilities(chromium, warn=lambda m: print(f"mwi: warning: {m}", file=sys.stderr))
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(show_lines=True)
    cols = ("target", "browser", "cores", "memory", "wasm", "threads", "webgl2", "webgpu", "webnn")
    for col in cols:
        t.add_column(col, overflow="fold")
    for r in rows:
        s = r.get("summary") or {}
        t.add_row(r["target"], r["browser"], *[s.get(c, "") if r.get("capabilities") else
                                               (f"error: {r.get('error')}" if c == "wasm" else "")
                                               for c in cols[2:]])
    console = Console()
    if not console.is_terminal:
        console = Console(width=200)
    console.print(t)


def _devtools_notes(record: dict) -> list[str]:
    """One line per measurable browser whose DevTools socket is missing or lists no pages."""
    from ..adb.device import Device
    from ..browsers.devtools import devtools_statuses
    from ..browsers.specs import spec_for_package
    from ..errors import MwiError

    if record.get("state") != "device":
        return []
    specs = [s for s in (spec_for_package(b["package"]) for b in record.get("browsers") or []) if s and s.measurable]
    if not specs:
        return []
    serial = record["serial"]
    try:
        statuses = devtools_statuses(Device(serial), specs)
    except MwiError as exc:
        return [f"{serial}: DevTools sockets not listed: {exc.one_line()}"]
    return [f"{serial}: {st.note}" for st in statuses if not st.ok]


def _table(records: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    if not records:
        print("no phones attached (check the cable, `adb devices`, and USB debugging)")
        return
    t = Table(show_lines=False)
    cols: tuple[str, ...] = ("serial", "state", "model", "android", "soc", "battery", "thermal", "browsers",
                             "profile")
    cols += ("node",) if any("node" in r for r in records) else ()
    for col in cols:
        t.add_column(col, overflow="fold", no_wrap=col in ("serial", "state"))
    for r in records:
        batt = "" if r["battery_level"] is None else f"{r['battery_level']}%"
        if r["battery_temperature_c"] is not None:
            batt += f" {r['battery_temperature_c']:.1f}C"
        android = "" if r["android_release"] is None else f"{r['android_release']} (SDK {r['sdk']})"
        browsers = ", ".join(f"{b['name']} {b['version'] or '?'}" for b in r["browsers"])
        model = " ".join(x for x in (r["manufacturer"], r["model"]) if x)
        node = (str(r["node"])[:12],) if "node" in cols else ()
        t.add_row(r["serial"], r["state"], model, android, r["soc"] or "", batt, r["thermal_status"] or "",
                  browsers, r["profile"] or "", *node)
    console = Console()
    if not console.is_terminal:          # piped: never cut a serial to fit 80 columns
        console = Console(width=200)
    console.print(t)


def register(app: typer.Typer) -> None:
    app.add_typer(devices_app, name="devices")
