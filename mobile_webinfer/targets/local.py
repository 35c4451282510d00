"""The local target: this computer, headless desktop Chromium and host-native TFLite.

It is the PC half of the study and the default that works on any machine.  Every browser
cell gets a fresh Chromium with a fresh profile; the memory of all its processes is
sampled from /proc while the page runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import platform
import threading
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from ..errors import BrowserError, MwiError
from ..native import host as native_host
from ..native import ort_host
from ..native.warm import MODE as WARM_MODE
from ..native.warm import WarmNative
from ..probes.hostmem import HOST
from ..records import CellRecord, Context, Pairing
from ..stats import stop_rule
from ..vocab import GPU_BACKENDS, ORT_NATIVE_RUNTIME, RUNTIME_FORMAT, Budget, Cell, PageOptions, QoeOptions
from .contract import Measurement, ProfileCapture, check_stop, page_config, wait_for_page
from .pairing import BLOCK_WARMUPS, PairPlan, block_cap, paired, plan_pairing

MEMORY_INTERVAL_S = 0.2  # host /proc reads are cheap: sample Chromium's memory five times a second

LOCAL = "local"
LOCAL_BROWSER = "chromium"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "processor\t: aarch64")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def host_thermal() -> dict:
    """Host thermal zones where the kernel exposes them (often none in a VM)."""
    zones: list[dict[str, Any]] = []
    base = Path("/sys/class/thermal")
    for z in sorted(base.glob("thermal_zone*")) if base.exists() else []:
        try:
            kind = (z / "type").read_text().strip()
            temp = int((z / "temp").read_text().strip()) / 1000.0
        except (OSError, ValueError):
            continue
        zones.append({"name": kind, "value_c": temp})
    return {"source": "sysfs" if zones else "unavailable", "temperatures": zones,
            "max_c": max((z["value_c"] for z in zones), default=None)}


class LocalTarget:
    """This computer.  `chromium` is a user-given binary (else Debian's is found)."""

    name = LOCAL

    def __init__(self, chromium: str | None = None, *, headless: bool = True, native: list[str] | None = None,
                 page: PageOptions | None = None, qoe: QoeOptions | None = None):
        self.chromium = chromium
        self.page = page or PageOptions()
        self.qoe = qoe or QoeOptions()
        self.headless = headless
        self._native = list(native) if native else ["xnnpack"]
        self._chromium_version: str | None = None

    def browsers(self) -> list[str]:
        return [LOCAL_BROWSER]

    def native_backends(self) -> list[str]:
        return list(self._native)

    def conditions(self) -> AbstractContextManager[None]:
        """Nothing to hold steady on this computer (no screen or battery to condition)."""
        return contextlib.nullcontext()

    def recover(self, stop: threading.Event | None = None) -> bool:
        """This computer does not drop away: there is nothing to recover."""
        return False

    def describe(self) -> dict[str, Any]:
        """Fingerprint stored in the manifest and with every cell."""
        from ..browsers.local_chromium import find_chromium

        try:
            mem_kb = int(next(line for line in Path("/proc/meminfo").read_text().splitlines()
                              if line.startswith("MemTotal")).split()[1])
        except (OSError, StopIteration, ValueError):
            mem_kb = 0
        exe = find_chromium(self.chromium)
        return {
            "target": LOCAL, "kind": "local", "hostname": platform.node(), "os": platform.platform(),
            "machine": platform.machine(), "cpu_model": _cpu_model(), "cpu_count": os.cpu_count(),
            "mem_total_mb": round(mem_kb / 1024), "python": platform.python_version(),
            "chromium": str(exe), "native_runtime": native_host.runtime_version(),
            "thermal": host_thermal(),
        }

    def capabilities(self, server: Any) -> dict[str, Any]:
        from .capabilities import probe_local_capabilities

        try:
            return {LOCAL_BROWSER: probe_local_capabilities(self.chromium, server, headless=self.headless).to_json()}
        except MwiError as exc:
            return {LOCAL_BROWSER: {"error": exc.one_line()}}

    def measure(self, cell: Cell, model: Any, server: Any, budget: Budget, stop: threading.Event) -> Measurement:
        check_stop(stop)
        if cell.is_native:
            return self._native_cell(cell, model, budget)
        return self._browser_cell(cell, model, server, budget, stop)

    # -- browser cells -------------------------------------------------------------------
    def profile(self, cell: Cell, model: Any, server: Any, budget: Budget, stop: threading.Event) -> ProfileCapture:
        """A separate page load with the runtime's per-operator profiler on, or ONNX Runtime's
        profiler in a fresh process (ort-native); its latencies are not kept (profiling slows
        every kernel down)."""
        import tempfile

        from .profiling import PROFILE_RUNS, PROFILE_WARMUPS, capture_from_page, profile_gap

        check_stop(stop)
        why = profile_gap(cell, phone=False)
        if why:
            return ProfileCapture(unsupported=why)
        if not cell.is_native:
            m = self._browser_cell(cell, model, server, budget, stop, profile_ops=True)
            return capture_from_page(cell, m.record)
        inputs = [(model.dir / s["path"], s["dtype"], s["shape"]) for s in model.data["sample_inputs"]]
        io = model.data.get("io_names", {}).get("onnx", {})
        with tempfile.TemporaryDirectory(prefix="mwi-ort-profile-") as tmp:
            trace = ort_host.profile_isolated(model.file("onnx"), inputs, threads=cell.threads, out_dir=Path(tmp),
                                              warmups=PROFILE_WARMUPS, iterations=PROFILE_RUNS,
                                              timeout_s=budget.cell_timeout_s, input_names=io.get("inputs"))
            return ProfileCapture(source="onnxruntime", raw=trace.read_text(encoding="utf-8"),
                                  skip_runs=PROFILE_WARMUPS)

    def _browser_cell(self, cell: Cell, manifest: Any, server: Any, budget: Budget,
                      stop: threading.Event, profile_ops: bool = False) -> Measurement:
        """Open the harness for `cell` in a fresh headless Chromium, sampling the memory of
        every Chromium process; the watchdog and the stop event end a page that never reports."""
        from ..browsers.local_chromium import LocalChromium
        from ..probes.hostmem import ProcessTreeMemoryProbe, memory_peaks
        from ..probes.sampler import Sampler
        from ..web.protocol import PageReportedError
        from .qoe import CdpTapper, TapDriver, qoe_page_config, with_taps

        config = (qoe_page_config(manifest, cell, budget, self.page, self.qoe) if cell.is_qoe
                  else page_config(manifest, cell, budget, self.page))
        taps: TapDriver | None = None
        if profile_ops:
            config = dataclasses.replace(config, profile_ops=True)
        pair = plan_pairing(cell, budget, self._native) if not profile_ops else None
        if pair is not None and pair.round_s > 0:  # issue 21: rounds against a warm native child
            config = dataclasses.replace(config, pair_round_ms=pair.round_s * 1000, pair_block_max=block_cap(budget),
                                         pair_block_warmups=BLOCK_WARMUPS)
        pairing: Pairing | None = None
        native_outputs = None
        gpu = cell.backend in GPU_BACKENDS
        thermal_start = host_thermal()
        t0 = time.monotonic()
        ticket = server.open_cell(config)
        failure: PageReportedError | None = None
        result = None
        rows: list[dict[str, Any]] = []
        try:
            with LocalChromium(self.chromium, webgl=cell.backend == "webgl" or gpu,
                               webgpu=cell.backend == "webgpu", headless=self.headless) as browser:
                self._chromium_version = browser.version
                probe = ProcessTreeMemoryProbe(browser.browser_pids)
                with Sampler(HOST, [probe], MEMORY_INTERVAL_S, rows.append, per_probe_interval=False) as sampler:
                    page = browser.new_page()
                    try:
                        page.goto(ticket.url(), wait_until="commit")
                        if cell.is_qoe:  # QoE: tap the page's pad through CDP while its window runs
                            taps = TapDriver(ticket, CdpTapper(page), self.qoe.tap_interval_s)
                            result = wait_for_page(ticket, budget, stop, between=taps,
                                                   step_s=self.qoe.tap_interval_s)
                        else:
                            if pair is not None and pair.round_s > 0:
                                pairing, native_outputs = paired(
                                    ticket, pair, budget, stop, lambda t: self._warm_native(manifest, t, pair, budget),
                                    mode=WARM_MODE, threads=cell.threads, prestart=True)
                            result = wait_for_page(ticket, budget, stop)
                    except PageReportedError as exc:
                        failure, result = exc, exc.result
                    except Exception as exc:  # playwright: target crashed, browser closed
                        if type(exc).__module__.startswith("playwright"):
                            raise BrowserError(f"Chromium failed during the cell: {str(exc).splitlines()[0]}") from None
                        raise
                cost = sampler.cost()
                flags_check = _flags_check(browser)  # after the page reported: never inside its timing
        finally:
            ticket.close()
        if result is not None:
            rec = CellRecord.from_page_result(result.raw)
        else:
            kind = getattr(failure, "kind", "error")
            rec = CellRecord.failed(f"{kind}: {failure}", kind)
        if taps is not None:
            rec = with_taps(rec, taps)
        rec = dataclasses.replace(rec, extra={**rec.extra, "browser_flags": flags_check})
        if flags_check.get("missing"):
            rec = rec.with_flags(f"flags-not-applied({','.join(flags_check['missing'])})")
        if pair is not None and pairing is None and not cell.is_qoe:
            pairing = Pairing(unpaired_reason=pair.unpaired_reason or "the page failed before its rounds")
        rec = dataclasses.replace(rec, pairing=pairing)
        rec = dataclasses.replace(
            rec, memory=memory_peaks(rows, MEMORY_INTERVAL_S), wall_s=round(time.monotonic() - t0, 3),
            browser_version=self._chromium_version, sampler_cost=cost,
            context=Context(extra={"thermal_start": thermal_start, "thermal_end": host_thermal()}),
            events=tuple(ticket.events()))
        return Measurement(rec, samples=rows, reference_outputs=native_outputs)

    def _warm_native(self, manifest: Any, threads: int, pair: PairPlan, budget: Budget) -> WarmNative:
        """The paired cell's native reference: host LiteRT in a warm child, loaded and warmed up."""
        inputs = [(manifest.dir / s["path"], s["dtype"], s["shape"]) for s in manifest.data["sample_inputs"]]
        io = manifest.data.get("io_names", {}).get("tflite", {})
        return WarmNative(manifest.file("tflite"), inputs, threads=threads, backend=pair.native_backend,
                          warmups=budget.warmups, max_warmups=budget.max_warmups, warmup_window=budget.warmup_window,
                          warmup_drift=budget.warmup_drift, warmup_time_s=budget.time_budget_s,
                          timeout_s=max(60.0, budget.stall_timeout_s), output_names=io.get("outputs"),
                          input_names=io.get("inputs")).start()

    # -- native cells --------------------------------------------------------------------
    def _native_cell(self, cell: Cell, manifest: Any, budget: Budget) -> Measurement:
        """Host LiteRT (tflite-native) or ONNX Runtime (ort-native) in a child process."""
        fmt = RUNTIME_FORMAT[cell.runtime]
        model_path = manifest.file(fmt)
        inputs = [(manifest.dir / s["path"], s["dtype"], s["shape"]) for s in manifest.data["sample_inputs"]]
        io = manifest.data.get("io_names", {}).get(fmt, {})
        t0 = time.monotonic()
        thermal_start = host_thermal()
        runner = ort_host.run_isolated if cell.runtime == ORT_NATIVE_RUNTIME else native_host.run_isolated
        res = runner(model_path, inputs, threads=cell.threads, backend=cell.backend,
                                       warmups=budget.warmups, iterations=budget.iterations,
                                       min_iterations=stop_rule(budget, native=True).min_iterations,
                                       time_budget_s=budget.time_budget_s,
                                       timeout_s=budget.cell_timeout_s, output_names=io.get("outputs"),
                                       input_names=io.get("inputs"), record_timestamps=budget.timestamps,
                                       stopping=native_host.stopping_knobs(budget))
        rec = dataclasses.replace(
            CellRecord.from_host_native(res, runtime=cell.runtime), wall_s=round(time.monotonic() - t0, 3),
            context=Context(extra={"thermal_start": thermal_start, "thermal_end": host_thermal()}))
        return Measurement(rec, outputs=list(res.outputs))


__all__ = ["LOCAL", "LOCAL_BROWSER", "LocalTarget", "host_thermal"]


def _flags_check(browser: Any) -> dict[str, Any]:
    """Whether the browser took the flags mwi asked for, read back from its own chrome://version:
    `{"asked": n, "missing": [...]}`, or `{"error": ...}` when the page could not be read."""
    from ..browsers.local_chromium import flags_not_applied

    try:
        line = browser.command_line()
    except Exception as exc:  # noqa: BLE001 - playwright errors: the check is unreadable, the cell stands
        return {"asked": len(browser.flags), "error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__}
    return {"asked": len(browser.flags), "missing": flags_not_applied(browser.flags, line)}
