"""Running a study: one target, one model, runs back to back for a duration each, sampled.

    ROOT/runs/<run-id>/manifest.json   {"kind": "thermal" | "battery", "study": {...}, "targets": {...}}
    results[.<serial>].jsonl           one record per run (latencies with their timestamps)
    samples.jsonl                      the study's probe rows (phase run / idle), written as they come

Fail closed: a source the study is about (thermal on a phone, the charge counter in a battery study)
that cannot be read mid-run stops the study with the reason; what was stored stays, and the run's
record says `partial`.  Ctrl-C, an unplugged phone or a crash leave the phone as found: the screen
settings through `target.conditions()`, `dumpsys battery reset` in `finally` and via the restore journal.
"""

from __future__ import annotations

import contextlib
import dataclasses
import platform
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import DeviceError, MwiError, UsageError
from ..files import now_iso
from ..probes.base import Probe, ShellLike
from ..probes.sampler import Sampler
from ..records import CellRecord
from ..store import RunStore
from ..targets.contract import Stopped, Target
from ..vocab import NATIVE_BROWSER, Budget, Cell
from .spec import RunSpec, StudySpec

#: most timed inferences a browser run keeps (the result must fit the page server's 8 MiB body);
#: a run that reaches it ends early and says so (`capped`)
MAX_INFERENCES = 200_000
#: real seconds the idle page is left to settle (the browser's start-up, the page's load: seconds of
#: CPU on a phone) before the idle baseline's sampler starts
IDLE_SETTLE_S = 5.0
LOCAL_NO_SENSORS = ("this computer exposes no thermal zone and no cpufreq: the study records latency over "
                    "time alone")


class StudyStopped(MwiError):
    """A study source failed mid-run (fail closed); the run is kept as partial."""

    exit_code = 3


@dataclass(frozen=True)
class StudyOutcome:
    store: RunStore
    partial: bool
    reason: str | None


Say = Callable[[str], None]


class _Watch:
    """Sampler sink: stores each row and stops the study when a required source fails."""

    def __init__(self, store: RunStore, required: set[str], stop: threading.Event):
        self.store, self.required, self.stop = store, required, stop
        self.reason: str | None = None

    def __call__(self, row: dict[str, Any]) -> None:
        self.store.append_samples([row])
        if row["probe"] in self.required and not row["ok"] and self.reason is None:
            self.reason = f"study source {row['probe']!r} failed mid-study: {row.get('error')}"
            self.stop.set()


def make_target(spec: StudySpec) -> Target:
    if spec.target == "local":
        from ..targets.local import LocalTarget

        return LocalTarget(spec.chromium, native=[r.backend for r in spec.runs if r.native] or None)
    from ..adb.shell import validate_serial
    from ..targets.android import AndroidTarget
    from ..targets.cooldown import CooldownPolicy

    validate_serial(spec.target)
    return AndroidTarget(spec.target, benchmark_model=spec.benchmark_model,
                         browsers=[spec.browser] if spec.browser else None,
                         native_backends=tuple(r.backend for r in spec.runs if r.native) or ("xnnpack",),
                         cooldown=CooldownPolicy(max_battery_c=spec.max_battery_temp_c,
                                                 timeout_s=spec.cooldown_timeout_s, min_battery_pct=0.0))


def _probes(spec: StudySpec, target: Target) -> tuple[ShellLike, list[Probe], set[str], list[str]]:
    """(device, probes, required probe names, notes)."""
    from . import sources

    if spec.target == "local":
        from ..probes.hostmem import HOST

        host = [sources.HostThermalProbe(), sources.HostCpuFreqProbe()]
        found = [p for p in host if p.supported(HOST)]
        notes = [] if found else [LOCAL_NO_SENSORS]
        if spec.kind == "battery":
            energy = sources.HostEnergyProbe()
            if not energy.supported(HOST):
                raise UsageError("mwi battery --target local needs a laptop battery (/sys/class/power_supply/BAT*) "
                                 "or RAPL energy counters (/sys/class/powercap/intel-rapl:*); this computer has "
                                 "neither")
            found.append(energy)
            return HOST, found, {"energy"}, notes
        return HOST, found, {p.name for p in found}, notes
    dev: Any = getattr(target, "dev")  # noqa: B009 - AndroidTarget after describe()
    sign = getattr(dev.profile, "battery_current_sign", 1) if dev.profile is not None else 1
    if spec.kind == "battery":
        return dev, sources.phone_battery_probes(sign), {"battery"}, []
    return dev, sources.phone_thermal_probes(), {"thermal"}, []


def _check_sources(dev: ShellLike, probes: list[Probe], required: set[str]) -> None:
    for p in probes:
        if p.name in required:
            if not p.supported(dev):
                raise DeviceError(f"{dev.serial}: the study's source {p.name!r} is not readable here")
            p.sample(dev)  # one reading now: a missing charge counter fails before anything changes


def _battery_level_check(dev: ShellLike, spec: StudySpec) -> dict[str, Any]:
    from .sources import ChargeProbe

    r = ChargeProbe(require_counter=True).sample(dev)
    if r.level is not None and r.level < spec.min_battery_pct:
        raise DeviceError(f"{dev.serial}: battery at {r.level:.0f}%, under {spec.min_battery_pct:.0f}%: a drain "
                          f"study would not finish (charge the phone first)")
    return r.to_json()


CHARGING_HINT = ("the phone charges although `dumpsys battery unplug` is in force (USB still powers it): "
                 "measure honestly over ADB on Wi-Fi with the USB cable removed (adb tcpip 5555; "
                 "adb connect PHONE_IP:5555), or use a phone profile that can disable charging")


@contextlib.contextmanager
def unplugged(dev: Any, serial: str) -> Iterator[None]:
    """`dumpsys battery unplug` for the study; `dumpsys battery reset` in finally and via the journal."""
    from ..targets.android.journal import mark_battery_unplugged

    mark_battery_unplugged(serial, True)
    dev.shell(["dumpsys", "battery", "unplug"])
    try:
        yield
    finally:
        try:
            dev.shell(["dumpsys", "battery", "reset"], timeout=15.0)
            mark_battery_unplugged(serial, False)
        except MwiError:
            pass  # the phone went away: the journal resets it on the next run


def _cell(spec: StudySpec, target: Target, run: RunSpec) -> Cell:
    browser = NATIVE_BROWSER if run.native else (spec.browser or target.browsers()[0])
    return Cell(spec.target, browser, spec.model, run.runtime, run.backend, run.threads, 0)


def _budget(spec: StudySpec) -> Budget:
    d = spec.real_duration_s
    return Budget(warmups=3, iterations=MAX_INFERENCES, min_iterations=1, time_budget_s=d,
                  cell_timeout_s=d + 900.0, stall_timeout_s=120.0, timestamps=True,
                  precision=0.0, max_warmups=3, native_min_iterations=1, native_min_time_s=0.0)  # fixed time


def _sampler(dev: ShellLike, probes: list[Probe], spec: StudySpec, sink: Callable[[dict[str, Any]], None],
             tags: dict[str, Any]) -> Sampler:
    scale = spec.time_scale
    return Sampler(dev, probes, spec.sample_interval_s, sink, tags=tags, per_probe_interval=False,
                   clock=lambda: time.monotonic() * scale)


def run_study(spec: StudySpec, *, out_root: Path, stop: threading.Event | None = None,
              target: Target | None = None, say: Say | None = None) -> StudyOutcome:
    """Measure every run of `spec`; the run directory is in the outcome (printed last by the CLI)."""
    from ..locks import device_lock

    stop = stop or threading.Event()
    say = say or (lambda _m: None)
    target = target or make_target(spec)
    lock = device_lock(spec.target) if spec.target != "local" else contextlib.nullcontext()
    with lock:
        return _run_locked(spec, target, out_root, stop, say)


def _run_locked(spec: StudySpec, target: Target, out_root: Path, stop: threading.Event, say: Say) -> StudyOutcome:
    from ..models.build import ensure_built
    from ..paths import models_dir
    from ..web.server import PageServer

    fp = target.describe()
    dev, probes, required, notes = _probes(spec, target)
    battery_start = None
    if spec.target != "local":
        _check_sources(dev, probes, required)
        if spec.kind == "battery":
            battery_start = _battery_level_check(dev, spec)
    model = ensure_built(spec.model)
    for n in notes:
        say(n)
    store = RunStore.create(out_root, {
        "kind": spec.kind, "tool": "mobile-webinfer", "tool_version": __version__, "study": spec.to_json(),
        "targets": {target.name: fp}, "host": {"platform": platform.platform(), "python": platform.python_version()},
        "sources": [p.name for p in probes], "required_sources": sorted(required), "notes": notes,
        "battery_start": battery_start}, label=f"{spec.kind}-{spec.target}")
    watch = _Watch(store, required, stop)
    partial_reason: str | None = None
    with contextlib.ExitStack() as held:
        server = held.enter_context(PageServer(models_dir=models_dir()))
        held.enter_context(target.conditions())
        if spec.kind == "battery" and spec.target != "local":
            held.enter_context(unplugged(dev, spec.target))
        if spec.kind == "battery":
            if spec.target != "local":  # gated before the baseline: the baseline and the first run back to back
                _study_gate(target, stop, say)
            page = (f" with the page open (after {IDLE_SETTLE_S:g} s to settle)"
                    if any(not r.native for r in spec.runs) else "")
            say(f"idle baseline: {spec.duration_s:g} s{page} and no inference")
            _idle(spec, target, server, dev, probes, watch, stop)
            partial_reason = watch.reason
        for run in spec.runs:
            if partial_reason or stop.is_set():
                break
            say(f"{run.label}: {spec.duration_s:g} s of back-to-back inference")
            partial_reason = _one_run(spec, target, run, model, server, dev, probes, watch, store, stop, say)
        if partial_reason is None and stop.is_set():
            partial_reason = watch.reason or "interrupted (Ctrl-C / SIGTERM)"
    store.update_manifest(lambda m: m.update(finished_at=now_iso(), partial=partial_reason is not None,
                                             stop_reason=partial_reason))
    return StudyOutcome(store, partial_reason is not None, partial_reason)


def _idle(spec: StudySpec, target: Target, server: Any, dev: ShellLike, probes: list[Probe], watch: _Watch,
          stop: threading.Event) -> None:
    """The baseline: as long as a run, the screen as during the runs and, when the study has a browser
    run, that browser open on an idle page of ours (pages/idle.html), so that a run's energy is the
    inference's, not the browser's or the screen's."""
    browser_runs = [r for r in spec.runs if not r.native]
    with contextlib.ExitStack() as page:
        if browser_runs:
            page.enter_context(_idle_page(spec, target, server, browser_runs[0]))
            if stop.wait(IDLE_SETTLE_S):  # the browser's start and the page's load are no idle drain
                return
        with _sampler(dev, probes, spec, watch, {"key": "idle", "phase": "idle"}):
            stop.wait(spec.real_duration_s)


@contextlib.contextmanager
def _idle_page(spec: StudySpec, target: Target, server: Any, run: RunSpec) -> Iterator[None]:
    browser = _cell(spec, target, run).browser
    if spec.target == "local":
        from ..browsers.local_chromium import LocalChromium

        with LocalChromium(None) as chromium:
            chromium.new_page().goto(f"{server.base_url}/idle.html", wait_until="load")
            yield
        return
    from ..browsers.android import force_stop, open_url
    from ..browsers.specs import get_spec

    dev = getattr(target, "dev")  # noqa: B009 - AndroidTarget's connected phone
    port = getattr(target, "device_port")  # noqa: B009
    bspec = get_spec(browser)
    with dev.reverse(port, server.port):
        force_stop(dev, bspec)
        open_url(dev, bspec, f"http://127.0.0.1:{port}/idle.html")
        try:
            yield
        finally:
            force_stop(dev, bspec)


def _study_gate(target: Target, stop: threading.Event, say: Say) -> None:
    """The phone's cool-down gate, once: what it waits for is said (every 30 s at most), and the
    measurement that follows takes its context instead of gating again (`GateState.pregated`)."""
    from ..targets.android import gate as _gate

    last: list[Any] = [float("-inf"), None]

    def note(text: str | None) -> None:
        now = time.monotonic()
        if text and (text != last[1] and now - last[0] >= 5 or now - last[0] >= 30):
            say(f"cool-down gate waiting: {text}")
            last[:] = [now, text]

    state = getattr(target, "gate_state")  # noqa: B009 - AndroidTarget
    ctx, skipped = _gate.gate(getattr(target, "dev"), getattr(target, "cooldown"), stop,  # noqa: B009
                              on_wait=note)
    if skipped is None:
        state.pregated = ctx


def _one_run(spec: StudySpec, target: Target, run: RunSpec, model: Any, server: Any, dev: ShellLike,
             probes: list[Probe], watch: _Watch, store: RunStore, stop: threading.Event,
             say: Say | None = None) -> str | None:
    """One run: (cool-down on a phone), the sampler, the target's measure; the record stored.  Returns
    why the study must stop (a source failed, Ctrl-C, the phone went away), else None."""
    cell = _cell(spec, target, run)
    started = now_iso()
    if spec.target != "local" and getattr(target, "gate_state").pregated is None:  # noqa: B009 - AndroidTarget
        _study_gate(target, stop, say or (lambda _m: None))
    sampler = _sampler(dev, probes, spec, watch, {"key": cell.key, "phase": "run"})
    t0 = time.monotonic()
    rec: CellRecord | None = None
    reason: str | None = None
    crash: BaseException | None = None
    try:
        with sampler:
            try:
                m = target.measure(cell, model, server, _budget(spec), stop)
                rec = m.record
                store.append_samples([{**r, "phase": "cell"} for r in m.samples])
            except Stopped:
                reason = watch.reason or "interrupted (Ctrl-C / SIGTERM)"
            except (MwiError, KeyboardInterrupt) as exc:
                crash = exc
                reason = exc.one_line() if isinstance(exc, MwiError) else "interrupted (Ctrl-C)"
    except MwiError as exc:  # the sampler's sink (disk full)
        crash, reason = exc, exc.one_line()
    t_end = time.monotonic()
    if watch.reason:
        reason = watch.reason
    if rec is None:
        rec = CellRecord.failed(f"partial: {reason}", "study-stopped")
    stopped_early = bool(rec.extra.get("stopped")) or reason is not None
    study = {"kind": spec.kind, "time_scale": spec.time_scale, "run": run.label,
             "offset_s": _offset(rec, t0, t_end, spec.time_scale), "partial": stopped_early,
             "stop_reason": reason, "capped": bool(rec.latencies_ms and len(rec.latencies_ms) >= MAX_INFERENCES)}
    rec = dataclasses.replace(rec, cell=cell, key=cell.key, started_at=started, finished_at=now_iso(),
                              extra={**rec.extra, "study": study})
    store.append_result(rec.to_json())
    if isinstance(crash, KeyboardInterrupt):
        raise crash
    if crash is not None and not isinstance(crash, MwiError):
        raise crash
    return reason


def _offset(rec: CellRecord, t0: float, t_end: float, scale: float) -> float:
    """Study seconds from the sampler's start to the first timed latency, end-aligned: the timed loop
    ends just before measure() returns (page post / child exit are short against a study)."""
    chunks = rec.extra.get("chunks")
    if isinstance(chunks, (list, tuple)) and chunks:
        last = chunks[-1]
        span_ms = float(last["t_ms"]) + float(last.get("wall_ms") or 0.0)
    elif rec.latency_t_ms and rec.latencies_ms:
        span_ms = rec.latency_t_ms[-1] + rec.latencies_ms[-1]
    else:
        return 0.0
    return round(max(0.0, (t_end - t0) - span_ms / 1000) * scale, 3)
