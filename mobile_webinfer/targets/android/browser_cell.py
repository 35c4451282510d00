"""One browser cell on a phone.

Cool-down gate, `adb reverse` (a device port of this phone's own) to the host page server,
force-stop the browser, open the harness URL, wait under a watchdog while the sampler records
meminfo of every process of the browser package, framestats, thermal, battery and CPU; then
force-stop.  A renderer that dies mid-cell fails the cell with that reason.
"""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ...errors import MeasurementError, MwiError, TransientDeviceError, UsageError, device_gone
from ...parsers.process_kills import (
    BENIGN,
    CRASH,
    LOW_MEMORY,
    UNEXPLAINED,
    DeathVerdict,
    death_verdict,
    parse_process_kills,
)
from ...records import CellRecord, Pairing
from ...vocab import Budget, Cell
from ..contract import STALLED, Measurement, page_config, wait_for_page
from ..pairing import BLOCK_WARMUPS, block_cap, paired, plan_pairing
from .gate import gate
from .pairing_native import MODE as CHUNKS_MODE
from .pairing_native import start_chunks
from .samples import memory_from_samples, process_kind, summarize_samples
from .ui import UI_BLOCKED, UiBlocked, check_not_first_run, dismiss_dialogs, ensure_screen_ready

if TYPE_CHECKING:
    from .target import AndroidTarget


def run_browser_cell(t: AndroidTarget, cell: Cell, manifest: Any, server: Any, budget: Budget,
                     stop: threading.Event, *, profile_ops: bool = False) -> Measurement:
    from ...browsers.android import force_stop, open_url, pids
    from ...browsers.specs import spec_for_package, spec_with_profile
    from ...probes.android import default_probes
    from ...probes.sampler import Sampler
    from ...web.protocol import PageReportedError

    dev = t.dev
    known = spec_for_package(cell.browser)
    if known is None:
        raise UsageError(f"unknown browser package {cell.browser!r}")
    spec = spec_with_profile(known.key, dev.profile)  # the phone profile's overrides (validated at load)
    from ..qoe import AdbTapper, TapDriver, gfxinfo_window, qoe_page_config, with_taps

    config = (qoe_page_config(manifest, cell, budget, t.page, t.qoe) if cell.is_qoe
              else page_config(manifest, cell, budget, t.page))
    if profile_ops:  # mwi sweep --profile-ops: a separate profiled page load (its latencies are not kept)
        config = dataclasses.replace(config, profile_ops=True)
    pair = plan_pairing(cell, budget, t.native_backends()) if not profile_ops else None
    if pair is not None and pair.round_s > 0:  # issue 21: rounds against benchmark_model chunks
        config = dataclasses.replace(config, pair_round_ms=pair.round_s * 1000, pair_block_max=block_cap(budget),
                                     pair_block_warmups=BLOCK_WARMUPS)
    pairing: Pairing | None = None
    taps: TapDriver | None = None
    first_run = t.handle_first_run(spec)
    ctx, skipped = gate(dev, t.cooldown, stop, t.gate_state)
    ctx = dataclasses.replace(ctx, extra={**ctx.extra, "first_run": first_run})
    if skipped:
        return Measurement(dataclasses.replace(skipped, context=ctx))
    rows: list[dict[str, Any]] = []
    t0 = time.monotonic()
    ticket = server.open_cell(config)
    result: Any = None
    failure: PageReportedError | None = None
    renderer_pids: set[int] = set()
    crash = None
    cost: Mapping[str, Any] | None = None
    seen_log: set[str] = set()
    unreachable: str | None = None
    unreachable_kind = REVERSE_UNAVAILABLE
    blocked: str | None = None
    ui_state: dict[str, Any] = {"done": []}
    url = ticket.url(origin=f"http://127.0.0.1:{t.device_port}")
    try:
        with reverse_mapping(dev, t.device_port, server.port):
            verify_reverse(dev, t.device_port, server.port)
            force_stop(dev, spec)
            ui_state = ensure_screen_ready(dev)
            seen_log = set(new_log(dev, set()).splitlines())  # kills before this cell are not ours
            sampler = Sampler(dev, default_probes(spec.package), t.sample_interval_s, rows.append,
                              tags={"key": cell.key})
            t_sampler = time.monotonic()
            with sampler:
                open_url(dev, spec, url)
                opened = [time.monotonic(), 0, 0]  # when the URL was opened, re-opened?, dialogs checked?
                checked = [time.monotonic()]  # when the reverse mapping was last looked at mid-cell

                def watch() -> Any:
                    """Between two waits: did the page reach the host at all?  Did a renderer that ran
                    the page die?"""
                    nonlocal renderer_pids
                    if not ticket.reached and time.monotonic() - opened[0] > DIALOG_CHECK_S and not opened[2]:
                        # the page has not asked for its config yet: a dialog over the browser?
                        opened[2] = 1
                        win = dismiss_dialogs(dev, ui_state["done"])
                        if ui_state["done"] and win.focus_package == spec.package:
                            open_url(dev, spec, url)
                    if not ticket.reached and time.monotonic() - opened[0] > REACH_TIMEOUT_S:
                        check_not_first_run(dev, spec.package)
                        if opened[1]:  # re-created once already; verify_reverse above says it is listed:
                            # the reverse itself did not fail, the page never asked for its config
                            verify_reverse(dev, t.device_port, server.port)
                            procs = pids(dev, spec)
                            seen = (f"the browser runs ({len(procs)} processes) but never loaded it" if procs
                                    else "the browser is not running: it never opened the URL")
                            raise PageNeverOpened(
                                f"{PAGE_NEVER_OPENED}: the page never asked the host's page server for its config "
                                f"within {REACH_TIMEOUT_S:.0f} s, twice, although adb reverse tcp:{t.device_port} -> "
                                f"tcp:{server.port} is listed; {seen}")
                        create_reverse(dev, t.device_port, server.port)
                        verify_reverse(dev, t.device_port, server.port)
                        open_url(dev, spec, url)
                        opened[:] = [time.monotonic(), 1, 0]
                    if ticket.reached:
                        check_reverse_kept(dev, ticket, t.device_port, server.port, checked)
                    procs = pids(dev, spec)
                    renderers = {pid for n, pid in procs.items() if process_kind(spec.package, n) == "renderer"}
                    gone = renderer_pids - renderers
                    renderer_pids |= renderers
                    if not (gone or (renderer_pids and not procs)):
                        return None
                    # a renderer died (OOM kill, crash, or a spare let go); a result already on its
                    # way still wins
                    with contextlib.suppress(PageReportedError):
                        return ticket.wait(timeout=1.0)
                    verdict = death_verdict(parse_process_kills(new_log(dev, seen_log)), spec.package,
                                            pids=gone or None)
                    if procs and renderers and verdict.cause in (BENIGN, UNEXPLAINED):
                        # a spare renderer let go, or a renderer swapped on navigation (no kill line):
                        # the page's renderer lives on; if it was the page's, the stall watchdog sees it
                        renderer_pids -= gone
                        return None
                    return _Crashed(crash_reason(procs, sorted(gone), verdict))

                try:
                    if cell.is_qoe:  # QoE: `input tap` on the page's pad while its window runs
                        taps = TapDriver(ticket, AdbTapper(dev), t.qoe.tap_interval_s, then=watch)
                        out = wait_for_page(ticket, budget, stop, between=taps, step_s=t.qoe.tap_interval_s)
                    else:
                        if pair is not None and pair.round_s > 0:
                            pairing, _ = paired(ticket, pair, budget, stop,
                                                lambda th: start_chunks(t, cell, manifest, pair.native_backend, th,
                                                                        budget.stall_timeout_s),
                                                mode=CHUNKS_MODE, threads=cell.threads)
                        out = wait_for_page(ticket, budget, stop, between=watch)
                except PageReportedError as exc:
                    failure, result = exc, exc.result
                else:
                    if isinstance(out, _Crashed):
                        crash = out.why
                    else:
                        result = out
            cost = sampler.cost()
            if result is not None and crash is None:
                # one more meminfo while the page is still open: short cells end between samples
                rows.append(final_meminfo(dev, spec.package, t_sampler))
    except ReverseUnavailable as exc:
        unreachable, unreachable_kind = str(exc), exc.kind
    except UiBlocked as exc:
        blocked = str(exc)
    finally:
        ticket.close()
        with contextlib.suppress(MwiError):
            force_stop(dev, spec)
    ctx = dataclasses.replace(ctx, extra={**ctx.extra, "ui": ui_state})
    if blocked is not None or unreachable is not None:
        rec = (CellRecord.failed(blocked, UI_BLOCKED) if blocked is not None
               else CellRecord.failed(unreachable or "", unreachable_kind))
        return Measurement(dataclasses.replace(rec, wall_s=round(time.monotonic() - t0, 3), context=ctx,
                                               events=tuple(ticket.events())), samples=rows)
    if crash is None and result is None:
        verdict = death_verdict(parse_process_kills(new_log(dev, seen_log)), spec.package)
        if verdict.cause in (LOW_MEMORY, CRASH):  # died before mwi saw it run: a crash, not a silent page
            crash = f"renderer killed before the page reported; {_why(verdict)}"
    if crash:
        rec = CellRecord.failed(crash, "renderer-crashed")
    elif result is not None:
        rec = CellRecord.from_page_result(result.raw)
    else:
        kind = getattr(failure, "kind", "timeout")
        rec = CellRecord.failed(f"{kind}: watchdog: {failure}", STALLED if kind == STALLED else "watchdog")
    if taps is not None:  # the browser's gfxinfo frames from the window's opening on
        opened_s = taps.window_opened - t_sampler if taps.window_opened is not None else None
        rec = with_taps(rec, taps, gfxinfo_window(rows, opened_s))
    if pair is not None and pairing is None and not cell.is_qoe:
        pairing = Pairing(unpaired_reason=pair.unpaired_reason or "the page failed before its rounds")
    rec = dataclasses.replace(rec, memory=memory_from_samples(spec.package, rows), sampler_cost=cost, pairing=pairing,
                              wall_s=round(time.monotonic() - t0, 3), browser_version=t.browser_version(spec.package),
                              context=summarize_samples(rows, ctx), events=tuple(ticket.events()))
    return Measurement(rec, samples=rows)


def final_meminfo(dev: Any, package: str, t0: float) -> dict[str, Any]:
    from ...probes.android import MeminfoProbe

    probe = MeminfoProbe(package)
    t = time.monotonic()
    row: dict[str, Any] = {"t_s": round(t - t0, 4), "probe": "meminfo", "when": "after-result"}
    try:
        row.update(data=probe.data(probe.sample(dev)), ok=True)
    except MwiError as exc:
        row.update(ok=False, error=exc.one_line())
    row["cost_s"] = round(time.monotonic() - t, 4)
    return row


REVERSE_UNAVAILABLE = "reverse-unavailable"
DIALOG_CHECK_S = 8.0  # the page has not fetched its config this long after the URL opened: look at the screen
REACH_TIMEOUT_S = 30.0  # from opening the URL to the page fetching its config (a cold browser start included)


class ReverseUnavailable(MeasurementError):
    """The phone does not reach the host through `adb reverse` (the mapping is missing or dead)."""

    kind = REVERSE_UNAVAILABLE


PAGE_NEVER_OPENED = "page-never-opened"


class PageNeverOpened(ReverseUnavailable):
    """The mapping is in place but the page never asked for its config: the browser did not open it
    (not the reverse's fault, so not `reverse-unavailable`)."""

    kind = PAGE_NEVER_OPENED


def create_reverse(dev: Any, device_port: int, host_port: int) -> None:
    """`adb reverse tcp:D tcp:H`; refused by the phone (tcp:D bound by another process there) is
    `reverse-unavailable` with adbd's words, not a generic infrastructure error; a phone that is gone
    still raises as gone."""
    try:
        dev.session.reverse(dev.serial, f"tcp:{device_port}", f"tcp:{host_port}")
    except MwiError as exc:
        if device_gone(exc):
            raise
        raise _refused(exc, device_port, host_port) from exc


def _refused(exc: MwiError, device_port: int, host_port: int) -> ReverseUnavailable:
    """A refused `adb reverse` (the phone is there): `reverse-unavailable` with adbd's words."""
    return ReverseUnavailable(f"{REVERSE_UNAVAILABLE}: the phone refused adb reverse tcp:{device_port} -> "
                              f"tcp:{host_port} ({exc.one_line()}); is another process on the phone listening "
                              f"on tcp:{device_port}?")


@contextlib.contextmanager
def reverse_mapping(dev: Any, device_port: int, host_port: int) -> Iterator[None]:
    """`Device.reverse` (the previous mapping restored on exit) with a refusal classified."""
    stack = contextlib.ExitStack()
    try:
        stack.enter_context(dev.reverse(device_port, host_port))
    except MwiError as exc:
        if device_gone(exc):
            raise
        raise _refused(exc, device_port, host_port) from exc
    with stack:
        yield


REVERSE_PROBE_S = 5.0


def reverse_reaches_host(dev: Any, device_port: int) -> str | None:
    """None when the phone's tcp:D reaches the host's page server (an HTTP answer came back through
    `adb forward` -> the phone's tcp:D -> `adb reverse` -> the host), else why not."""
    try:
        with dev.forward(None, f"tcp:{device_port}") as local, \
                socket.create_connection(("127.0.0.1", local), timeout=REVERSE_PROBE_S) as sock:
            sock.settimeout(REVERSE_PROBE_S)
            sock.sendall(b"HEAD /mwi-reverse-probe HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            head = sock.recv(16)
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"
    except MwiError as exc:
        if device_gone(exc):
            raise
        return exc.one_line()
    return None if head.startswith(b"HTTP/") else f"no HTTP answer (got {head!r})"


def verify_reverse(dev: Any, device_port: int, host_port: int) -> None:
    """`adb reverse` verified, not assumed: the mapping must be listed, and a request from the
    phone's side must reach the page server (a listed but dead mapping is caught in seconds, not
    after the page's reach timeout); re-created once if not."""
    want = (f"tcp:{device_port}", f"tcp:{host_port}")
    dead = None
    for attempt in range(2):
        if any((e.remote, e.local) == want for e in dev.list_reverse()):
            dead = reverse_reaches_host(dev, device_port)
            if dead is None:
                return
        if attempt == 0:
            if dead is not None:
                with contextlib.suppress(MwiError):
                    dev.session.reverse_remove(dev.serial, want[0])
            create_reverse(dev, device_port, host_port)
    if dead is not None:
        raise ReverseUnavailable(f"{REVERSE_UNAVAILABLE}: adb reverse {want[0]} -> {want[1]} is listed but the phone "
                                 f"does not reach the host through it ({dead}), also after it was created again")
    raise ReverseUnavailable(f"{REVERSE_UNAVAILABLE}: adb reverse {want[0]} -> {want[1]} is not listed by "
                             f"`adb reverse --list` even after it was created again")


#: a page silent this long mid-cell: is its reverse mapping still there?  (an adb server restart
#: drops it; a USB phone comes back on its own, the mapping does not)
REVERSE_SILENCE_S = 5.0


def check_reverse_kept(dev: Any, ticket: Any, device_port: int, host_port: int, checked: list[float]) -> None:
    """Mid-cell, once the page has been silent REVERSE_SILENCE_S (and at most that often): a mapping
    that vanished means the page's posts go nowhere, and the cell would end `stalled` at the stall
    bound; say the connection dropped instead, so the runner recovers and runs the cell again."""
    if ticket.last_event_age_s < REVERSE_SILENCE_S or time.monotonic() - checked[0] < REVERSE_SILENCE_S:
        return
    checked[0] = time.monotonic()
    want = (f"tcp:{device_port}", f"tcp:{host_port}")
    if any((e.remote, e.local) == want for e in dev.list_reverse()):
        return
    raise TransientDeviceError(f"adb reverse {want[0]} -> {want[1]} vanished mid-cell (the adb server restarted?): "
                               f"the page's results cannot reach the host; the cell is run again", serial=dev.serial,
                               command="reverse --list")


class _Crashed:
    """What the renderer watch returns when the page's renderer died."""

    def __init__(self, why: str):
        self.why = why


def _why(v: DeathVerdict) -> str:
    ev = (v.evidence or "").strip()[-160:]
    if v.cause == LOW_MEMORY:
        return f"low-memory killer: {ev}"
    if v.cause == CRASH:
        return f"crashed: {ev}"
    if v.cause == BENIGN:
        return f"let go by the system although the page needed it: {ev}"
    return "no kill line in logcat (it crashed on its own, or the log rolled over)"


def crash_reason(procs: Mapping[str, int], gone: list[int], verdict: DeathVerdict) -> str:
    why = (f"renderer process gone (pid {', '.join(map(str, gone))})" if procs else "browser process gone")
    return f"{why}; {_why(verdict)}"


def new_log(dev: Any, seen: set[str]) -> str:
    """The last logcat lines (main, system, events) that are not in `seen`."""
    with contextlib.suppress(MwiError):
        log = dev.shell(["logcat", "-d", "-b", "main,system,events", "-t", "400"], check=False, timeout=10).stdout
        return "\n".join(line for line in log.splitlines() if line not in seen)
    return ""
