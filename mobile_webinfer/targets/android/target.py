"""A phone as a target: its browsers over `adb reverse`, TFLite's benchmark_model natively.

The constructor only stores its arguments; `connect()` (called by `describe()`) is the first
call that talks to the phone.  The jobs live beside this file: browser cells, native cells,
the cool-down gate and recovery, the restore journal, and what the samples add up to.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ...adb.device import Device
from ...errors import DeviceError, DeviceOffline, MwiError, UsageError, device_gone
from ...vocab import Budget, Cell, PageOptions, QoeOptions
from ..contract import Measurement, ProfileCapture, check_stop
from ..cooldown import CooldownPolicy
from . import gate as _gate
from .browser_cell import run_browser_cell
from .journal import restore_from_journal, write_journal
from .native_cell import benchmark_model_path, run_native_cell, run_native_profile
from .recovery import DEFAULT_BOOT_TIMEOUT_S, recover

log = logging.getLogger(__name__)

REMOTE_DIR = "/data/local/tmp/mwi"
NEVER_SEEN_WAIT_S = 15.0  # recover() of a phone never reached in this run: a reconnect, not a reboot
DEFAULT_NATIVE = ("cpu", "xnnpack", "gpu")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


PUSH_SLOWEST_BYTES_PER_S = 2_000_000  # a slow USB 2 hub; adb usually pushes 20-40 MB/s


def push_timeout_s(size_bytes: int) -> float:
    """A push's timeout from the file's size (a 600 MB ESRGAN file is not cut at a fixed 120 s)."""
    return 30.0 + size_bytes / PUSH_SLOWEST_BYTES_PER_S


class AndroidTarget:
    """One phone, addressed by serial."""

    def __init__(self, serial: str, *, cooldown: CooldownPolicy | None = None, sample_interval_s: float = 1.0,
                 benchmark_model: str | None = None, native_backends: tuple[str, ...] = DEFAULT_NATIVE,
                 browsers: list[str] | None = None, brightness: int | None = 128, animations_off: bool = False,
                 first_run: bool = False, page: PageOptions | None = None, qoe: QoeOptions | None = None,
                 boot_timeout_s: float = DEFAULT_BOOT_TIMEOUT_S):
        self.name = serial
        self.page = page or PageOptions()
        self.qoe = qoe or QoeOptions()
        self.serial = serial
        self.cooldown = cooldown or CooldownPolicy()
        self.sample_interval_s = sample_interval_s
        self.benchmark_model = benchmark_model
        self._native_backends = tuple(native_backends)
        self._browsers = browsers
        self.brightness = brightness
        self.animations_off = animations_off
        self.first_run = first_run
        self._first_run_done: dict[str, dict[str, Any]] = {}
        self.device_port = free_port()  # this phone's side of adb reverse; distinct per phone
        self._dev: Device | None = None
        self._fp: dict[str, Any] | None = None
        self._pushed: dict[str, str] = {}
        self._hashes: dict[str, str] = {}
        self._installed: list[Any] | None = None
        self._props: dict[str, str] = {}
        self.boot_timeout_s = boot_timeout_s
        self.left_conditioned: str | None = None  # why the journal was kept when conditions() ended
        self.gate_state = _gate.GateState()  # the cool-down gate's memory of this phone (bounds in a row)

    # -- identity ------------------------------------------------------------------------
    def connect(self) -> Device:
        """Find the phone, check it is usable and match its device profile (talks to the phone)."""
        from ...adb.discovery import find_device
        from ...adb.profiles import load_profiles, match_profile

        info = find_device(self.serial)
        if not info.usable:
            raise DeviceError(f"phone is {info.state}", serial=self.serial)
        dev = Device(self.serial)
        self._props = dev.props()  # read once per connection: describe() and the profile check use it
        dev.profile = match_profile(self._props, load_profiles())
        self._dev = dev
        return dev

    @property
    def dev(self) -> Device:
        """The connected phone (`connect()` first; this never talks to the phone itself)."""
        if self._dev is None:
            raise UsageError(f"{self.serial}: not connected (describe() or connect() first)")
        return self._dev

    @property
    def abi(self) -> str | None:
        return (self._fp or {}).get("abi")

    def describe(self) -> dict[str, Any]:
        from ...adb.device import fingerprint_from_props
        from ...adb.discovery import verify_profile

        dev = self.connect()
        restored = restore_from_journal(dev)  # a run before this one was killed hard
        fp = fingerprint_from_props(self._props, serial=self.serial)
        if restored:
            fp["restored_from_journal"] = restored
        try:
            profile, check = verify_profile(dev, props=self._props)
            dev.profile = profile
            fp["profile_check"] = check.to_json()  # which of the profile's claims held on this phone
        except MwiError as exc:
            fp["profile_check"] = {"error": exc.one_line()}
        fp["benchmark_model"] = self._benchmark_model_info(fp.get("abi"))
        try:
            reading = _gate.read_thermal(dev, self.cooldown.read_timeout_s)
            status, temp = reading.status, reading.battery_c
            if reading.thermal_unavailable:
                fp["thermal_unavailable"] = reading.thermal_unavailable
        except _gate.GateFault as exc:  # the cells' gates say it again, each counted as an infra failure
            status, temp = None, None
            fp["gate_fault"] = exc.one_line()
        self._fp = {**fp, "target": self.serial, "kind": "android",
                    "profile": getattr(dev.profile, "name", None),
                    "browsers": [b.to_json() for b in self.installed()],
                    "thermal_status_start": status, "battery_temp_start_c": temp,
                    "device_port": self.device_port}
        return self._fp

    def _benchmark_model_info(self, abi: str | None) -> dict[str, Any] | None:
        """Which benchmark_model native cells will run (sha256; `--version` as `mwi devices setup` saw it)."""
        from ...files import file_sha256
        from ...native.benchmark_setup import installed_info

        binary = benchmark_model_path(abi, self.benchmark_model)
        if binary is None:
            return None
        info: dict[str, Any] = {}
        if not self.benchmark_model and abi:
            with contextlib.suppress(MwiError):
                info = dict(installed_info(abi) or {})
        self._hashes[str(binary)] = file_sha256(binary)
        return {**info, "path": str(binary), "sha256": self._hashes[str(binary)]}

    def installed(self) -> list[Any]:
        if self._installed is None:
            from ...browsers.android import installed_browsers

            self._installed = installed_browsers(self.dev)
        return self._installed

    def browser_version(self, package: str) -> str | None:
        for b in self.installed():
            if b.spec.package == package:
                return str(b.version) if b.version is not None else None
        return None

    def browsers(self) -> list[str]:
        found = [b.spec.package for b in self.installed() if b.spec.measurable]
        if self._browsers:
            missing = [p for p in self._browsers if p not in found]
            if missing:
                raise UsageError(f"{self.serial}: browser(s) not installed: {', '.join(missing)} "
                                 f"(installed: {', '.join(found) or 'none'})")
            return list(self._browsers)
        return found

    def native_backends(self) -> list[str]:
        return list(self._native_backends)

    # -- conditioning, with a journal that survives a hard kill -----------------------------
    def _touched_settings(self) -> list[tuple[str, str]]:
        from ...adb.conditioning import ANIMATION_SCALES

        keys = [("global", "stay_on_while_plugged_in")]
        if self.brightness is not None:
            keys += [("system", "screen_brightness_mode"), ("system", "screen_brightness")]
        if self.animations_off:
            keys += [("global", k) for k in ANIMATION_SCALES]
        return keys

    @contextlib.contextmanager
    def conditions(self) -> Iterator[None]:
        """Screen on, stay-on, fixed brightness (and no animations if asked), restored on exit.  The
        originals are also written to a journal first, so the next run restores them after a hard kill."""
        from ...adb.conditioning import conditioned

        originals = {f"{ns}/{k}": self.dev.get_setting(ns, k) for ns, k in self._touched_settings()}
        path = write_journal(self.serial, originals, self.device_port)
        self.left_conditioned = None
        block_done = False
        restore_error: MwiError | None = None
        try:
            with conditioned(self.dev, brightness=self.brightness, animations_off=self.animations_off):
                yield
                block_done = True
        except MwiError as exc:
            if not (block_done and device_gone(exc)):
                raise
            restore_error = exc  # the block ended well; the phone went away while being restored
        finally:
            self._end_journal(path, originals)
        if restore_error is not None:
            raise DeviceOffline(f"{self.serial} went away while its settings were being restored "
                                f"({restore_error.one_line()}); {self.left_conditioned}", serial=self.serial)

    def _end_journal(self, path: Path, originals: dict[str, str | None]) -> None:
        """Delete the restore journal only once the originals were read back from the phone; a phone
        that is gone (or kept another value) keeps it, and the next contact with it replays it."""
        try:
            now = {key: self.dev.get_setting(*key.split("/", 1)) for key in originals}
            wrong = [key for key, value in originals.items() if now[key] != value]
            why = f"{', '.join(wrong)} not back to {', '.join(str(originals[k]) for k in wrong)}" if wrong else ""
        except MwiError as exc:
            why = f"its settings could not be read back ({exc.one_line()})"
        if not why:
            path.unlink(missing_ok=True)
            return
        self.left_conditioned = (f"{self.serial} may be left conditioned: {why}; the restore journal {path} "
                                 f"is kept and replayed the next time mwi reaches this phone")
        log.warning("%s", self.left_conditioned)

    def handle_first_run(self, spec: Any) -> dict[str, Any]:
        """Once per browser: click through its first-run / EULA screens as the profile says (opt-in,
        uiautomator2).  What happened is returned for the manifest; a failure is recorded, and a page
        that then cannot load fails its cell under the watchdog."""
        if spec.package in self._first_run_done:
            return self._first_run_done[spec.package]
        steps = self.dev.profile.first_run_steps(spec.package) if self.dev.profile is not None else ()
        out: dict[str, Any]
        if not self.first_run:
            out = {"attempted": False, "why": "off (mwi sweep --first-run turns it on)", "steps": len(steps)}
        elif not steps:
            out = {"attempted": False, "why": "the device profile lists no first-run steps"}
        else:
            from ...browsers.android import open_url
            from ...browsers.firstrun import dismiss_first_run

            try:
                open_url(self.dev, spec, "http://127.0.0.1/")
                res = dismiss_first_run(self.dev, spec, steps)
                out = {"attempted": True, "ok": True, "clicked": list(res.clicked), "attempts": res.attempts}
            except MwiError as exc:
                out = {"attempted": True, "ok": False, "error": exc.one_line()}
        self._first_run_done[spec.package] = out
        return out

    def recover(self, stop: threading.Event | None = None) -> bool:
        """Wait (up to `boot_timeout_s`, `stop` ends it) for the phone to come back after it dropped away.
        A phone this run never reached (a wrong serial, not plugged in) gets the short reconnect window."""
        if self._dev is None:
            return recover(Device(self.serial), boot_timeout_s=min(self.boot_timeout_s, NEVER_SEEN_WAIT_S),
                           stop=stop, announce=False)
        return recover(self.dev, boot_timeout_s=self.boot_timeout_s, stop=stop)

    def capabilities(self, server: Any) -> dict[str, Any]:
        from ...browsers.specs import get_spec, spec_with_profile
        from ..capabilities import probe_android_capabilities

        out: dict[str, Any] = {}
        for package in self.browsers():
            try:
                spec = spec_with_profile(get_spec(package).key, self.dev.profile)
                out[package] = probe_android_capabilities(self.dev, spec, server, self.device_port).to_json()
            except MwiError as exc:
                out[package] = {"error": exc.one_line()}
        return out

    # -- cells ---------------------------------------------------------------------------
    def measure(self, cell: Cell, model: Any, server: Any, budget: Budget, stop: threading.Event) -> Measurement:
        check_stop(stop)
        if cell.is_native:
            return run_native_cell(self, cell, model, budget, stop)
        return run_browser_cell(self, cell, model, server, budget, stop)

    def profile(self, cell: Cell, model: Any, server: Any, budget: Budget, stop: threading.Event) -> ProfileCapture:
        """Native: `benchmark_model --enable_op_profiling=true` as its own process; browsers: a
        separate page load with the runtime's profiler on.  Neither gives a latency."""
        from ..profiling import capture_from_page, profile_gap

        check_stop(stop)
        why = profile_gap(cell, phone=True)
        if why:
            return ProfileCapture(unsupported=why)
        if cell.is_native:
            return run_native_profile(self, cell, model, budget, stop)
        return capture_from_page(cell, run_browser_cell(self, cell, model, server, budget, stop,
                                                        profile_ops=True).record)

    def push_once(self, local: Path, name: str, sha256: str | None = None, *, executable: bool = False) -> str:
        """Push `local` unless this run already did; the remote name carries the content hash
        (known from the model manifest, or hashed once here for the benchmark_model binary)."""
        from ...files import file_sha256

        key = str(local)
        if sha256 is None:
            sha256 = self._hashes.get(key) or file_sha256(local)
            self._hashes[key] = sha256
        h = sha256[:12]
        stem, dot, ext = name.partition(".")
        remote = f"{REMOTE_DIR}/{stem}-{h}{dot}{ext}"
        if self._pushed.get(remote) != h:
            self.dev.shell(["mkdir", "-p", REMOTE_DIR])
            self.dev.push(local, remote, timeout=push_timeout_s(Path(local).stat().st_size))
            if executable:
                self.dev.shell(["chmod", "755", remote])
            self._pushed[remote] = h
        return remote
