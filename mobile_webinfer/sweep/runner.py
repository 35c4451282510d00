"""Running a sweep: one worker per target, records stored as they finish, stop and resume.

A crash loses at most the cell in flight; `--resume RUN_DIR` runs only what is missing.
The plan is the one `plan()` makes (the same one `--dry-run` prints).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import platform
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .. import __version__
from ..agreement import DISAGREE, compare, disagreement, tolerance_for
from ..errors import (
    DiskFullError,
    InfraError,
    MwiError,
    StoreError,
    UsageError,
    device_gone,
)
from ..files import now_iso
from ..locks import device_lock, run_lock
from ..paired_stats import all_paired, config_gap_precision
from ..records import TIME_CEILING_SKIP, Agreement, Attempt, CellRecord, load_records
from ..stats import ci_precision, summarize
from ..store import RunStore, disk_full_guard
from ..targets.contract import Stopped, Target
from ..targets.cooldown import PhoneNeverCools
from ..vocab import RUNTIME_FORMAT, Cell, PageOptions, QoeOptions
from .policy import cell_flags, extra_loads_worthwhile, loads_affordable, median_of, throttled, with_validity
from .reference import References
from .spec import DEFAULT_PHONE_NATIVE, SweepSpec, plan_cells

DEVICE_LOST = "skipped-device-lost"


class TargetLost(InfraError):
    """A phone went away (unplugged, offline, unauthorized): its worker stops, the cell is not stored.
    `quarantine_now`: the phone is there but cannot be measured (it never cools): no budget to wait out."""

    quarantine_now = False


class TargetNotBack(TargetLost):
    """A phone went away and was waited for up to its boot timeout in vain: quarantined at once
    (each further cell would wait the bound again)."""

    quarantine_now = True


def target_lost(exc: BaseException) -> bool:
    return device_gone(exc)


class Progress(Protocol):
    def start(self, total: int, done: int = 0) -> None: ...
    def add(self, n: int) -> None: ...
    def on_start(self, cell: Cell) -> None: ...
    def on_cell(self, cell: Cell, rec: CellRecord) -> None: ...
    def finish(self) -> None: ...


TargetFactory = Callable[[str], Target]


@dataclass
class SweepOutcome:
    store: RunStore
    failures: dict[str, str] = field(default_factory=dict)


def native_backends_for(spec: SweepSpec, target: Target) -> list[str]:
    return list(spec.native_backends) if spec.native_backends else target.native_backends()


def plan(spec: SweepSpec, targets: Mapping[str, Target]) -> list[Cell]:
    """Every cell of every target, as the run will measure them (and `--dry-run` prints them)."""
    cells: list[Cell] = []
    for name, t in targets.items():
        cells += plan_cells(spec, name, t.browsers(), native_backends_for(spec, t))
    return cells


def fingerprint_id(fp: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fp, sort_keys=True, default=str).encode()).hexdigest()[:16]


def connect_targets(spec: SweepSpec, make_target: TargetFactory) -> tuple[dict[str, Target], dict[str, dict[str, Any]],
                                                                          dict[str, str]]:
    """Make and describe every target; one that cannot be reached is lost (unless it is the only one)."""
    targets: dict[str, Target] = {}
    fps: dict[str, dict[str, Any]] = {}
    lost: dict[str, str] = {}
    for name in spec.targets:
        t = make_target(name)
        try:
            try:
                fp = t.describe()
            except InfraError:
                if not t.recover(None):
                    raise
                fp = t.describe()
        except InfraError as exc:
            if len(spec.targets) == 1:
                raise
            lost[name] = exc.one_line()
            continue
        fp["fingerprint_id"] = fingerprint_id(fp)
        targets[name], fps[name] = t, fp
    return targets, fps, lost


class Runner:
    """Runs the cells of a sweep against its targets, storing each record as it finishes."""

    def __init__(self, spec: SweepSpec, store: RunStore, *, progress: Progress | None = None,
                 retry_failed: bool = False, stop: threading.Event | None = None):
        self.spec = spec
        self.store = store
        self.progress = progress
        self.retry_failed = retry_failed
        self.stop = stop or threading.Event()
        self._manifests: dict[str, Any] = {}
        self.refs = References(store.outputs_dir)
        #: config_key -> wall seconds of each stored load / process, and whether one of them was ok
        self._walls: dict[tuple, list[float]] = {}
        self._measured: set[tuple] = set()
        self._walls_lock = threading.Lock()

    def models(self) -> dict[str, Any]:
        """Every model of the sweep, built if needed and checked by sha256 (not size): a cached zoo
        file that changed is rebuilt; a user's file that changed since `mwi models add` is an error."""
        from ..errors import ModelError
        from ..models.build import ensure_built

        for name in self.spec.models:
            if name in self._manifests:
                continue
            mf = ensure_built(name)
            problems = mf.verify_files(hashes=True)
            if problems and mf.user_model:
                raise ModelError(f"model {name}: {problems[0]}; the file changed since `mwi models add`: add it again")
            if problems:
                mf = ensure_built(name, force=True)
            self._manifests[name] = mf
        return self._manifests

    def done_keys(self, cells: list[Cell]) -> set[str]:
        """Cells already measured *with the model files and record schema of this run*: a cell stored
        before a model rebuild or a tool upgrade is measured again (its new record wins), never mixed."""
        from ..records import SCHEMA_VERSION

        done = self.store.done_keys(retry_failed=self.retry_failed)
        latest = self.store.latest()
        manifests = self.models()
        out = set()
        for c in cells:
            rec = latest.get(c.key)
            if c.key not in done or rec is None:
                continue
            if rec.get("schema_version") != SCHEMA_VERSION:
                continue
            try:
                sha = manifests[c.model].sha256(RUNTIME_FORMAT[c.runtime])
            except (KeyError, MwiError):
                sha = None
            if rec.get("model_sha256") not in (None, sha):
                continue
            out.add(c.key)
        return out

    # -- running -------------------------------------------------------------------------
    def run_target(self, target: Target, cells: list[Cell], fingerprint: Mapping[str, Any]) -> None:
        """Every missing cell of one target, under the target's conditioning (restored on exit)."""
        from ..paths import models_dir
        from ..web.server import PageServer

        done = self.done_keys(cells)
        todo = [c for c in cells if c.key not in done] or self.extra_repeats(cells)
        if not todo and not self.spec.profile_ops:
            return
        in_a_row = 0  # consecutive infrastructure failures: the failure budget
        unstored: list[Cell] = []  # cells given up on while the phone was away (resumable)
        last_lost: TargetLost | None = None
        with self._walls_lock:  # this target's loads, counted afresh from the store (workers run in threads)
            for key in [k for k in self._walls if k[0] == target.name]:
                del self._walls[key]
            self._measured.difference_update([k for k in self._measured if k[0] == target.name])
        for rec in load_records(self.store.results()):
            if rec.cell is not None and rec.cell.target == target.name:
                self._count_load(rec.cell, rec)
        with PageServer(models_dir=models_dir()) as server, target.conditions():
            self._probe_capabilities(target, server)
            for cell in self._then_extra_repeats(todo, cells, unstored):
                if self.stop.is_set():
                    return
                skipped = self._past_time_ceiling(cell)
                if skipped is not None:
                    self.store.append_result(skipped.to_json())
                    if self.progress:
                        self.progress.on_cell(cell, skipped)
                    continue
                if self.progress:
                    self.progress.on_start(cell)
                try:
                    rec = self.run_cell(target, cell, server, fingerprint)
                except Stopped:
                    return
                except TargetLost as exc:
                    in_a_row += 1
                    if in_a_row >= self.spec.max_infra_failures or exc.quarantine_now:
                        self._quarantine(target, todo, exc, in_a_row)
                        raise
                    unstored.append(cell)
                    last_lost = exc
                    continue  # the cell stays unstored (resumable); the next one tries to recover again
                in_a_row = in_a_row + 1 if rec.infra else 0
                self.store.append_result(rec.to_json())
                self._count_load(cell, rec)
                if self.progress:
                    self.progress.on_cell(cell, rec)
                if in_a_row >= self.spec.max_infra_failures:
                    lost = TargetLost(f"{target.name}: {in_a_row} infrastructure failures in a row "
                                      f"(last: {rec.error})")
                    self._quarantine(target, todo, lost, in_a_row)
                    raise lost
            if self.spec.profile_ops and not self.stop.is_set() and not unstored:
                self.profile_target(target, cells, server)
            if unstored and last_lost is not None:  # never a silent exit 0 with cells left unmeasured
                # raised inside conditions(): a phone still away keeps its restore journal and this
                # loss is what the sweep reports, not the restore that could not reach the phone
                raise TargetLost(f"{target.name}: {len(unstored)} cell(s) not measured while the phone was away "
                                 f"(last: {last_lost.one_line()})")

    def _count_load(self, cell: Cell, rec: CellRecord) -> None:
        if cell.is_qoe or rec.error_kind == TIME_CEILING_SKIP:
            return
        with self._walls_lock:
            self._walls.setdefault(cell.config_key, []).append(rec.wall_s or 0.0)
            if rec.ok and rec.samples_ms():
                self._measured.add(cell.config_key)

    def _past_time_ceiling(self, cell: Cell) -> CellRecord | None:
        """A planned repeat that would take its configuration past `--max-time-per-cell` (all its
        repeats, judged by the mean of its loads so far) is not run: a `skipped` record says so
        (the report's row then carries `loads-cut-by-time-ceiling`).  Never the first measured load,
        never with a fixed budget (`--precision 0`), never a QoE cell."""
        b = self.spec.budget
        if b.precision <= 0 or cell.is_qoe or cell.config_key not in self._measured:
            return None
        with self._walls_lock:
            walls = list(self._walls.get(cell.config_key, []))
        if loads_affordable(walls, b.max_time_s) > 0:
            return None
        spent = sum(walls)
        rec = CellRecord.failed(
            f"not run: this configuration has spent {spent:.1f} s of its --max-time-per-cell {b.max_time_s:g} s "
            f"over {len(walls)} load(s) of ~{spent / len(walls):.0f} s each; raise --max-time-per-cell to "
            f"measure every planned repeat", TIME_CEILING_SKIP, status="skipped")
        at = now_iso()
        rec = dataclasses.replace(rec, cell=cell, key=cell.key, started_at=at, finished_at=at,
                                  flags=(TIME_CEILING_SKIP,), budget=self.spec.cell_budget().to_json())
        return with_validity(rec, b.precision)

    def _then_extra_repeats(self, todo: list[Cell], cells: list[Cell], unstored: list[Cell]) -> Iterator[Cell]:
        """The cells of `todo`, then rounds of extra repeats (`extra_repeats`) while any is needed
        (none once a cell went unstored: the phone is away, a resumed run adds them)."""
        batch = todo
        extra = bool(todo) and todo[0].key not in {c.key for c in cells}  # a resumed run's first batch: extras
        while batch:
            if extra and self.progress:
                self.progress.add(len(batch))
            yield from batch
            batch = [] if unstored or self.stop.is_set() else self.extra_repeats(cells)
            extra = True

    def extra_repeats(self, cells: list[Cell]) -> list[Cell]:
        """One more repeat (a fresh page load / process, the next repeat number) of every configuration
        of `cells` whose planned repeats are all stored and ok, whose pooled (hierarchical) CI95
        half-width of the median is still wider than `precision` x median (a configuration whose
        loads were all paired: the CI95 half-width of its paired gap / the gap), and that can reach it with
        the loads it may still take: those that fit in what is left of `max_time_s` (wall, at the mean
        of its loads so far) and under `max_repeat_factor` x the planned repeats (the half-width
        shrinking as 1/sqrt(loads); a configuration that cannot get there stops now).  They are
        ordinary cells: stored, resumed and reported like the planned ones; a round covers every such
        configuration in plan order, so drift spreads over them as over the planned repeats."""
        b = self.spec.budget
        if b.precision <= 0 or b.max_repeat_factor <= 1:
            return []
        by_conf: dict[tuple, list[CellRecord]] = {}
        shas = self._current_shas(cells)
        for rec in load_records(self.store.results()):
            now = shas.get(rec.cell.config_key) if rec.cell is not None else None
            if rec.cell is not None and (now is None or rec.model_sha256 in (None, now)):
                by_conf.setdefault(rec.cell.config_key, []).append(rec)  # loads of an older model version: not counted
        planned: dict[tuple, set[str]] = {}
        for c in cells:
            if not c.is_qoe:
                planned.setdefault(c.config_key, set()).add(c.key)
        out: list[Cell] = []
        for c in cells:
            keys = planned.pop(c.config_key, None)
            if keys is None:
                continue
            recs = by_conf.get(c.config_key, [])
            if not keys <= {r.key for r in recs} or len(recs) >= b.max_repeat_factor * len(keys):
                continue
            ok = [r for r in recs if r.ok and r.samples_ms()]
            if not ok or len(ok) < len(recs):  # a configuration with failed (or unrun) repeats gets no more
                continue
            affordable = min(loads_affordable([r.wall_s or 0.0 for r in recs], b.max_time_s),
                             b.max_repeat_factor * len(keys) - len(recs))
            # a paired configuration goes by its gap's precision (issue 21), others by the median's
            reached = config_gap_precision(ok) if all_paired(ok) else ci_precision(summarize([r.samples_ms() for r in ok]))
            if reached is None or reached <= b.precision:
                continue
            if not extra_loads_worthwhile(reached, len(ok), affordable, b.precision):
                continue
            out.append(dataclasses.replace(c, repeat=max(r.cell.repeat for r in recs if r.cell) + 1))
        return out

    def _current_shas(self, cells: list[Cell]) -> dict[tuple, str | None]:
        """Each configuration's model file sha256 in this run (records of another version are stale)."""
        manifests = self.models()
        out: dict[tuple, str | None] = {}
        for c in cells:
            try:
                out[c.config_key] = manifests[c.model].sha256(RUNTIME_FORMAT[c.runtime])
            except (KeyError, MwiError):
                out[c.config_key] = None
        return out

    def profile_target(self, target: Target, cells: list[Cell], server: Any) -> None:
        """`--profile-ops`: after the target's latency cells, each configuration once more with the
        runtime's profiler on (`Target.profile`), stored under RUN_DIR/profiles/, never a record."""
        from .op_profiles import profile_target

        try:
            profile_target(self.store.run_dir, target, cells, self.models(), server, self.spec.budget, self.stop)
        except Stopped:
            return
        except MwiError as exc:
            if target_lost(exc):
                raise TargetLost(f"{target.name}: while profiling: {exc.one_line()}") from exc
            raise

    def _quarantine(self, target: Target, rest: list[Cell], why: TargetLost, failures: int) -> None:
        """A phone past its failure budget: every cell of `rest` it has not stored is recorded
        `skipped-device-lost` (a resumed run measures them again) and its worker ends."""
        stored = {r["key"] for r in self.store.results()}  # its own failures stay as they are (resume re-runs them)
        for cell in rest:
            if cell.key in stored:
                continue
            rec = CellRecord.failed(f"{DEVICE_LOST}: {target.name} quarantined after {failures} infrastructure "
                                    f"failures in a row ({why.one_line()}); finish with mwi sweep --resume",
                                    DEVICE_LOST, status="skipped", infra=True)
            rec = dataclasses.replace(rec, cell=cell, key=cell.key, finished_at=now_iso(), flags=(DEVICE_LOST,))
            self.store.append_result(rec.to_json())
            if self.progress:
                self.progress.on_cell(cell, rec)

    def _probe_capabilities(self, target: Target, server: Any) -> None:
        """Once per run and target (a resumed run keeps what it found): manifest `capabilities`."""
        if not self.spec.capabilities or self.stop.is_set():
            return
        if target.name in (self.store.manifest().get("capabilities") or {}):
            return
        caps = target.capabilities(server)

        def put(m: dict[str, Any]) -> None:
            m.setdefault("capabilities", {})[target.name] = caps

        self.store.update_manifest(put)

    def run_cell(self, target: Target, cell: Cell, server: Any, fingerprint: Mapping[str, Any]) -> CellRecord:
        """One cell, with the policies around it: a phone that dropped away is recovered once
        (reconnect, adb server restart) and the cell retried; a cell during which the phone
        throttled (thermal status rose) is re-run after the cool-down gate (`on_throttle`)."""
        attempts: list[Attempt] = []
        recovered = False
        limit = int((self.spec.cooldown or {}).get("max_thermal_status", 0))
        while True:
            try:
                rec = self._run_cell_once(target, cell, server, fingerprint, attempt=len(attempts) + 1)
            except TargetLost as exc:
                if exc.quarantine_now or recovered or self.stop.is_set():
                    raise
                if not target.recover(self.stop):
                    raise TargetNotBack(f"{exc.one_line()}; not back within --boot-timeout "
                                        f"{self.spec.boot_timeout_s:g} s") from exc
                recovered = True
                attempts.append(Attempt(at=now_iso(), status="lost", note="phone dropped away; recovered"))
                continue
            hot = throttled(rec, limit)
            if hot and self.spec.on_throttle == "rerun" and not self.stop.is_set() and \
                    sum(1 for a in attempts if a.status == "throttled") < self.spec.max_reruns:
                attempts.append(Attempt(at=rec.finished_at, status="throttled",
                                        thermal_status_max=rec.context.thermal_status_max,
                                        median_ms=median_of(rec.latencies_ms)))
                continue
            extra: list[str] = []
            if attempts:
                if any(a.status == "throttled" for a in attempts):
                    extra.append("rerun-after-throttle")
                if recovered:
                    extra.append("recovered-after-disconnect")
                rec = dataclasses.replace(rec, attempts=tuple(attempts))
            if hot:
                extra.append("thermal-throttled")
            return with_validity(rec.with_flags(*extra), self.spec.budget.precision)

    def _run_cell_once(self, target: Target, cell: Cell, server: Any, fingerprint: Mapping[str, Any], *,
                       attempt: int = 1) -> CellRecord:
        """One try of a cell; its samples carry `attempt` (a throttled try's samples stay apart from the re-run's)."""
        manifest = self.models()[cell.model]
        budget = self.spec.cell_budget()
        started = now_iso()
        t0 = time.monotonic()
        ident: dict[str, Any] = dict(cell=cell, key=cell.key, started_at=started, budget=budget.to_json(),
                                     fingerprint={"target": cell.target, "id": fingerprint.get("fingerprint_id")})
        fmt = RUNTIME_FORMAT[cell.runtime]
        try:
            sha, size = manifest.sha256(fmt), manifest.size_bytes(fmt)
        except MwiError as exc:
            why = (manifest.data.get("runtime_support") or {}).get(fmt)
            rec = CellRecord.failed(f"model has no {fmt} file: {why or exc.one_line()}", "no-format",
                                    status="unsupported")
            return dataclasses.replace(rec, **ident, wall_s=0.0, finished_at=now_iso(), flags=("unsupported",))
        ident.update(model_sha256=sha, model_bytes=size)
        try:
            m = target.measure(cell, manifest, server, budget, self.stop)
            rec = m.record
            if m.outputs is not None:
                self.refs.keep_native(cell, list(m.outputs))
            elif m.reference_outputs is not None:  # a paired cell's native reference (issue 21)
                self.refs.keep_native(cell, list(m.reference_outputs))
            if rec.ok and not cell.is_qoe and (m.outputs is not None or not cell.is_native):  # qoe: no outputs
                rec = self._with_agreement(cell, manifest, rec, m.outputs)
            if m.samples:
                self.store.append_samples({**s, "key": cell.key, "attempt": attempt} for s in m.samples)
        except (KeyboardInterrupt, Stopped, DiskFullError):
            raise
        except MwiError as exc:
            if target_lost(exc):
                raise TargetLost(f"{cell.target}: {exc.one_line()}") from exc
            if isinstance(exc, PhoneNeverCools):
                lost = TargetLost(f"{cell.target}: {exc.one_line()}")
                lost.quarantine_now = True
                raise lost from exc
            rec = CellRecord.failed(exc.one_line(), type(exc).__name__, infra=isinstance(exc, InfraError))
        rec = dataclasses.replace(rec, **ident, finished_at=now_iso(),
                                  wall_s=rec.wall_s if rec.wall_s is not None else round(time.monotonic() - t0, 3))
        min_pct = float((self.spec.cooldown or {}).get("min_battery_pct", 25.0))
        return rec.with_flags(*cell_flags(cell, rec, min_battery_pct=min_pct))

    def _with_agreement(self, cell: Cell, manifest: Any, rec: CellRecord,
                        outputs: Any) -> CellRecord:
        ref = self.refs.for_cell(cell, manifest)
        if ref is None:
            return rec
        page_outputs = [dict(o) for o in rec.outputs] if outputs is None else _as_page_outputs(outputs)
        a = compare(page_outputs, ref[0], task=manifest.data.get("task", ""))
        rec = dataclasses.replace(rec, agreement=Agreement.from_json({**a, "reference": ref[1]}))
        why = disagreement(a, tolerance_for(cell.backend, manifest.data.get("agreement_tolerance_rel")))
        if why is None:
            return rec
        return dataclasses.replace(rec.with_flags(DISAGREE), extra={**rec.extra, "disagreement": why})


def _as_page_outputs(outputs: Any) -> list[dict[str, Any]]:
    return [{"name": str(i), "values": np.asarray(o, dtype=np.float64).ravel().tolist()}
            for i, o in enumerate(outputs)]


def default_target_factory(spec: SweepSpec) -> TargetFactory:
    page = PageOptions(webnn_device=spec.webnn_device, thread_policy=spec.thread_policy)
    qoe = QoeOptions(rounds=spec.qoe_rounds)

    def make(name: str) -> Target:
        if name == "local":
            from ..targets.local import LocalTarget

            return LocalTarget(spec.chromium, native=spec.native_backends, page=page, qoe=qoe)
        from ..adb.shell import validate_serial
        from ..targets.android import AndroidTarget
        from ..targets.cooldown import CooldownPolicy

        validate_serial(name)
        native = tuple(spec.native_backends) if spec.native_backends else DEFAULT_PHONE_NATIVE
        return AndroidTarget(name, cooldown=CooldownPolicy(**spec.cooldown), benchmark_model=spec.benchmark_model,
                             sample_interval_s=spec.sample_interval_s, native_backends=native,
                             browsers=spec.browsers, first_run=spec.first_run, page=page, qoe=qoe,
                             boot_timeout_s=spec.boot_timeout_s)

    return make


def open_or_create(spec: SweepSpec, out_root: Path, resume: Path | None) -> tuple[SweepSpec, RunStore | None]:
    if resume is None:
        return spec, None
    store = RunStore.open(resume)
    m = store.manifest()
    if "spec" not in m:
        raise StoreError(f"{resume}: manifest has no sweep spec to resume")
    return SweepSpec.from_json(m["spec"]), store


def run_sweep(spec: SweepSpec, *, out_root: Path, resume: Path | None = None, retry_failed: bool = False,
              make_target: TargetFactory | None = None, progress: Progress | None = None,
              stop: threading.Event | None = None, phone_locks: bool = True) -> SweepOutcome:
    """Create (or reopen) a run and measure every missing cell.  `stop` (set by the CLI on
    Ctrl-C / SIGTERM) ends every worker at its next wait; each leaves its target restored.
    `phone_locks` False: the targets lock their phones where they are plugged in (`--cluster`)."""
    spec, store = open_or_create(spec, out_root, resume)
    spec.validate()
    with contextlib.ExitStack() as locks:
        for name in phone_names(spec) if phone_locks else ():  # one process per phone: its journal, its cells
            locks.enter_context(device_lock(name))
        if store is not None:
            locks.enter_context(run_lock(store.run_dir))
        return _run_locked(spec, store, locks, out_root=out_root, resume=resume, retry_failed=retry_failed,
                           make_target=make_target, progress=progress, stop=stop)


def phone_names(spec: SweepSpec) -> list[str]:
    return [t for t in spec.targets if t != "local"]


def _run_locked(spec: SweepSpec, store: RunStore | None, locks: contextlib.ExitStack, *, out_root: Path,
                resume: Path | None, retry_failed: bool, make_target: TargetFactory | None,
                progress: Progress | None, stop: threading.Event | None) -> SweepOutcome:
    targets, fps, lost = connect_targets(spec, make_target or default_target_factory(spec))
    if store is None:
        store = RunStore.create(out_root, {"tool": "mobile-webinfer", "tool_version": __version__,
                                           "spec": spec.to_json(), "host": {"platform": platform.platform(),
                                                                            "python": platform.python_version()}},
                                label="-".join(spec.targets)[:24])
        locks.enter_context(run_lock(store.run_dir))
    stop = stop or threading.Event()
    runner = Runner(spec, store, retry_failed=retry_failed, progress=progress, stop=stop)
    manifests = runner.models()

    def record_context(m: dict[str, Any]) -> None:
        m.setdefault("targets", {}).update(fps)
        models = m.setdefault("models", {})
        for name, mf in manifests.items():
            files = {fmt: {"sha256": f.get("sha256"), "bytes": f.get("bytes")}
                     for fmt, f in mf.data.get("files", {}).items()}
            old = models.get(name) or {}
            versions = list(old.get("versions") or ([{"files": old["files"], "first_used": m.get("created_at")}]
                                                    if old.get("files") else []))
            if not versions or versions[-1]["files"] != files:  # every model version a run used, in order
                versions.append({"files": files, "first_used": now_iso()})
            models[name] = {"task": mf.data.get("task"), "params": mf.data.get("params"), "files": files,
                            "seed": mf.data.get("seed"), "converters": mf.data.get("converters"),
                            "versions": versions}
        m.setdefault("resumed_at", [])
        if resume is not None:
            m["resumed_at"].append(now_iso())
        for name, why in lost.items():
            m.setdefault("target_failures", []).append({"target": name, "at": now_iso(), "error": why})

    store.update_manifest(record_context)
    cells = plan(spec, targets)
    store.update_manifest(lambda m: m.update(order=plan_order(spec, cells)))  # issue 21: the order, recorded
    if progress:
        done = runner.done_keys(cells)
        progress.start(total=len(cells), done=sum(1 for c in cells if c.key in done))
    failures: dict[str, str] = {}
    raised: dict[str, BaseException] = {}

    finished = {name: threading.Event() for name in targets}

    def work(name: str, t: Target) -> None:
        try:
            runner.run_target(t, [c for c in cells if c.target == name], fps[name])
        except Stopped:
            pass
        except InfraError as exc:  # this phone failed; the others go on
            failures[name] = exc.one_line()
            raised[name] = exc
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failures[name] = f"{type(exc).__name__}: {exc}"
            raised[name] = exc
            if isinstance(exc, DiskFullError):
                stop.set()  # nothing more can be stored: every worker ends, restoring its phone
        finally:
            finished[name].set()

    def wait_all(timeout: float | None) -> bool:
        # Events, never Thread.join: a join interrupted by Ctrl-C marks a live thread as finished
        # (CPython 3.11), and the process would then exit with the phones still conditioned.
        t_end = None if timeout is None else time.monotonic() + timeout
        for ev in finished.values():
            while not ev.wait(0.2):
                if t_end is not None and time.monotonic() >= t_end:
                    return False
        return True

    threads = [threading.Thread(target=work, args=(n, t), name=f"mwi-{n}", daemon=True)
               for n, t in targets.items()]
    try:
        for th in threads:
            th.start()
        try:
            wait_all(None)
        except KeyboardInterrupt:
            stop.set()
            wait_all(60)  # each worker ends at its next wait and leaves its phone restored
            raise
    finally:
        if progress:
            progress.finish()

        def finish(m: dict[str, Any]) -> None:
            m["versions"] = versions_seen(store.results())
            for name, why in failures.items():
                m.setdefault("target_failures", []).append({"target": name, "at": now_iso(), "error": why})

        store.update_manifest(finish)
    full = [e for e in raised.values() if isinstance(e, DiskFullError)]
    if full:  # outputs/*.npz, profiles/ or the restore journal: add the run and how to finish it
        with disk_full_guard(store.run_dir, full[0].path):
            raise full[0]
    if len(spec.targets) == 1 and raised:
        (exc,) = raised.values()
        if not isinstance(exc, TargetLost) and not device_gone(exc):  # one target: its error is the sweep's
            raise exc
    if stop.is_set() and not failures:
        raise KeyboardInterrupt
    all_failed = {**lost, **failures}
    phones_lost = all(isinstance(e, TargetLost) or device_gone(e) for e in raised.values())
    if all_failed and len(all_failed) == len(spec.targets) and not (raised and phones_lost):
        # (phones that went away: the outcome carries them; the CLI prints each with its --resume
        # command and the run directory last, as for a sweep where only some were lost)
        raise InfraError("every target failed: " + "; ".join(f"{k}: {v}" for k, v in all_failed.items())
                         + f" (results so far in {store.run_dir}; finish with --resume)")
    return SweepOutcome(store, all_failed)


def plan_order(spec: SweepSpec, cells: list[Cell]) -> dict[str, Any]:
    """The manifest's `order`: how the cells were ordered and the order itself (every key)."""
    from .order import POLICY

    return {"policy": POLICY, "seed": spec.order_seed, "keys": [c.key for c in cells]}


def versions_seen(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Browser / framework versions seen by the pages, per target, for the manifest."""
    from ..records import load_records

    seen: dict[str, dict[str, Any]] = {}
    for rec in load_records(records):
        if rec.cell is None:
            continue
        entry = seen.setdefault(rec.cell.target, {"frameworks": {}, "browsers": {}})
        for k, v in rec.eff.versions.items():
            entry["frameworks"][k] = v
        if rec.browser_version:
            entry["browsers"][rec.cell.browser] = rec.browser_version
        if rec.eff.user_agent:
            entry["user_agent"] = rec.eff.user_agent
    return seen


def resolve_for_dry_run(spec: SweepSpec, make_target: TargetFactory | None = None, *,
                        phone_locks: bool = True) -> list[Cell]:
    """The plan a run of `spec` would measure: targets are asked (browsers installed on each
    phone, native backends), nothing is measured and no run directory is created."""
    spec.validate()
    with contextlib.ExitStack() as locks:
        for name in phone_names(spec) if phone_locks else ():  # describing a phone replays its journal
            locks.enter_context(device_lock(name))
        targets, _fps, lost = connect_targets(spec, make_target or default_target_factory(spec))
    if lost:
        raise InfraError("cannot plan: " + "; ".join(f"{k}: {v}" for k, v in lost.items()))
    return plan(spec, targets)


__all__ = ["Runner", "SweepOutcome", "TargetLost", "plan", "run_sweep", "resolve_for_dry_run",
           "default_target_factory", "UsageError"]
