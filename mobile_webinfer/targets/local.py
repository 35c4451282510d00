"""The local target: this computer, headless desktop Chromium and host-native TFLite.

It is the PC half of the study and the default that works on any machine.  Every browser
cell gets a fresh Chromium with a fresh profile; the memory of all its processes is
sampled from /proc while the page runs.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

from ..errors import BrowserError, MwiError
from ..native import host as native_host
from ..vocab import GPU_BACKENDS, NATIVE_BROWSER, NATIVE_RUNTIME, RUNTIME_FORMAT, Budget, Cell
from .procmem import ProcMemSampler

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
    zones = []
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

    def __init__(self, chromium: str | None = None, *, headless: bool = True):
        self.chromium = chromium
        self.headless = headless
        self._chromium_version: str | None = None

    def browsers(self) -> list[str]:
        return [LOCAL_BROWSER]

    def native_backends(self) -> list[str]:
        return ["xnnpack"]

    def describe(self) -> dict:
        """Fingerprint stored in the manifest and with every cell."""
        from ..browsers.local_chromium import find_chromium

        try:
            mem_kb = int(next(l for l in Path("/proc/meminfo").read_text().splitlines()
                              if l.startswith("MemTotal")).split()[1])
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

    # -- browser cells -------------------------------------------------------------------
    def run_browser(self, cell: Cell, manifest, server, budget: Budget) -> dict:
        """Open the harness for `cell` in a fresh headless Chromium; returns the record body."""
        from ..browsers.local_chromium import LocalChromium
        from ..web.protocol import config_for

        config = config_for(manifest, runtime=cell.runtime, backend=cell.backend, threads=cell.threads,
                            warmups=budget.warmups, iterations=budget.iterations,
                            min_iterations=budget.min_iterations,
                            time_budget_ms=budget.time_budget_s * 1000)
        from ..web.protocol import PageReportedError

        gpu = cell.backend in GPU_BACKENDS
        thermal_start = host_thermal()
        t0 = time.monotonic()
        ticket = server.open_cell(config)
        failure: PageReportedError | None = None
        result = None
        try:
            with LocalChromium(self.chromium, webgl=cell.backend == "webgl" or gpu,
                               webgpu=cell.backend == "webgpu", headless=self.headless) as browser:
                self._chromium_version = browser.version
                sampler = ProcMemSampler(browser.browser_pids, interval_s=0.2)
                with sampler:
                    page = browser.new_page()
                    try:
                        page.goto(ticket.url(), wait_until="commit")
                        result = ticket.wait(timeout=budget.cell_timeout_s)
                    except PageReportedError as exc:
                        failure, result = exc, exc.result
                    except Exception as exc:  # playwright: target crashed, browser closed
                        if type(exc).__module__.startswith("playwright"):
                            raise BrowserError(f"Chromium failed during the cell: {str(exc).splitlines()[0]}") from None
                        raise
                memory = sampler.peaks()
                mem_series = sampler.samples
        finally:
            ticket.close()
        if result is not None:
            body = page_result_to_body(result)
        else:
            kind = getattr(failure, "kind", "error")
            body = {"status": "error", "error": f"{kind}: {failure}", "error_kind": kind}
        body.update({
            "memory": memory, "memory_series": mem_series, "wall_s": round(time.monotonic() - t0, 3),
            "browser_version": self._chromium_version,
            "context": {"thermal_start": thermal_start, "thermal_end": host_thermal()},
            "events": ticket.events(),
        })
        return body

    # -- native cells --------------------------------------------------------------------
    def run_native(self, cell: Cell, manifest, budget: Budget):
        """Host TFLite in a child process; returns (record body, outputs)."""
        model_path = manifest.file(RUNTIME_FORMAT[NATIVE_RUNTIME])
        inputs = [(manifest.dir / s["path"], s["dtype"], s["shape"]) for s in manifest.data["sample_inputs"]]
        io = manifest.data.get("io_names", {}).get("tflite", {})
        t0 = time.monotonic()
        thermal_start = host_thermal()
        res = native_host.run_isolated(model_path, inputs, threads=cell.threads, backend=cell.backend,
                                       warmups=budget.warmups, iterations=budget.iterations,
                                       min_iterations=budget.min_iterations, time_budget_s=budget.time_budget_s,
                                       timeout_s=budget.cell_timeout_s, output_names=io.get("outputs"),
                                       input_names=io.get("inputs"))
        body = {
            "status": "ok", "error": None, "setup_ms": res.setup_ms, "first_inference_ms": res.first_inference_ms,
            "warmup_ms": res.warmup_ms, "latencies_ms": res.latencies_ms,
            "in_effect": {"runtime": NATIVE_RUNTIME, "backend": res.backend, "threads": res.threads,
                          "versions": {"tflite": res.runtime}, "software_gpu": False},
            "memory": {"peak_total_mb": res.peak_rss_mb, "rss_before_mb": res.rss_before_mb,
                       "rss_after_load_mb": res.rss_after_load_mb,
                       "source": "VmHWM (peak RSS) of the native child process"},
            "wall_s": round(time.monotonic() - t0, 3),
            "context": {"thermal_start": thermal_start, "thermal_end": host_thermal()},
        }
        return body, res.outputs


def page_result_to_body(result) -> dict:
    """Record body from the page's validated result (ok or error)."""
    raw = result.raw if hasattr(result, "raw") else dict(result)
    status = raw.get("status")
    err = raw.get("error") or None
    body = {
        "status": "ok" if status == "ok" else "error",
        "error": None,
        "setup_ms": raw.get("setup_ms"), "first_inference_ms": raw.get("first_inference_ms"),
        "warmup_ms": raw.get("warmup_ms") or [], "latencies_ms": raw.get("latencies_ms") or [],
        "in_effect": {
            "runtime": raw.get("runtime"), "backend": raw.get("backend"),
            "backend_requested": raw.get("backend_requested"), "threads": raw.get("threads"),
            "threads_requested": raw.get("threads_requested"), "simd": raw.get("simd"),
            "cross_origin_isolated": raw.get("cross_origin_isolated"), "versions": raw.get("versions") or {},
            "user_agent": raw.get("user_agent"), "hardware_concurrency": raw.get("hardware_concurrency"),
            "gpu": raw.get("gpu"), "software_gpu": bool((raw.get("gpu") or {}).get("software")),
        },
        "js_heap_mb": raw.get("js_heap_mb"), "outputs": raw.get("outputs") or [], "frames": raw.get("frames"),
    }
    if status != "ok":
        kind = (err or {}).get("kind", "error") if isinstance(err, dict) else "error"
        msg = (err or {}).get("message", "") if isinstance(err, dict) else str(err)
        body["error"] = f"{kind}: {msg}".strip()
        body["error_kind"] = kind
        if kind in ("unsupported", "unsupported_op", "model_load"):
            body["status"] = "unsupported"
    return body


__all__ = ["LocalTarget", "LOCAL", "LOCAL_BROWSER", "NATIVE_BROWSER", "page_result_to_body", "MwiError"]
