"""`mwi devices capture`: record every probe's raw output from a phone, as fixture files.

Each file starts with the same header as tests/fixtures/ (`# source:` / `# device:` /
`# android:` / `# command:` / `# note:` ... `# ---`), then the output exactly as the phone
printed it, so users can contribute profiles and parser fixtures.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from ..adb.device import Device, fingerprint_from_props
from ..adb.shell import quote_argv
from ..browsers.android import installed_browsers
from ..errors import MwiError, UsageError
from ..files import safe_name
from ..parsers import parse_getprop

_CPU_FILES = ("scaling_cur_freq", "scaling_min_freq", "scaling_max_freq", "cpuinfo_max_freq",
              "scaling_governor")
_IDENTIFIER_PROPS = re.compile(r"^\[([^\]]*(serial|imei|meid|iccid|\.did|mac_?addr|bt_addr)[^\]]*)\]: \[(.*)\]$",
                               re.IGNORECASE)
# What an identifier looks like (`R5CY12AB34C`, `89984320001566073987`, `02:00:00:44:55:66`),
# unlike flags on the same keys (`ro.imei.check=yes`, `ro.boot.serialconsole=0`).
_IDENTIFIER_VALUE = re.compile(r"^(?=.*\d)[A-Za-z0-9:_\-]{6,}$")


@dataclass(frozen=True)
class CaptureReport:
    directory: Path
    files: tuple[Path, ...]
    failures: tuple[str, ...]       # "<file>: <one-line error>"


def redact_getprop(text: str) -> str:
    """Replace device identifiers (serial numbers, IMEI, MAC addresses) in getprop output."""
    out = []
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        m = _IDENTIFIER_PROPS.match(body)
        if m and _IDENTIFIER_VALUE.match(m.group(3)):
            body = f"[{m.group(1)}]: [[REDACTED]]"
            out.append(body + line[len(line.rstrip("\r\n")):])
        else:
            out.append(line)
    return "".join(out)


def capture(dev: Device, out_dir: Path, *, redact: bool = True, packages: list[str] | None = None) -> CaptureReport:
    """Run every probe on the phone and write one file per probe into out_dir (created)."""
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise UsageError(f"capture folder {out_dir} exists and is not empty")
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    files: list[Path] = []
    failures: list[str] = []

    getprop_text = dev.read(["getprop"])
    props = parse_getprop(getprop_text, source=f"{dev.serial}: getprop")
    fp = fingerprint_from_props(props, serial=dev.serial)
    header_device = " ".join(x for x in (fp["manufacturer"], fp["model"]) if x) or "unknown"
    if fp["device"]:
        header_device += f" ({fp['device']}; SoC {fp['soc']}; ABI {fp['abi']})"
    header_android = f"{fp['android_release']} (SDK {fp['sdk']}); build {fp['fingerprint']}"

    def write(name: str, command: str, output: str, notes: list[str]) -> None:
        path = out_dir / f"{safe_name(name, empty='x')}.txt"
        head = [f"# source: mwi devices capture (mobile-webinfer {__version__}) at {stamp}",
                f"# device: {header_device}",
                f"# android: {header_android}",
                f"# command: adb shell {command}"]
        head += [f"# note: {n}" for n in notes]
        head.append("# ---")
        path.write_text("\n".join(head) + "\n" + output, encoding="utf-8", newline="")
        files.append(path)

    def probe(name: str, argv: list[str], *, timeout: float = 30.0) -> None:
        command = quote_argv(argv)
        try:
            res = dev.shell(argv, timeout=timeout, check=False, idempotent=True)
        except MwiError as exc:
            failures.append(f"{name}: {exc.one_line()}")
            write(name, command, "", [f"FAILED: {exc.one_line()}"])
            return
        notes = [f"exit status {res.exit_code}"]
        if res.stderr.strip():
            notes.append("stderr: " + " | ".join(res.stderr.strip().splitlines()[-3:]))
        if res.exit_code != 0:
            failures.append(f"{name}: exit status {res.exit_code}")
        write(name, command, res.stdout, notes)

    write("getprop", "getprop", redact_getprop(getprop_text) if redact else getprop_text,
          ["device identifiers (serial numbers, IMEI, MAC) replaced by [REDACTED]" if redact
           else "NOT redacted: contains device identifiers"])
    probe("dumpsys_battery", ["dumpsys", "battery"])
    probe("dumpsys_thermalservice", ["dumpsys", "thermalservice"])
    probe("proc_stat", ["cat", "/proc/stat"])
    probe("proc_cpuinfo", ["cat", "/proc/cpuinfo"])
    probe("proc_meminfo", ["cat", "/proc/meminfo"])
    probe("wm_size", ["wm", "size"])
    probe("wm_density", ["wm", "density"])
    _capture_cpufreq(dev, write, failures)

    if packages is None:
        try:
            packages = [b.spec.package for b in installed_browsers(dev)]
        except MwiError as exc:
            failures.append(f"browsers: {exc.one_line()}")
            packages = []
    for pkg in packages:
        probe(f"dumpsys_package_{pkg}", ["dumpsys", "package", pkg], timeout=60.0)
        probe(f"dumpsys_meminfo_{pkg}", ["dumpsys", "meminfo", "--package", pkg], timeout=60.0)
        probe(f"dumpsys_gfxinfo_{pkg}", ["dumpsys", "gfxinfo", pkg], timeout=60.0)
    return CaptureReport(out_dir, tuple(files), tuple(failures))


_POLICY_ATTRS = ("related_cpus", "scaling_cur_freq", "scaling_min_freq", "scaling_max_freq", "cpuinfo_min_freq",
                 "cpuinfo_max_freq", "scaling_governor")
# A fixed script (no user input), so the device's sh may expand the policy* globs.
CPUFREQ_SCRIPT = "grep -H . " + " ".join(f"/sys/devices/system/cpu/cpufreq/policy*/{a}" for a in _POLICY_ATTRS)


def _capture_cpufreq(dev: Device, write: Callable[[str, str, str, list[str]], None], failures: list[str]) -> None:
    """cpufreq policies as `grep -H` prints them (parse_cpufreq's format); per-CPU `cat` as a fallback."""
    try:
        res = dev.shell(["sh", "-c", CPUFREQ_SCRIPT], check=False, idempotent=True, timeout=20.0)
        if res.exit_code == 0 and res.stdout.strip():
            write("cpufreq", quote_argv(["sh", "-c", CPUFREQ_SCRIPT]), res.stdout, [f"exit status {res.exit_code}"])
            return
    except MwiError:
        pass
    base = "/sys/devices/system/cpu"
    try:
        possible = dev.read(["cat", f"{base}/possible"]).strip()
    except MwiError as exc:
        failures.append(f"cpufreq: {exc.one_line()}")
        write("cpufreq", f"cat {base}/possible", "", [f"FAILED: {exc.one_line()}"])
        return
    cpus: list[int] = []
    for part in possible.split(","):
        a, _, b = part.partition("-")
        if a.strip().isdigit():
            cpus.extend(range(int(a), int(b if b.strip().isdigit() else a) + 1))
    lines = [f"{base}/possible: {possible}"]
    for cpu in cpus:
        for f in _CPU_FILES:
            path = f"{base}/cpu{cpu}/cpufreq/{f}"
            try:
                res = dev.shell(["cat", path], check=False, idempotent=True, timeout=10.0)
            except MwiError as exc:
                lines.append(f"{path}: <error: {exc.one_line()}>")
                continue
            value = res.stdout.strip() if res.exit_code == 0 else f"<exit {res.exit_code}: {res.stderr.strip()}>"
            lines.append(f"{path}: {value}")
    write("cpufreq", f"cat {base}/cpuN/cpufreq/{{{','.join(_CPU_FILES)}}}",
          "\n".join(lines) + "\n", ["the device's sh could not run the grep -H script; one `cat` per file, "
                                     "printed here as `path: value` (mwi's layout)"])
