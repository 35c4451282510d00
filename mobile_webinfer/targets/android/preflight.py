"""A phone's preflight (`mwi doctor --phone SERIAL`): everything a night's sweep will meet, checked in
about a minute, each check ok / warn / fail with its fix.

    report = phone_checks("R5CX...", PreflightOptions(), server=page_server)   # the whole preflight
    checks = cheap_checks("R5CX...", PreflightOptions())                       # seconds: no browser opened

The cheap checks (online and authorised, identity, screen and lock, battery, thermal, the host's
benchmark_model for the phone's ABI, each probe parses) also open every phone's part of `mwi sweep`,
so a sweep fails in seconds with the fix instead of cell by cell.  The full preflight adds `adb reverse`
with a round trip through it to the page server, and per browser: a tiny page loads and posts, the
browser's DevTools socket is open, a tap lands on the page; and benchmark_model runs `--version` on
the phone.  A check that cannot run because one before it failed is `skip`, so each fault fails
exactly its own check.  Everything here goes through the device layer (adb.Device, browsers.android,
targets.android.ui / gate, native.benchmark_setup); nothing talks to adbutils itself.
"""

from __future__ import annotations

import contextlib
import re
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...adb.device import Device, fingerprint_from_props
from ...errors import MwiError
from ..doctor import FAIL, OK, SKIP, WARN, Check, DoctorReport, Outcome, run_check

#: thermal status names (Android's PowerManager THERMAL_STATUS_*)
_THERMAL = ("NONE", "LIGHT", "MODERATE", "SEVERE", "CRITICAL", "EMERGENCY", "SHUTDOWN")
#: what Android's shell prints when a binary is not for this CPU
_EXEC_REFUSED = re.compile(r"not executable|Exec format error|can't execute|inaccessible or not found|"
                           r"Permission denied|cannot execute binary", re.IGNORECASE)
PREFLIGHT_PAGE = "preflight.html"


@dataclass(frozen=True)
class PreflightOptions:
    benchmark_model: str | None = None          # --benchmark-model PATH (else the cached one for the ABI)
    browsers: tuple[str, ...] | None = None     # packages; None: every measurable browser installed
    min_battery_pct: float = 20.0               # below: fail (a night's sweep drains it)
    max_battery_temp_c: float = 35.0            # above (or thermal status not NONE): hot, fail
    page_timeout_s: float = 30.0                # the tiny page must post within this after it opened
    tap_timeout_s: float = 10.0
    native: bool = True                         # native cells planned: benchmark_model matters


def _fix_online(state: str, serial: str) -> str:
    if state == "unauthorized":
        return ("unlock the phone and accept 'Allow USB debugging?' (tick 'Always allow'); if no prompt shows: "
                f"adb -s {serial} reconnect, or revoke USB debugging authorisations in Developer options and replug")
    if state == "offline":
        return f"replug the USB cable (a data cable, a direct port), then adb -s {serial} reconnect"
    return f"the phone is {state}: boot it into Android with USB debugging on, then replug"


class _Phone:
    """What the checks share: the device, its props and profile (read once)."""

    def __init__(self, serial: str, opts: PreflightOptions):
        self.serial, self.opts = serial, opts
        self.dev: Device | None = None
        self.props: dict[str, str] = {}
        self.abi: str | None = None

    def need(self) -> Device:
        if self.dev is None:
            raise Outcome(SKIP, "the phone is not reachable (see 'online')")
        return self.dev

    # -- cheap ------------------------------------------------------------------------------------
    def online(self) -> str:
        from ...adb.discovery import find_device
        from ...adb.profiles import load_profiles, match_profile

        info = find_device(self.serial)
        if not info.usable:
            raise Outcome(FAIL, f"adb lists it as {info.state}", _fix_online(info.state, self.serial))
        dev = Device(self.serial)
        self.props = dev.props()
        with contextlib.suppress(MwiError):
            dev.profile = match_profile(self.props, load_profiles())
        self.dev = dev
        prof = getattr(dev.profile, "name", None)
        return f"authorised and online ({info.model or '?'}); device profile {prof or 'none matched'}"

    def identity(self) -> str:
        self.need()
        fp = fingerprint_from_props(self.props, serial=self.serial)
        self.abi = fp.get("abi")
        text = (f"{fp.get('manufacturer') or '?'} {fp.get('model') or '?'}, Android {fp.get('android_release')} "
                f"(SDK {fp.get('sdk')}), ABI {self.abi}, SoC {fp.get('soc')}")
        if not self.abi:
            raise Outcome(FAIL, text + ": getprop gives no ro.product.cpu.abi",
                          f"adb -s {self.serial} shell getprop ro.product.cpu.abi must answer; reboot the phone")
        return text

    def screen(self) -> str:
        from .ui import read_ui

        dev = self.need()
        power, win = read_ui(dev)
        state = f"screen {'on' if power.awake and not win.screen_off else 'off (mwi wakes it)'}"
        if win.keyguard_showing:
            dev.shell(["wm", "dismiss-keyguard"])  # what every browser cell does first
            time.sleep(0.3)
            power, win = read_ui(dev)
            if win.keyguard_showing:
                raise Outcome(FAIL, f"{state}, locked: the lock screen stays after `wm dismiss-keyguard` "
                                    f"(a PIN, pattern or password)",
                              "unlock the phone, and set Settings > Security > Screen lock to None or Swipe for "
                              "the sweep (a PIN cannot be dismissed from the host)")
            state += ", lock screen dismissed (Swipe)"
        else:
            state += ", unlocked"
        if win.dialog:
            raise Outcome(WARN, f"{state}; a system dialog has focus: {win.dialog}",
                          "dismiss it on the phone (mwi presses BACK before each cell)")
        return f"{state}; focus {win.focus or '-'}"

    def battery(self) -> str:
        from .gate import read_charge

        level, charging = read_charge(self.need())
        if level is None:
            raise Outcome(WARN, "battery level unreadable (dumpsys battery)",
                          "mwi cannot tell a low battery: keep the phone charged")
        text = f"{level:.0f}%, {'charging' if charging else 'not charging'}"
        if level < self.opts.min_battery_pct:
            raise Outcome(FAIL, f"{text}: under {self.opts.min_battery_pct:.0f}%",
                          "charge the phone (a night's sweep needs most of it; mwi battery refuses under 25%), "
                          "on a charger that keeps up")
        if not charging and level < 50:
            raise Outcome(WARN, f"{text}: a long sweep may run it flat",
                          "plug it into a charger (a port that gives > 500 mA)")
        return text

    def thermal(self) -> str:
        from .gate import read_thermal

        reading = read_thermal(self.need())
        status, temp = reading.status, reading.battery_c
        if status is None and temp is None:
            raise Outcome(FAIL, "neither dumpsys thermalservice nor the battery temperature could be read",
                          "mwi cannot wait for the phone to cool without one: check adb shell dumpsys thermalservice "
                          "and dumpsys battery")
        name = _THERMAL[status] if status is not None and 0 <= status < len(_THERMAL) else str(status)
        text = f"thermal status {name if status is not None else 'unreadable'}, battery " \
               f"{'?' if temp is None else f'{temp:.1f} C'}"
        if (status or 0) > 0 or (temp is not None and temp > self.opts.max_battery_temp_c):
            raise Outcome(FAIL, f"{text}: hot (a sweep waits for status NONE and battery <= "
                                f"{self.opts.max_battery_temp_c:.0f} C before each cell)",
                          "let it cool: screen off, out of its case, off a fast charger, a few minutes; then run "
                          "mwi doctor --phone again")
        if status is None:
            why = reading.thermal_unavailable or "dumpsys thermalservice unreadable: Android < 10?"
            raise Outcome(WARN, f"{text} ({why})",
                          "only the battery temperature gates cells on this phone")
        return text

    def benchmark_model_host(self) -> tuple[Path | None, str]:
        """The host's binary for this ABI, its ELF header read (no phone needed)."""
        from ...native.benchmark_setup import ABIS, BenchmarkModelSetupError, check_elf
        from .native_cell import benchmark_model_path

        abi = self.abi
        fix = f"mwi devices setup {self.serial} (fetches TFLite's benchmark_model for {abi}, checked)"
        path = benchmark_model_path(abi, self.opts.benchmark_model)
        if path is None:
            where = self.opts.benchmark_model or f"the cache for {abi}"
            raise Outcome(WARN, f"no benchmark_model in {where}: native cells cannot run", fix)
        data = path.read_bytes()
        want = ABIS.get(abi or "")
        if want is not None and wrong_abi(data, want.elf_class, want.e_machine):
            try:
                check_elf(data, abi or "", what=str(path))
            except BenchmarkModelSetupError as exc:
                raise Outcome(FAIL, exc.one_line(), fix) from None
        try:
            check_elf(data, abi or "", what=str(path))
            return path, f"{path} is an ELF for {abi}"
        except BenchmarkModelSetupError as exc:
            return path, f"{path}: {exc.one_line()} (the phone decides)"

    def benchmark_model(self, run_on_phone: bool) -> str:
        self.need()
        if not self.opts.native:
            return "not checked: no native cells planned"
        if not self.abi:
            raise Outcome(SKIP, "needs the phone's ABI (see 'identity')")
        path, text = self.benchmark_model_host()
        if path is None or not run_on_phone:
            return text
        from ...native.benchmark_setup import version_on_device

        out = version_on_device(self.need())(path)
        output, code = out if out is not None else ("", -1)
        if code in (126, 127) or _EXEC_REFUSED.search(output):
            raise Outcome(FAIL, f"the phone will not run it: exit {code}: {output.strip().splitlines()[-1][:160]}"
                          if output.strip() else f"the phone will not run it: exit {code}",
                          f"mwi devices setup {self.serial} (the binary for ABI {self.abi})")
        first = next((ln.strip() for ln in output.splitlines() if ln.strip()), "")
        return f"{text}; runs on the phone: --version exit {code}: {first[:80]}"

    def probes(self) -> str:
        from ...probes.android import default_probes

        dev = self.need()
        pkg = (self.opts.browsers or ("com.android.chrome",))[0]
        done, bad = [], []
        for probe in default_probes(pkg):
            try:
                if probe.supported(dev):
                    probe.sample(dev)
                    done.append(probe.name)
                else:
                    done.append(f"{probe.name} (unsupported)")
            except MwiError as exc:
                bad.append(f"{probe.name}: {exc.one_line()[:120]}")
        if bad:
            raise Outcome(FAIL, "; ".join(bad),
                          f"mwi devices capture {self.serial} and file the capture (a parser does not read this "
                          f"phone's output)")
        return "parsed: " + ", ".join(done)


def wrong_abi(head: bytes, elf_class: int, e_machine: int) -> bool:
    """A well-formed ELF identification for another CPU (a stand-in that is not ELF at all is not 'wrong ABI')."""
    if len(head) < 20 or head[:4] != b"\x7fELF" or head[4] not in (1, 2) or head[5] != 1:
        return False
    machine = int.from_bytes(head[18:20], "little")
    return machine != e_machine or head[4] != elf_class


#: cheap checks whose failure stops `mwi sweep` at its start (exit 3): each would fail every cell of the
#: phone.  Heat and a low battery are the sweep's own gates' business (they wait, skip or flag); a phone
#: that is not reachable is left to the sweep's connection (a lost phone does not stop the others).
SWEEP_BLOCKING = ("screen", "benchmark_model")
SWEEP_PREFLIGHT_S = 30.0
CHEAP = ("online", "identity", "screen", "battery", "thermal", "benchmark_model", "probes")


def cheap_checks(serial: str, opts: PreflightOptions | None = None, *, probes: bool = True) -> list[Check]:
    """The checks that open no browser (a few seconds); `mwi sweep` runs them without `probes` (the
    sampler turns a failing probe into event rows, it never stops a cell)."""
    phone = _Phone(serial, opts or PreflightOptions())
    checks = _cheap(phone, run_on_phone=False)
    return checks if probes else [c for c in checks if c.name != "probes"]


def _cheap(phone: _Phone, *, run_on_phone: bool) -> list[Check]:
    steps: list[tuple[str, Callable[[], str], str]] = [
        ("online", phone.online, f"adb -s {phone.serial} reconnect"),
        ("identity", phone.identity, "replug the phone"),
        ("screen", phone.screen, "unlock the phone"),
        ("battery", phone.battery, "check adb shell dumpsys battery"),
        ("thermal", phone.thermal, "check adb shell dumpsys thermalservice"),
        ("benchmark_model", lambda: phone.benchmark_model(run_on_phone), f"mwi devices setup {phone.serial}"),
        ("probes", phone.probes, f"mwi devices capture {phone.serial}"),
    ]
    return [run_check(name, fn, target=phone.serial, fix_on_error=fix) for name, fn, fix in steps]


def phone_checks(serial: str, opts: PreflightOptions | None = None, *, server: Any = None) -> DoctorReport:
    """The whole preflight of one phone; `server` is a started PageServer (one is started when None)."""
    opts = opts or PreflightOptions()
    phone = _Phone(serial, opts)
    checks = _cheap(phone, run_on_phone=True)
    if phone.dev is None:
        return DoctorReport(tuple(checks))
    if server is None:
        from ...web.server import PageServer

        with PageServer() as srv:
            checks += _browser_checks(phone, srv)
    else:
        checks += _browser_checks(phone, server)
    return DoctorReport(tuple(checks))


def _browser_checks(phone: _Phone, server: Any) -> list[Check]:
    from ...browsers.android import force_stop, installed_browsers
    from ...browsers.specs import spec_with_profile
    from .target import free_port

    dev = phone.need()
    out: list[Check] = []
    installed = [b.spec for b in installed_browsers(dev) if b.spec.measurable]
    if phone.opts.browsers:
        specs = [s for s in installed if s.package in phone.opts.browsers]
        missing = [p for p in phone.opts.browsers if p not in {s.package for s in installed}]
        if missing:
            out.append(Check("browsers", FAIL, f"not installed: {', '.join(missing)}",
                             "install it from the Play Store, or leave it out of --browsers", phone.serial))
    else:
        specs = installed
    if not specs:
        out.append(Check("browsers", FAIL, "no measurable browser installed",
                         "install Chrome (com.android.chrome) from the Play Store", phone.serial))
        return out
    specs = [spec_with_profile(s.key, dev.profile) for s in specs]
    device_port = free_port()
    state: dict[str, Any] = {}

    def reverse() -> str:
        from .browser_cell import verify_reverse

        stack = state["stack"]
        stack.enter_context(dev.reverse(device_port, server.port))
        verify_reverse(dev, device_port, server.port)
        # the round trip: host -> (adb forward) -> the phone's tcp:device_port -> (adb reverse) -> page server
        port = stack.enter_context(dev.forward(None, f"tcp:{device_port}"))
        t0 = time.monotonic()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/{PREFLIGHT_PAGE}", timeout=10) as resp:
            body = resp.read()
            coop = resp.headers.get("Cross-Origin-Opener-Policy")
        if b"mwi" not in body:
            raise Outcome(FAIL, f"tcp:{device_port} answered, but not with the page server's page",
                          f"adb -s {phone.serial} reverse --remove-all, then run mwi doctor --phone {phone.serial} again")
        state["reverse_ok"] = True
        return (f"phone tcp:{device_port} -> host tcp:{server.port}: round trip {1000 * (time.monotonic() - t0):.0f} ms "
                f"(COOP {coop})")

    with contextlib.ExitStack() as stack:
        state["stack"] = stack
        out.append(run_check("reverse", reverse, target=phone.serial,
                             fix_on_error=f"a process on the phone holds the port, or adb is old: adb -s {phone.serial} "
                                          f"reverse --remove-all; if it persists, reboot the phone"))
        for spec in specs:
            try:
                out += _one_browser(phone, spec, server, device_port, bool(state.get("reverse_ok")))
            finally:
                with contextlib.suppress(MwiError):
                    force_stop(dev, spec)
    return out


def _one_browser(phone: _Phone, spec: Any, server: Any, device_port: int, reverse_ok: bool) -> list[Check]:
    from ...browsers.android import force_stop, open_url
    from ...browsers.devtools import list_devtools_sockets
    from ...web.protocol import PageReportedError
    from ..qoe import AdbTapper, TapPoint

    dev = phone.need()
    tag = spec.key
    loaded: dict[str, Any] = {}

    def page() -> str:
        if not reverse_ok:
            raise Outcome(SKIP, "needs adb reverse (see 'reverse')")
        force_stop(dev, spec)
        probe, tap = server.open_probe(PREFLIGHT_PAGE), server.open_probe(PREFLIGHT_PAGE)
        loaded["tap"] = tap
        url = probe.url(origin=f"http://127.0.0.1:{device_port}", extra={"tap": tap.probe_id, "taptoken": tap.token})
        t0 = time.monotonic()
        open_url(dev, spec, url)
        try:
            payload = probe.wait(timeout=phone.opts.page_timeout_s)
        except PageReportedError:
            from .ui import read_ui

            _power, win = read_ui(dev)
            raise Outcome(FAIL, f"the page did not post within {phone.opts.page_timeout_s:.0f} s (focus: "
                                f"{win.focus or '-'})",
                          f"open {spec.name} on the phone by hand once and finish its first-run screens (or run "
                          f"mwi sweep --first-run)") from None
        loaded.update(payload)
        coi = payload.get("cross_origin_isolated")
        return (f"loaded and posted in {time.monotonic() - t0:.1f} s ({payload.get('visibility')}, "
                f"crossOriginIsolated {coi}, viewport {payload.get('width')}x{payload.get('height')})")

    def devtools() -> str:
        if not spec.devtools_socket:
            raise Outcome(WARN, f"{spec.name} has no known DevTools socket", "mwi cannot watch its pages")
        if not loaded:
            raise Outcome(SKIP, "needs the page open (see 'page')")
        found = list_devtools_sockets(dev)
        if spec.devtools_socket not in found:
            raise Outcome(FAIL, f"@{spec.devtools_socket} is not open while {spec.name} shows a page "
                                f"(open: {', '.join('@' + s for s in found) or 'none'})",
                          spec.devtools_hint or f"turn on USB debugging, and remote debugging in {spec.name}")
        return f"@{spec.devtools_socket} open"

    def tap() -> str:
        if not loaded:
            raise Outcome(SKIP, "needs the page open (see 'page')")
        w, h = float(loaded.get("width") or 0), float(loaded.get("height") or 0)
        dpr = float(loaded.get("device_pixel_ratio") or 1.0)
        at = TapPoint(w / 2, h / 2, dpr, 0.0)
        tapper = AdbTapper(dev)
        t_end = time.monotonic() + phone.opts.tap_timeout_s
        while True:
            tapper.tap(at)
            try:
                got = loaded["tap"].wait(timeout=min(2.0, max(0.1, t_end - time.monotonic())))
                break
            except PageReportedError:
                if time.monotonic() >= t_end:
                    x, y = at.screen_px()
                    raise Outcome(FAIL, f"`input tap {x} {y}` never reached the page in "
                                        f"{phone.opts.tap_timeout_s:.0f} s",
                                  "something covers the page (a dialog, the notification shade, a pop-up): clear "
                                  "the screen; QoE cells need taps to land") from None
        x, y = at.screen_px()
        return f"input tap {x} {y} landed at CSS ({got.get('x')}, {got.get('y')}) as {got.get('kind')}"

    return [run_check(f"page:{tag}", page, target=phone.serial, fix_on_error=f"mwi devices {phone.serial}"),
            run_check(f"devtools:{tag}", devtools, target=phone.serial,
                      fix_on_error="turn on USB debugging and replug"),
            run_check(f"tap:{tag}", tap, target=phone.serial, fix_on_error="clear the screen and try again")]


def sweep_preflight(serials: list[str], opts: PreflightOptions) -> DoctorReport:
    """The cheap checks of every phone of a sweep (the sweep stops with exit 3 when one fails)."""
    from ...retry import deadline

    checks: list[Check] = []
    for serial in serials:
        with deadline(SWEEP_PREFLIGHT_S):  # a hung phone cannot hold the sweep's start for long
            checks += cheap_checks(serial, opts, probes=False)
    return DoctorReport(tuple(checks))


def sweep_blocking(report: DoctorReport) -> list[Check]:
    """The findings that stop a sweep before it starts: a failed SWEEP_BLOCKING check that reached a
    verdict (a check that raised, e.g. on a hung command, is printed and left to the sweep)."""
    return [c for c in report.checks if c.failed and not c.error and c.name in SWEEP_BLOCKING]


__all__ = ["CHEAP", "OK", "SWEEP_BLOCKING", "sweep_blocking", "PreflightOptions", "cheap_checks", "phone_checks", "sweep_preflight", "wrong_abi"]
