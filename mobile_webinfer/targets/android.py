"""A phone as a target: its browsers over `adb reverse`, TFLite's benchmark_model natively.

Per browser cell: cool-down gate, `adb reverse` (a device port of this phone's own) to the
host page server, force-stop the browser, open the harness URL, wait under a watchdog while
the sampler records meminfo of every process of the browser package, framestats, thermal,
battery and CPU; then force-stop.  A renderer that dies mid-cell fails the cell with that
reason.  Per native cell: the same .tflite and benchmark_model (pushed once), parsed with the
benchmark-model parser including delegate coverage.
"""

from __future__ import annotations

import contextlib
import socket
import time
from pathlib import Path

from ..adb.device import Device
from ..errors import BrowserError, DeviceError, InfraError, MeasurementError, MwiError, UsageError
from ..paths import cache_dir
from ..vocab import NATIVE_RUNTIME, RUNTIME_FORMAT, Budget, Cell
from .cooldown import CooldownPolicy, CooldownResult, wait_cool

REMOTE_DIR = "/data/local/tmp/mwi"
NATIVE_BACKENDS = ("cpu", "xnnpack", "gpu", "nnapi")
DEFAULT_NATIVE = ("cpu", "xnnpack", "gpu")
BENCHMARK_MODEL_HINT = ("TFLite's prebuilt benchmark_model for Android (android_aarch64_benchmark_model / "
                        "android_arm_benchmark_model, linked from the TensorFlow Lite 'performance/measurement' "
                        "docs)")


def process_kind(package: str, name: str) -> str:
    """browser / renderer / gpu / other, from an Android process name of a Chromium-based browser."""
    if name == package:
        return "browser"
    if ":sandboxed_process" in name or ":isolated_process" in name:
        return "renderer"
    if ":privileged_process" in name or name.endswith(":gpu_process"):
        return "gpu"
    return "other"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def benchmark_model_path(abi: str | None, explicit: str | None = None) -> Path | None:
    if explicit:
        p = Path(explicit).expanduser()
        return p if p.is_file() else None
    for a in filter(None, (abi, "arm64-v8a")):
        p = cache_dir() / "benchmark_model" / a / "benchmark_model"
        if p.is_file():
            return p
    return None


class AndroidTarget:
    """One phone, addressed by serial."""

    def __init__(self, serial: str, *, cooldown: CooldownPolicy | None = None, sample_interval_s: float = 1.0,
                 benchmark_model: str | None = None, native_backends: tuple[str, ...] = DEFAULT_NATIVE,
                 browsers: list[str] | None = None, brightness: int | None = 128, animations_off: bool = False,
                 first_run: bool = False):
        self.name = serial
        self.serial = serial
        self.cooldown = cooldown or CooldownPolicy()
        self.sample_interval_s = sample_interval_s
        self.benchmark_model = benchmark_model
        self._native_backends = tuple(native_backends)
        self._browsers = browsers
        self.brightness = brightness
        self.animations_off = animations_off
        self.first_run = first_run
        self._first_run_done: dict[str, dict] = {}
        self.device_port = free_port()  # this phone's side of adb reverse; distinct per phone
        self._dev: Device | None = None
        self._fp: dict | None = None
        self._pushed: dict[str, str] = {}
        self._hashes: dict[str, str] = {}
        self._installed: list | None = None
        self._seen_log: set[str] = set()

    # -- identity ------------------------------------------------------------------------
    @property
    def dev(self) -> Device:
        if self._dev is None:
            from ..adb.discovery import find_device
            from ..adb.profiles import load_profiles, match_profile

            info = find_device(self.serial)
            if not info.usable:
                raise DeviceError(f"phone is {info.state}", serial=self.serial)
            dev = Device(self.serial)
            dev.profile = match_profile(dev.getprop(), load_profiles())
            self._dev = dev
        return self._dev

    def describe(self) -> dict:
        from ..adb.device import fingerprint_from_props

        from ..adb.discovery import verify_profile

        restored = self.restore_from_journal()  # a run before this one was killed hard
        props = self.dev.getprop()
        fp = fingerprint_from_props(props, serial=self.serial)
        if restored:
            fp["restored_from_journal"] = restored
        try:
            profile, check = verify_profile(self.dev)
            self.dev.profile = profile
            fp["profile_check"] = check.to_json()  # which of the profile's claims held on this phone
        except MwiError as exc:
            fp["profile_check"] = {"error": exc.one_line()}
        status, temp = self.read_thermal()
        self._fp = {**fp, "target": self.serial, "kind": "android",
                    "profile": getattr(self.dev.profile, "name", None),
                    "browsers": [b.to_json() for b in self.installed()],
                    "thermal_status_start": status, "battery_temp_start_c": temp,
                    "device_port": self.device_port}
        return self._fp

    def installed(self):
        if self._installed is None:
            from ..browsers.android import installed_browsers

            self._installed = installed_browsers(self.dev)
        return self._installed

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
    def _journal(self) -> Path:
        from ..files import safe_name

        return cache_dir() / "restore" / f"{safe_name(self.serial)}.json"

    def _touched_settings(self) -> list[tuple[str, str]]:
        from ..adb.conditioning import ANIMATION_SCALES

        keys = [("global", "stay_on_while_plugged_in")]
        if self.brightness is not None:
            keys += [("system", "screen_brightness_mode"), ("system", "screen_brightness")]
        if self.animations_off:
            keys += [("global", k) for k in ANIMATION_SCALES]
        return keys

    def restore_from_journal(self) -> dict | None:
        """Undo what a run killed hard (SIGKILL, power loss) left changed on this phone: the
        settings it had changed and its reverse mapping.  Returns what was restored."""
        import json

        path = self._journal()
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            path.unlink(missing_ok=True)
            return None
        restored = {}
        for key, value in (data.get("settings") or {}).items():
            ns, _, name = key.partition("/")
            self.dev.put_setting(ns, name, value)
            restored[key] = value
        port = data.get("reverse_device_port")
        if port:
            with contextlib.suppress(MwiError):
                if any(e.remote == f"tcp:{port}" for e in self.dev.list_reverse()):
                    self.dev.session.reverse_remove(self.serial, f"tcp:{port}")
                    restored["reverse"] = f"tcp:{port}"
        path.unlink(missing_ok=True)
        return {"journal_from": data.get("created_at"), "restored": restored}

    @contextlib.contextmanager
    def conditions(self):
        """Screen on, stay-on, fixed brightness (and no animations if asked), restored on exit.  The
        originals are also written to a journal first, so the next run restores them after a hard kill."""
        from ..adb.conditioning import conditioned
        from ..files import atomic_write_json, now_iso

        originals = {f"{ns}/{k}": self.dev.get_setting(ns, k) for ns, k in self._touched_settings()}
        path = self._journal()
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, {"serial": self.serial, "created_at": now_iso(), "settings": originals,
                                 "reverse_device_port": self.device_port})
        try:
            with conditioned(self.dev, brightness=self.brightness, animations_off=self.animations_off):
                yield
        finally:
            path.unlink(missing_ok=True)

    def handle_first_run(self, spec) -> dict:
        """Once per browser: click through its first-run / EULA screens as the profile says (opt-in,
        uiautomator2).  What happened is returned for the manifest; a failure is recorded, and a page
        that then cannot load fails its cell under the watchdog."""
        if spec.package in self._first_run_done:
            return self._first_run_done[spec.package]
        steps = self.dev.profile.first_run_steps(spec.package) if self.dev.profile is not None else ()
        if not self.first_run:
            out = {"attempted": False, "why": "off (mwi sweep --first-run turns it on)", "steps": len(steps)}
        elif not steps:
            out = {"attempted": False, "why": "the device profile lists no first-run steps"}
        else:
            from ..browsers.android import open_url
            from ..browsers.firstrun import dismiss_first_run

            try:
                open_url(self.dev, spec, "http://127.0.0.1/")
                res = dismiss_first_run(self.dev, spec, steps)
                out = {"attempted": True, "ok": True, "clicked": list(res.clicked), "attempts": res.attempts}
            except MwiError as exc:
                out = {"attempted": True, "ok": False, "error": exc.one_line()}
        self._first_run_done[spec.package] = out
        return out

    def recover(self, timeout_s: float = 20.0) -> bool:
        """After the phone dropped away: restart the adb server if it is gone, reconnect a network
        phone (HOST:PORT serials are forgotten by a restarted server), wait until it is `device`."""
        import re

        from ..retry import wait_for

        session = self.dev.session
        try:
            session.ensure_server()
            if re.fullmatch(r"[\w.\-]+:\d+", self.serial) and session.state(self.serial) != "device":
                with contextlib.suppress(MwiError):
                    session.connect(self.serial)
            wait_for(lambda: session.state(self.serial) == "device", timeout=timeout_s, interval=0.5,
                     what=f"{self.serial} to come back")
            return True
        except MwiError:
            return False

    # -- probes used by the gate ---------------------------------------------------------
    def read_thermal(self) -> tuple[int | None, float | None]:
        status = temp = None
        with contextlib.suppress(MwiError):
            status = getattr(self.dev.thermal_status(), "status", None)
        with contextlib.suppress(MwiError):
            temp = getattr(self.dev.battery(), "temperature_c", None)
            prof = self.dev.profile
            if temp is not None and prof is not None and getattr(prof, "battery_temperature_unit", "decicelsius") \
                    != "decicelsius":
                temp = round(temp * 10.0 / prof.battery_temperature_divisor, 2)
        return status, temp

    def gate(self, stop=lambda: False) -> CooldownResult:
        return wait_cool(self.read_thermal, self.cooldown, stop=stop)

    def _gated(self, stop) -> tuple[dict, dict | None]:
        """The cool-down gate before a cell: the context stored with it, and the record body when the
        policy skips a phone that never cooled (the sweep flags `phone-never-cooled` from the context)."""
        gate = self.gate(stop)
        ctx = {"cooldown_s": gate.waited_s, "cooldown": gate.to_json(), "battery_temp_start_c": gate.battery_temp_c,
               "thermal_status_start": gate.thermal_status}
        if not gate.ok and self.cooldown.on_timeout == "skip":
            return ctx, {"status": "skipped", "error": gate.reason, "error_kind": "too-hot", "context": ctx}
        return ctx, None

    # -- browser cells -------------------------------------------------------------------
    def run_browser(self, cell: Cell, manifest, server, budget: Budget, stop=lambda: False) -> dict:
        from ..browsers.android import force_stop, open_url, pids
        from ..browsers.specs import spec_for_package
        from ..probes.android import default_probes
        from ..probes.sampler import Sampler
        from ..web.protocol import PageReportedError, config_for
        from .local import page_result_to_body

        spec = spec_for_package(cell.browser)
        if spec is None:
            raise UsageError(f"unknown browser package {cell.browser!r}")
        prof = self.dev.profile
        if prof is not None:
            with contextlib.suppress(MwiError):
                spec = spec.with_overrides(prof.overrides_for(spec.package))
        config = config_for(manifest, runtime=cell.runtime, backend=cell.backend, threads=cell.threads,
                            warmups=budget.warmups, iterations=budget.iterations,
                            min_iterations=budget.min_iterations, time_budget_ms=budget.time_budget_s * 1000)
        first_run = self.handle_first_run(spec)
        ctx, skipped = self._gated(stop)
        ctx["first_run"] = first_run
        if skipped:
            return skipped
        rows: list[dict] = []
        t0 = time.monotonic()
        ticket = server.open_cell(config)
        result = failure = None
        renderer_pids: set[int] = set()
        crash = None
        try:
            with self.dev.reverse(self.device_port, server.port):
                force_stop(self.dev, spec)
                self._seen_log = set()
                self._seen_log = set(self._killed_lines(spec.package))  # kills before this cell are not ours
                sampler = Sampler(self.dev, default_probes(spec.package), self.sample_interval_s, rows.append,
                                  tags={"key": cell.key})
                t_sampler = time.monotonic()
                with sampler:
                    open_url(self.dev, spec, ticket.url(origin=f"http://127.0.0.1:{self.device_port}"))
                    t_end = time.monotonic() + budget.cell_timeout_s
                    while True:
                        try:
                            result = ticket.wait(timeout=min(2.0, max(0.05, t_end - time.monotonic())))
                            break
                        except PageReportedError as exc:
                            if exc.result is not None or exc.kind != "timeout":
                                failure, result = exc, exc.result
                                break
                            if time.monotonic() >= t_end:
                                failure = exc
                                break
                            if stop():
                                raise KeyboardInterrupt
                        procs = pids(self.dev, spec)
                        renderers = {pid for n, pid in procs.items() if process_kind(spec.package, n) == "renderer"}
                        gone = renderer_pids - renderers
                        renderer_pids |= renderers
                        if gone or (renderer_pids and not procs):
                            # a renderer that ran the page died (OOM kill or crash); a result that was
                            # already on its way still wins
                            with contextlib.suppress(PageReportedError):
                                result = ticket.wait(timeout=1.0)
                                break
                            crash = self._crash_reason(spec.package, procs, sorted(gone))
                            break
                cost = sampler.cost()
                if result is not None and crash is None:
                    # one more meminfo while the page is still open: short cells end between samples
                    rows.append(self._final_meminfo(spec.package, cell.key, t_sampler))
        finally:
            ticket.close()
            with contextlib.suppress(MwiError):
                force_stop(self.dev, spec)
        if crash is None and result is None:
            lmk = self._killed_lines(spec.package)
            if lmk:  # died before mwi saw it run: still a crash, not a silent page
                crash = f"renderer killed before the page reported; low-memory killer: {lmk[-1].strip()[-160:]}"
        if crash:
            body = {"status": "error", "error": crash, "error_kind": "renderer-crashed"}
        elif result is not None:
            body = page_result_to_body(result)
        else:
            kind = getattr(failure, "kind", "timeout")
            body = {"status": "error", "error": f"{kind}: watchdog: {failure}", "error_kind": "watchdog"}
        ctx.update(summarize_samples(spec.package, rows))
        body.update({"memory": memory_from_samples(spec.package, rows), "samples": rows, "sampler_cost": cost,
                     "wall_s": round(time.monotonic() - t0, 3), "browser_version": self._version(spec.package),
                     "context": ctx, "events": ticket.events()})
        return body

    def _final_meminfo(self, package: str, key: str, t0: float) -> dict:
        from ..probes.android import MeminfoProbe

        probe = MeminfoProbe(package)
        t = time.monotonic()
        try:
            data, ok, err = probe.data(probe.sample(self.dev)), True, None
        except MwiError as exc:
            data, ok, err = None, False, exc.one_line()
        row = {"t_s": round(t - t0, 4), "probe": "meminfo", "ok": ok, "cost_s": round(time.monotonic() - t, 4),
               "key": key, "when": "after-result"}
        row.update({"data": data} if ok else {"error": err})
        return row

    def _version(self, package: str) -> str | None:
        for b in self.installed():
            if b.spec.package == package:
                return b.version
        return None

    def _crash_reason(self, package: str, procs: dict, gone: list[int]) -> str:
        why = (f"renderer process gone (pid {', '.join(map(str, gone))})" if procs else "browser process gone")
        kills = self._killed_lines(package)
        if kills:
            why += "; low-memory killer: " + kills[-1].strip()[-160:]
        return why

    def _killed_lines(self, package: str) -> list[str]:
        """logcat lines since this cell began that say a process of `package` was killed."""
        with contextlib.suppress(MwiError):
            log = self.dev.shell(["logcat", "-d", "-b", "main,system,events", "-t", "400"], check=False,
                                 timeout=10).stdout
            return [l for l in log.splitlines() if package in l and ("lowmemorykiller" in l.lower()
                                                                       or "lmkd" in l or "Killing" in l)
                    and l not in self._seen_log]
        return []

    # -- native cells --------------------------------------------------------------------
    def _push_once(self, local: Path, name: str, sha256: str | None = None, *, executable: bool = False) -> str:
        """Push `local` unless this run already did; the remote name carries the content hash
        (known from the model manifest, or hashed once here for the benchmark_model binary)."""
        from ..files import file_sha256

        key = str(local)
        if sha256 is None:
            sha256 = self._hashes.get(key) or file_sha256(local)
            self._hashes[key] = sha256
        h = sha256[:12]
        stem, dot, ext = name.partition(".")
        remote = f"{REMOTE_DIR}/{stem}-{h}{dot}{ext}"
        if self._pushed.get(remote) != h:
            self.dev.shell(["mkdir", "-p", REMOTE_DIR])
            self.dev.push(local, remote)
            if executable:
                self.dev.shell(["chmod", "755", remote])
            self._pushed[remote] = h
        return remote

    def run_native(self, cell: Cell, manifest, budget: Budget, stop=lambda: False):
        from ..parsers import parse_benchmark_model

        if cell.backend not in NATIVE_BACKENDS:
            raise UsageError(f"native backend {cell.backend!r} unknown (choose from {', '.join(NATIVE_BACKENDS)})")
        abi = (self._fp or {}).get("abi")
        binary = benchmark_model_path(abi, self.benchmark_model)
        if binary is None:
            raise MeasurementError(f"no benchmark_model binary for {abi or 'this ABI'}: get {BENCHMARK_MODEL_HINT} "
                                   f"and pass --benchmark-model PATH or put it at "
                                   f"{cache_dir() / 'benchmark_model' / (abi or 'arm64-v8a') / 'benchmark_model'}")
        ctx, skipped = self._gated(stop)
        if skipped:
            return skipped, None
        remote_bin = self._push_once(binary, "benchmark_model", executable=True)
        fmt = RUNTIME_FORMAT[NATIVE_RUNTIME]
        remote_model = self._push_once(manifest.file(fmt), f"{cell.model}.tflite", manifest.sha256(fmt))
        argv = [remote_bin, f"--graph={remote_model}", f"--num_threads={cell.threads}",
                f"--warmup_runs={max(1, budget.warmups)}", f"--num_runs={budget.iterations}",
                f"--min_secs={min(budget.time_budget_s, 1.0):g}", f"--max_secs={budget.time_budget_s:g}",
                f"--use_xnnpack={'true' if cell.backend == 'xnnpack' else 'false'}"]
        if cell.backend == "gpu":
            argv.append("--use_gpu=true")
        if cell.backend == "nnapi":
            argv.append("--use_nnapi=true")
        rows: list[dict] = []
        from ..probes.android import BatteryProbe, CpuProbe, ThermalProbe
        from ..probes.sampler import Sampler

        t0 = time.monotonic()
        with Sampler(self.dev, [ThermalProbe(), BatteryProbe(), CpuProbe()], self.sample_interval_s, rows.append,
                     tags={"key": cell.key}):
            res = self.dev.shell(argv, timeout=budget.cell_timeout_s, check=False)
        text = res.stdout + "\n" + res.stderr
        if res.exit_code != 0:
            raise MeasurementError(f"benchmark_model exited {res.exit_code}: "
                                   f"{' | '.join(text.strip().splitlines()[-2:])[:300]}")
        bm = parse_benchmark_model(text, source=f"{self.serial}: benchmark_model")
        backend = cell.backend
        flags = []
        if cell.backend in ("gpu", "nnapi"):
            d, n = bm.nodes_delegated, bm.nodes_total
            if d is None or n is None:
                flags.append(f"{cell.backend}-coverage-unknown")
            elif d < n:
                backend = f"{cell.backend}-partial"
                flags.append(f"{cell.backend}-partial({d}/{n})")
            elif d == 0:
                backend = "cpu-fallback"
        us = 1e-3
        summary = {"avg": _mul(bm.inference_avg_us, us), "std": _mul(bm.inference_std_us, us), "count": bm.count}
        for k in ("p5", "median", "p95", "min", "max"):
            summary[k] = _mul(getattr(bm.inference, f"{k}_us", None) if bm.inference else None, us)
        ctx.update(summarize_samples(None, rows))
        body = {
            "status": "ok", "error": None, "setup_ms": _mul(bm.init_us, us),
            "first_inference_ms": _mul(bm.first_inference_us, us),
            "warmup_ms": [_mul(bm.warmup_avg_us, us)] if bm.warmup_avg_us is not None else [],
            "latencies_ms": None, "latency_summary_ms": summary,
            "in_effect": {"runtime": NATIVE_RUNTIME, "backend": backend, "threads": cell.threads,
                          "nodes_delegated": bm.nodes_delegated, "nodes_total": bm.nodes_total},
            "memory": {"peak_total_mb": bm.memory_overall_mb, "init_mb": bm.memory_init_mb,
                       "source": "benchmark_model memory footprint delta"},
            "samples": rows, "wall_s": round(time.monotonic() - t0, 3), "context": ctx, "flags_extra": flags,
            "raw_output_tail": "\n".join(text.strip().splitlines()[-12:]),
        }
        return body, None


def _mul(x, k):
    return None if x is None else x * k


def memory_from_samples(package: str, rows: list[dict]) -> dict:
    """Peak PSS per process kind and in total, from meminfo rows (all processes of the package)."""
    peak_total = 0.0
    by_kind: dict[str, float] = {}
    n = 0
    for r in rows:
        if r.get("probe") != "meminfo" or not r.get("ok"):
            continue
        procs = (r.get("data") or {}).get("processes") or {}
        total = 0.0
        kinds: dict[str, float] = {}
        for name, p in procs.items():
            mb = (p.get("pss_kb") or 0) / 1024.0
            total += mb
            k = process_kind(package, name)
            kinds[k] = kinds.get(k, 0.0) + mb
        if procs:
            n += 1
            peak_total = max(peak_total, total)
            for k, v in kinds.items():
                by_kind[k] = max(by_kind.get(k, 0.0), v)
    return {"peak_total_mb": round(peak_total, 3) if n else None,
            "peak_by_type_mb": {k: round(v, 3) for k, v in by_kind.items()}, "samples": n,
            "source": "dumpsys meminfo --package (TOTAL PSS per process)"}


def summarize_samples(package: str | None, rows: list[dict]) -> dict:
    """Thermal max, battery start/max and janky-frame share from the probe rows of one cell."""
    out: dict = {}
    statuses = [r["data"].get("status") for r in rows if r.get("probe") == "thermal" and r.get("ok")]
    statuses = [s for s in statuses if isinstance(s, int)]
    if statuses:
        out["thermal_status_max"] = max(statuses)
    temps = [r["data"].get("temperature_c") for r in rows if r.get("probe") == "battery" and r.get("ok")]
    temps = [t for t in temps if isinstance(t, (int, float))]
    if temps:
        out["battery_temp_max_c"] = max(temps)
        out.setdefault("battery_temp_first_sample_c", temps[0])
    frames = janky = 0
    for r in rows:
        if r.get("probe") == "gfxinfo" and r.get("ok"):
            d = r.get("data") or {}
            fr = d.get("frames") or []  # [intended_vsync_ns, duration_ms, janky]
            frames += len(fr)
            janky += sum(1 for f in fr if f[2])
    if frames:
        out["frames"] = frames
        out["janky_frame_share"] = round(janky / frames, 4)
        out["frames_source"] = "dumpsys gfxinfo framestats (browser UI frames)"
    errs = [r for r in rows if not r.get("ok")]
    if errs:
        out["probe_errors"] = len(errs)
    return out


__all__ = ["AndroidTarget", "process_kind", "memory_from_samples", "summarize_samples", "InfraError",
           "BrowserError"]
