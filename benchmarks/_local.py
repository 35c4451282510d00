"""Local browser cells for the overhead benchmarks: the harness page exactly as `mwi sweep` runs
it on this computer (`LocalTarget.measure`), and the bare page (pages/bare.html) on the same page
server, config, model file and Chromium flags.
"""

from __future__ import annotations

import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from mobile_webinfer.vocab import GPU_BACKENDS, Budget, Cell, PageOptions

STOP = threading.Event()


@dataclass(frozen=True)
class LoadResult:
    """One page load: its timed latencies and what it said ran."""

    latencies_ms: tuple[float, ...]
    backend: str | None
    threads: int | None
    wasm_build: str | None
    wall_s: float


def fixed_budget(warmups: int, iterations: int) -> Budget:
    """A budget that times exactly `iterations` inferences (the time budget never cuts in)."""
    return Budget(warmups=warmups, iterations=iterations, min_iterations=iterations, time_budget_s=600.0,
                  cell_timeout_s=900.0, stall_timeout_s=300.0)


def browser_cell(model: str, runtime: str, backend: str, threads: int) -> Cell:
    return Cell(target="local", browser="chromium", model=model, runtime=runtime, backend=backend,
                threads=threads, repeat=0)


@contextmanager
def page_server() -> Iterator[Any]:
    from mobile_webinfer.paths import models_dir
    from mobile_webinfer.web.server import PageServer

    with PageServer(models_dir=models_dir()) as srv:
        yield srv


def manifest_of(model: str) -> Any:
    from mobile_webinfer.models.manifest import load_manifest

    m = load_manifest(model)
    if m is None:
        raise SystemExit(f"model {model} is not built: run `mwi models build {model}` first")
    return m


def harness_load(cell: Cell, manifest: Any, server: Any, budget: Budget) -> LoadResult:
    """One cell as `mwi sweep` measures it locally: fresh Chromium, harness page, memory sampler."""
    from mobile_webinfer.targets.local import LocalTarget

    t0 = time.monotonic()
    m = LocalTarget(page=PageOptions()).measure(cell, manifest, server, budget, STOP)
    rec = m.record
    if not rec.ok or not rec.latencies_ms:
        raise RuntimeError(f"harness cell {cell.runtime}/{cell.backend} failed: {rec.error}")
    eff = rec.in_effect
    return LoadResult(tuple(rec.latencies_ms), getattr(eff, "backend", None), getattr(eff, "threads", None),
                      getattr(eff, "wasm_build", None), time.monotonic() - t0)


def bare_load(cell: Cell, manifest: Any, server: Any, budget: Budget, timeout_s: float = 600.0,
              extra: tuple[str, ...] = ()) -> LoadResult:
    """The same cell on pages/bare.html: the adapter's loop and nothing else; one POST at the end.
    `extra` adds harness pieces back for diagnosis: "yield" (a macrotask between inferences), "raf"
    (a requestAnimationFrame loop while timing)."""
    from mobile_webinfer.browsers.local_chromium import LocalChromium
    from mobile_webinfer.targets.contract import page_config

    config = page_config(manifest, cell, budget, PageOptions())
    gpu = cell.backend in GPU_BACKENDS
    t0 = time.monotonic()
    ticket = server.open_cell(config)
    try:
        url = f"{server.base_url}/bare.html?" + urllib.parse.urlencode(
            {"cell": ticket.cell_id, "token": ticket.token, **{k: "1" for k in extra}})
        with LocalChromium(webgl=cell.backend == "webgl" or gpu, webgpu=cell.backend == "webgpu",
                           headless=True) as browser:
            page = browser.new_page()
            page.goto(url, wait_until="commit")
            deadline = time.monotonic() + timeout_s
            while True:
                done = [e for e in ticket.events() if e.get("stage") == "bare_result"]
                if done:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"bare page {cell.runtime}/{cell.backend}: no result in {timeout_s:.0f} s")
                time.sleep(0.05)
    finally:
        ticket.close()
    ev = done[0]
    if not ev.get("ok"):
        raise RuntimeError(f"bare page {cell.runtime}/{cell.backend} failed: {ev.get('error')}")
    return LoadResult(tuple(float(x) for x in ev["latencies_ms"]), ev.get("backend"), ev.get("threads"),
                      ev.get("wasm_build"), time.monotonic() - t0)
