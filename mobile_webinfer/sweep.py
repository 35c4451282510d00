"""`mwi sweep`: the matrix of cells, run target by target, stored as it goes.

For every target and model the native cells run first (they give the reference outputs
for agreement), then the browser cells, repeat by repeat, so that slow drift (heat,
background load) spreads over every configuration instead of landing on one.
A crash loses at most the cell in flight; `--resume RUN_DIR` runs only what is missing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import platform
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from . import __version__
from .agreement import compare
from .errors import InfraError, MwiError, StoreError, UsageError
from .files import now_iso
from .store import RunStore
from .vocab import (BROWSER_RUNTIMES, GPU_BACKENDS, NATIVE_BROWSER, NATIVE_RUNTIME, QUICK,
                           RUNTIME_BACKENDS, RUNTIME_FORMAT, Budget, Cell)

DEFAULT_MODELS = ("mobilenet_v2",)
DEFAULT_BACKENDS = ("wasm", "webgl", "webgpu", "cpu")
DEFAULT_THREADS = (1, 2)
DEFAULT_REPEATS = 3


@dataclass
class SweepSpec:
    """What to measure.  Stored in the run manifest so `--resume` can rebuild the plan."""

    targets: list[str] = field(default_factory=lambda: ["local"])
    models: list[str] = field(default_factory=lambda: list(DEFAULT_MODELS))
    runtimes: list[str] = field(default_factory=lambda: list(BROWSER_RUNTIMES))
    backends: list[str] = field(default_factory=lambda: list(DEFAULT_BACKENDS))
    threads: list[int] = field(default_factory=lambda: list(DEFAULT_THREADS))
    repeats: int = DEFAULT_REPEATS
    native: bool = True
    native_backends: list[str] | None = None
    browsers: list[str] | None = None
    budget: Budget = field(default_factory=Budget)
    chromium: str | None = None
    quick: bool = False
    # phones
    cooldown: dict = field(default_factory=dict)   # CooldownPolicy fields
    benchmark_model: str | None = None
    sample_interval_s: float = 1.0
    first_run: bool = False        # phones: dismiss browsers' first-run screens (uiautomator2, profile steps)
    on_throttle: str = "rerun"     # a cell during which the phone throttled: "rerun" (after cool-down) or "flag"
    max_reruns: int = 1

    def validate(self) -> None:
        bad = [r for r in self.runtimes if r not in BROWSER_RUNTIMES]
        if bad:
            raise UsageError(f"unknown runtime {bad[0]!r}; choose from {', '.join(BROWSER_RUNTIMES)}")
        allb = sorted({b for bs in RUNTIME_BACKENDS.values() for b in bs})
        bad = [b for b in self.backends if b not in allb]
        if bad:
            raise UsageError(f"unknown backend {bad[0]!r}; choose from {', '.join(allb)}")
        if not self.threads or any(t < 1 or t > 64 for t in self.threads):
            raise UsageError("threads must be whole numbers from 1 to 64")
        if self.repeats < 1 or self.repeats > 1000:
            raise UsageError("repeats must be from 1 to 1000")
        if not self.models:
            raise UsageError("no models given")
        b = self.budget
        if b.iterations < 1 or b.warmups < 0 or b.time_budget_s <= 0 or b.cell_timeout_s <= 0:
            raise UsageError("iterations must be >= 1, warmups >= 0, time budget and cell timeout > 0")
        if b.min_iterations > b.iterations:  # --iterations 2: at most 2 timed runs, whatever the default minimum
            self.budget = replace(b, min_iterations=b.iterations)
        if not self.targets:
            raise UsageError("no targets given")
        if self.on_throttle not in ("rerun", "flag"):
            raise UsageError("on_throttle must be `rerun` or `flag`")

    def to_json(self) -> dict:
        d = asdict(self)
        d["budget"] = self.budget.to_json()
        return d

    @classmethod
    def from_json(cls, d: dict) -> "SweepSpec":
        d = dict(d)
        d["budget"] = Budget(**d.get("budget", {}))
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})


def plan_cells(spec: SweepSpec, target: str, browsers: list[str], native_backends: list[str]) -> list[Cell]:
    """Every cell of one target, in the order they run."""
    cells: list[Cell] = []
    threads = sorted(set(spec.threads))
    for model in spec.models:
        if spec.native:
            for nb in (spec.native_backends or native_backends):
                ts = threads if nb in ("cpu", "xnnpack") else [threads[0]]
                for t in ts:
                    for r in range(spec.repeats):
                        cells.append(Cell(target, NATIVE_BROWSER, model, NATIVE_RUNTIME, nb, t, r))
        for r in range(spec.repeats):
            for browser in browsers:
                for runtime in spec.runtimes:
                    for backend in RUNTIME_BACKENDS[runtime]:
                        if backend not in spec.backends:
                            continue
                        # GPU backends and the plain-JS cpu backend do not use wasm threads
                        ts = [threads[0]] if (backend in GPU_BACKENDS or backend == "cpu") else threads
                        for t in ts:
                            cells.append(Cell(target, browser, model, runtime, backend, t, r))
    return cells


class Runner:
    """Runs one sweep.  `make_target(name)` gives a target object (local or a phone)."""

    def __init__(self, spec: SweepSpec, store: RunStore, *, make_target: Callable[[str], object],
                 on_cell: Callable[[Cell, dict], None] | None = None,
                 on_start: Callable[[Cell], None] | None = None, retry_failed: bool = False,
                 stop: threading.Event | None = None):
        self.spec = spec
        self.store = store
        self.make_target = make_target
        self.on_cell = on_cell
        self.on_start = on_start
        self.retry_failed = retry_failed
        self.stop = stop or threading.Event()
        self._manifests: dict[str, object] = {}
        self._ref_lock = threading.Lock()

    # -- planning ------------------------------------------------------------------------
    def models(self) -> dict:
        from .models.build import ensure_built

        for name in self.spec.models:
            if name not in self._manifests:
                self._manifests[name] = ensure_built(name)
        return self._manifests

    def plan(self, targets: dict[str, object]) -> list[Cell]:
        cells = []
        for name, t in targets.items():
            browsers = t.browsers()
            cells += plan_cells(self.spec, name, browsers, t.native_backends())
        return cells

    # -- running -------------------------------------------------------------------------
    def run_target(self, target, cells: list[Cell], fingerprint: dict) -> None:
        """Every missing cell of one target, under the target's conditioning (restored on exit)."""
        done = self.store.done_keys(retry_failed=self.retry_failed)
        todo = [c for c in cells if c.key not in done]
        if not todo:
            return
        conditions = target.conditions() if hasattr(target, "conditions") else contextlib.nullcontext()
        with self._server() as server, conditions:
            for cell in todo:
                if self.stop.is_set():
                    return
                if self.on_start:
                    self.on_start(cell)
                rec = self.run_cell(target, cell, server, fingerprint)
                self.store.append_result(rec)
                if self.on_cell:
                    self.on_cell(cell, rec)

    def _server(self):
        from .paths import models_dir
        from .web.server import PageServer

        return PageServer(models_dir=models_dir())

    def run_cell(self, target, cell: Cell, server, fingerprint: dict) -> dict:
        """One cell, with the policies around it: a phone that dropped away is recovered once
        (reconnect, adb server restart) and the cell retried; a cell during which the phone
        throttled (thermal status rose) is re-run after the cool-down gate (`on_throttle`)."""
        attempts: list[dict] = []
        recovered = False
        while True:
            try:
                rec = self._run_cell_once(target, cell, server, fingerprint)
            except TargetLost:
                if recovered or not hasattr(target, "recover") or not target.recover():
                    raise
                recovered = True
                attempts.append({"at": now_iso(), "status": "lost", "note": "phone dropped away; recovered"})
                continue
            throttled = _throttled(rec, self.spec)
            if throttled and self.spec.on_throttle == "rerun" and \
                    sum(1 for a in attempts if a.get("status") == "throttled") < self.spec.max_reruns:
                attempts.append({"at": rec.get("finished_at"), "status": "throttled",
                                 "thermal_status_max": (rec.get("context") or {}).get("thermal_status_max"),
                                 "median_ms": _median_of(rec.get("latencies_ms"))})
                continue
            if attempts:
                rec["attempts"] = attempts
                extra = set(rec.get("flags") or [])
                if any(a["status"] == "throttled" for a in attempts):
                    extra.add("rerun-after-throttle")
                if recovered:
                    extra.add("recovered-after-disconnect")
                rec["flags"] = sorted(extra)
            if throttled:
                rec["flags"] = sorted(set(rec.get("flags") or []) | {"thermal-throttled"})
            return rec

    def _run_cell_once(self, target, cell: Cell, server, fingerprint: dict) -> dict:
        manifest = self.models()[cell.model]
        budget = self.spec.budget
        started = now_iso()
        t0 = time.monotonic()
        rec: dict = {"key": cell.key, "cell": cell.to_json(), "started_at": started,
                     "fingerprint": {"target": cell.target, "id": fingerprint.get("fingerprint_id")},
                     "model_sha256": None, "budget": budget.to_json()}
        fmt = RUNTIME_FORMAT[cell.runtime]
        try:
            rec["model_sha256"] = manifest.sha256(fmt)
            rec["model_bytes"] = manifest.size_bytes(fmt)
        except MwiError as exc:
            why = (manifest.data.get("runtime_support") or {}).get(fmt)
            rec.update(status="unsupported", error=f"model has no {fmt} file: {why or exc.one_line()}",
                       error_kind="no-format", wall_s=0.0, finished_at=now_iso(), flags=["unsupported"])
            return rec
        try:
            if cell.is_native:
                body, outputs = target.run_native(cell, manifest, budget)
                if outputs is not None:
                    self._keep_native_outputs(cell, outputs)
                    ref = self._reference(cell, manifest)
                    if ref is not None:
                        body["agreement"] = compare(_as_page_outputs(outputs), ref[0],
                                                    task=manifest.data.get("task", ""))
                        body["agreement"]["reference"] = ref[1]
            else:
                body = target.run_browser(cell, manifest, server, budget)
                if body.get("status") == "ok":
                    ref = self._reference(cell, manifest)
                    if ref is not None:
                        body["agreement"] = compare(body.get("outputs") or [], ref[0],
                                                    task=manifest.data.get("task", ""))
                        body["agreement"]["reference"] = ref[1]
            series = body.pop("memory_series", None) or []
            samples = body.pop("samples", None) or []
            if series:
                self.store.append_samples({"key": cell.key, "probe": "procmem", **s} for s in series)
            if samples:
                self.store.append_samples({"key": cell.key, **s} for s in samples)
            rec.update(body)
        except KeyboardInterrupt:
            raise
        except MwiError as exc:
            if target_lost(exc):
                raise TargetLost(f"{cell.target}: {exc.one_line()}") from exc
            rec.update(status="error", error=exc.one_line(), error_kind=type(exc).__name__,
                       infra=isinstance(exc, InfraError))
        rec.setdefault("wall_s", round(time.monotonic() - t0, 3))
        rec["finished_at"] = now_iso()
        rec["flags"] = sorted(set(cell_flags(cell, rec)) | set(rec.pop("flags_extra", None) or []))
        return rec

    def _outputs_path(self, cell: Cell) -> Path:
        from .files import safe_name

        return self.store.outputs_dir / f"{safe_name(cell.target)}__{cell.model}.npz"

    def _keep_native_outputs(self, cell: Cell, outputs: list[np.ndarray]) -> None:
        path = self._outputs_path(cell)
        if not path.exists():
            tmp = path.with_suffix(".tmp.npz")
            np.savez(tmp, **{f"out{i}": o for i, o in enumerate(outputs)})
            tmp.replace(path)

    def _reference(self, cell: Cell, manifest) -> tuple[list[np.ndarray], str] | None:
        """Reference outputs for agreement: this target's native outputs, else host-native TFLite on
        the same file and input (phones' benchmark_model writes no outputs), else the build's Keras ones."""
        path = self._outputs_path(cell)
        if path.exists():
            with np.load(path) as data:
                return [data[f"out{i}"] for i in range(len(data.files))], "native"
        host = self.store.outputs_dir / f"host__{cell.model}.npz"
        if cell.target != "local":
            with self._ref_lock:
                if not host.exists():
                    try:
                        from .native.host import run_isolated

                        io = manifest.data.get("io_names", {}).get("tflite", {})
                        res = run_isolated(manifest.file("tflite"),
                                           [(manifest.dir / s["path"], s["dtype"], s["shape"])
                                            for s in manifest.data["sample_inputs"]],
                                           threads=1, warmups=0, iterations=1, min_iterations=1,
                                           output_names=io.get("outputs"), input_names=io.get("inputs"))
                        tmp = host.with_suffix(".tmp.npz")
                        np.savez(tmp, **{f"out{i}": o for i, o in enumerate(res.outputs)})
                        tmp.replace(host)
                    except MwiError:
                        pass
            if host.exists():
                with np.load(host) as data:
                    return [data[f"out{i}"] for i in range(len(data.files))], "host-native"
        try:
            return manifest.reference_outputs(), "keras-reference"
        except MwiError:
            return None


def _median_of(xs):
    xs = sorted(xs or [])
    return xs[len(xs) // 2] if xs else None


def _throttled(rec: dict, spec: "SweepSpec") -> bool:
    """The thermal status rose above the gate's limit during the cell."""
    ctx = rec.get("context") or {}
    limit = int((spec.cooldown or {}).get("max_thermal_status", 0))
    st = ctx.get("thermal_status_max")
    return rec.get("status") == "ok" and isinstance(st, int) and st > limit


class TargetLost(InfraError):
    """A phone went away (unplugged, offline, unauthorized): its worker stops, the cell is not stored."""


def target_lost(exc: BaseException) -> bool:
    from .errors import AdbServerError, DeviceNotFound, DeviceOffline, DeviceUnauthorized, TransientDeviceError

    return isinstance(exc, (DeviceNotFound, DeviceOffline, DeviceUnauthorized, TransientDeviceError, AdbServerError))


def _as_page_outputs(outputs: list[np.ndarray]) -> list[dict]:
    return [{"name": str(i), "values": np.asarray(o, dtype=np.float64).ravel().tolist()} for i, o in enumerate(outputs)]


def cell_flags(cell: Cell, rec: dict) -> list[str]:
    """Honesty labels stored with each cell."""
    flags = []
    eff = rec.get("in_effect") or {}
    if rec.get("status") == "error" and rec.get("error_kind") in ("backend_fallback", "BackendFallback"):
        flags.append("backend-fell-back")
    if eff.get("backend") and eff.get("backend") != cell.backend and not cell.is_native:
        flags.append("backend-fell-back")
    if eff.get("threads") is not None and cell.backend == "wasm" and eff.get("threads") != cell.threads:
        flags.append(f"threads-in-effect={eff.get('threads')}")
    if rec.get("status") == "error" and rec.get("error_kind") in ("renderer-crashed",):
        flags.append("renderer-crashed")
    ctx = rec.get("context") or {}
    if (ctx.get("cooldown") or {}).get("ok") is False:
        flags.append("phone-never-cooled")
    if isinstance(ctx.get("thermal_status_max"), int) and ctx["thermal_status_max"] > 0:
        flags.append(f"thermal-status-rose={ctx['thermal_status_max']}")
    if eff.get("software_gpu"):
        flags.append("software-gpu")
    if not cell.is_native and eff.get("cross_origin_isolated") is False:
        flags.append("not-cross-origin-isolated")
    return sorted(set(flags))


def make_local_target(chromium: str | None):
    from .targets.local import LocalTarget

    return LocalTarget(chromium)


def run_sweep(spec: SweepSpec, *, out_root: Path, resume: Path | None = None, retry_failed: bool = False,
              make_target: Callable[[str], object] | None = None, progress=None) -> RunStore:
    """Create (or reopen) a run and measure every missing cell."""
    if resume is not None:
        store = RunStore.open(resume)
        m = store.manifest()
        if "spec" not in m:
            raise StoreError(f"{resume}: manifest has no sweep spec to resume")
        spec = SweepSpec.from_json(m["spec"])
    spec.validate()
    make_target = make_target or default_target_factory(spec)
    targets, fps, lost = {}, {}, {}
    for name in spec.targets:
        t = make_target(name)
        if t is None:
            raise UsageError(f"unknown target {name!r}")
        try:
            try:
                fp = t.describe()
            except InfraError:
                if not (hasattr(t, "recover") and t.recover()):
                    raise
                fp = t.describe()
        except InfraError as exc:
            if len(spec.targets) == 1:
                raise
            lost[name] = exc.one_line()
            continue
        fp["fingerprint_id"] = hashlib.sha256(json.dumps(fp, sort_keys=True, default=str).encode()).hexdigest()[:16]
        targets[name], fps[name] = t, fp
    if resume is None:
        store = RunStore.create(out_root, {"tool": "mobile-webinfer", "tool_version": __version__,
                                           "spec": spec.to_json(), "host": {"platform": platform.platform(),
                                                                            "python": platform.python_version()}},
                                label="-".join(spec.targets)[:24])
    stop = threading.Event()
    runner = Runner(spec, store, make_target=make_target, retry_failed=retry_failed,
                    on_cell=progress.on_cell if progress else None,
                    on_start=progress.on_start if progress else None, stop=stop)
    manifests = runner.models()

    def record_context(m: dict) -> None:
        m.setdefault("targets", {}).update(fps)
        m["models"] = {name: {"task": mf.data.get("task"), "params": mf.data.get("params"),
                              "files": {fmt: {"sha256": f.get("sha256"), "bytes": f.get("bytes")}
                                        for fmt, f in mf.data.get("files", {}).items()},
                              "seed": mf.data.get("seed"), "converters": mf.data.get("converters")}
                       for name, mf in manifests.items()}
        m.setdefault("resumed_at", [])
        if resume is not None:
            m["resumed_at"].append(now_iso())
        for name, why in lost.items():
            m.setdefault("target_failures", []).append({"target": name, "at": now_iso(), "error": why})

    store.update_manifest(record_context)
    cells = runner.plan(targets)
    if progress:
        done = store.done_keys(retry_failed=retry_failed)
        progress.start(total=len(cells), done=sum(1 for c in cells if c.key in done))
    failures: dict[str, str] = {}

    def work(name: str, t) -> None:
        try:
            runner.run_target(t, [c for c in cells if c.target == name], fps[name])
        except InfraError as exc:  # this phone failed; the others go on
            failures[name] = exc.one_line()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failures[name] = f"{type(exc).__name__}: {exc}"

    try:
        if len(targets) == 1:
            (name, t), = targets.items()
            try:
                runner.run_target(t, [c for c in cells if c.target == name], fps[name])
            except TargetLost as exc:
                failures[name] = exc.one_line()
        else:
            threads = [threading.Thread(target=work, args=(n, t), name=f"mwi-{n}", daemon=True)
                       for n, t in targets.items()]
            for th in threads:
                th.start()
            try:
                while any(th.is_alive() for th in threads):
                    for th in threads:
                        th.join(timeout=0.5)
            except KeyboardInterrupt:
                stop.set()
                for th in threads:
                    th.join(timeout=120)  # each worker leaves its phone restored
                raise
    finally:
        if progress:
            progress.finish()

        def finish(m: dict) -> None:
            _record_versions(m, store)
            for name, why in failures.items():
                m.setdefault("target_failures", []).append({"target": name, "at": now_iso(), "error": why})

        store.update_manifest(finish)
    all_failed = {**lost, **failures}
    if all_failed and len(all_failed) == len(spec.targets):
        raise InfraError("every target failed: " + "; ".join(f"{k}: {v}" for k, v in all_failed.items())
                         + f" (results so far in {store.run_dir}; finish with --resume)")
    store.failures = all_failed
    return store


def default_target_factory(spec: SweepSpec) -> Callable[[str], object]:
    def make(name: str):
        if name == "local":
            return make_local_target(spec.chromium)
        from .adb.shell import validate_serial
        from .targets.android import AndroidTarget
        from .targets.cooldown import CooldownPolicy

        validate_serial(name)
        native = tuple(spec.native_backends) if spec.native_backends else ("cpu", "xnnpack", "gpu")
        return AndroidTarget(name, cooldown=CooldownPolicy(**spec.cooldown), benchmark_model=spec.benchmark_model,
                             sample_interval_s=spec.sample_interval_s, native_backends=native,
                             browsers=spec.browsers, first_run=spec.first_run)

    return make


def _record_versions(m: dict, store: RunStore) -> None:
    """Browser / framework versions seen by the pages, into the manifest."""
    seen: dict[str, dict] = {}
    for rec in store.results():
        eff = rec.get("in_effect") or {}
        tgt = rec.get("cell", {}).get("target", "?")
        entry = seen.setdefault(tgt, {"frameworks": {}, "browsers": {}})
        for k, v in (eff.get("versions") or {}).items():
            entry["frameworks"][k] = v
        if rec.get("browser_version"):
            entry["browsers"][rec["cell"]["browser"]] = rec["browser_version"]
        if eff.get("user_agent"):
            entry["user_agent"] = eff["user_agent"]
    m["versions"] = seen


def estimate_seconds(cells: list[Cell], budget: Budget) -> float:
    """Rough wall time: budget per cell plus launch/load overhead (software GPU cells run longer)."""
    total = 0.0
    for c in cells:
        per = budget.time_budget_s + (4.0 if c.is_native else 12.0)
        if c.backend in GPU_BACKENDS:
            per *= 3
        total += per
    return total


def load_spec_file(path: Path) -> dict:
    """A sweep file: TOML whose keys are SweepSpec's fields (budget and cooldown as tables)."""
    import tomllib

    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"sweep file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"sweep file {path} is not valid TOML: {exc}") from None
    data = data.get("sweep", data)
    known = set(SweepSpec.__dataclass_fields__)
    bad = sorted(set(data) - known)
    if bad:
        raise UsageError(f"sweep file {path}: unknown key(s) {', '.join(bad)} (known: {', '.join(sorted(known))})")
    if "budget" in data:
        bk = set(Budget.__dataclass_fields__)
        badb = sorted(set(data["budget"]) - bk)
        if badb:
            raise UsageError(f"sweep file {path}: unknown budget key(s) {', '.join(badb)}")
    return data


def run_sweep_cli(*, targets, models, runtimes, backends, threads, repeats, quick, out, resume, retry_failed,
                  native, iterations, warmups, time_budget, chromium, dry_run, spec_file=None, browsers=None,
                  native_backends=None, benchmark_model=None, max_battery_temp=None, cooldown_timeout=None,
                  on_hot=None, on_throttle=None, cell_timeout=None, first_run=False) -> None:
    """The CLI's sweep: build the spec from flags, run, print the table and the run directory last."""
    from rich.console import Console

    from .paths import default_out_root
    from .progress import SweepProgress
    from .report import build_rows, render_table

    console = Console()
    base = load_spec_file(spec_file) if spec_file else {}
    if base.get("quick"):
        quick = True
    budget = QUICK if quick else Budget()
    if "budget" in base:
        budget = replace(budget, **base.pop("budget"))
    overrides = {k: v for k, v in (("iterations", iterations), ("warmups", warmups),
                                   ("time_budget_s", time_budget), ("cell_timeout_s", cell_timeout)) if v is not None}
    if overrides:
        budget = replace(budget, **overrides)
    spec = SweepSpec(**{k: v for k, v in base.items() if k != "budget"})
    spec.budget = budget
    if targets and (targets != ["local"] or "targets" not in base):
        spec.targets = list(targets)
    spec.chromium = chromium or spec.chromium
    spec.native = spec.native and native
    spec.quick = quick
    flags = {"models": models, "runtimes": runtimes, "backends": backends, "threads": threads, "browsers": browsers,
             "native_backends": native_backends, "benchmark_model": benchmark_model, "on_throttle": on_throttle}
    for name, value in flags.items():  # a flag given on the command line wins over the sweep file
        if value:
            setattr(spec, name, value)
    cd = dict(spec.cooldown)
    for k, v in (("max_battery_c", max_battery_temp), ("timeout_s", cooldown_timeout), ("on_timeout", on_hot)):
        if v is not None:
            cd[k] = v
    if cd.get("on_timeout", "flag") not in ("flag", "skip"):
        raise UsageError("--on-hot must be `flag` or `skip`")
    spec.cooldown = cd
    if first_run:
        spec.first_run = True
    if repeats is not None:
        spec.repeats = repeats
    elif "repeats" not in base:
        spec.repeats = 1 if quick else DEFAULT_REPEATS
    if resume is None:
        spec.validate()
        from .models.catalog import check_model_name

        for m in spec.models:
            check_model_name(m)  # unknown names fail here, before anything runs (zoo or `mwi models add`)
    if dry_run:
        browsers = {t: (["chromium"] if t == "local" else ["com.android.chrome"]) for t in spec.targets}
        cells = []
        for t in spec.targets:
            cells += plan_cells(spec, t, browsers[t], ["xnnpack"] if t == "local" else ["cpu", "gpu"])
        for c in cells:
            console.print(c.key, highlight=False)
        est = estimate_seconds(cells, spec.budget)
        console.print(f"{len(cells)} cells; estimated {est / 60:.1f} min", highlight=False)
        return
    import signal
    import threading as _th

    if _th.current_thread() is _th.main_thread():
        def _term(signum, frame):  # a polite kill: unwind, restore the phones, keep what is stored
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, _term)
    progress = SweepProgress()
    store = run_sweep(spec, out_root=Path(out) if out else default_out_root(), resume=resume,
                      retry_failed=retry_failed, progress=progress)
    rows = build_rows(store.results())
    render_table(rows, console=console)
    if store.failures:
        import sys

        for name, why in store.failures.items():
            print(f"mwi: target {name} failed: {why}; finish with: mwi sweep --resume {store.run_dir}",
                  file=sys.stderr)
        print(store.run_dir, flush=True)
        raise SystemExit(3)
    print(store.run_dir)
