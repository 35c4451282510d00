"""Per-operator profiles of a run (`mwi sweep --profile-ops`) and the per-operator gap table.

Profiles are taken in *separate* page loads / processes after a target's latency cells, through
the Target contract (`Target.profile`, the same path on this computer and on phones), so
profiling (which slows every kernel down a little) never touches the latency numbers.  Each
profile is stored in `RUN_DIR/profiles/`: the runtime's raw export under `raw/` (kept for other
tools) and a small JSON index entry naming the cell, the source and the raw file (or, for a
runtime without a profiler, `status: unsupported` and the reason); the report re-parses the raw.

Where profiles come from:
- TF.js wasm / cpu: `tf.profile` kernel lists; ONNX Runtime Web wasm: its session profiler's
  trace (pages/adapters/ort.js); LiteRT.js exposes no profiler (unsupported, the page says so).
- `ort-native`: ONNX Runtime's own profiler on the `.onnx` file (wall time per kernel).
- `tflite-native` on this computer: LiteRT's Python interpreter has no per-operator profiler
  (unsupported), so the host pairs operators with ORT.
- phones: `benchmark_model --enable_op_profiling=true` text, parsed by
  `parsers.op_profile.parse_benchmark_op_profile`.
- webgl / webgpu / webnn: kernel times there are GPU timer queries or CPU-side dispatch, not
  wall time per kernel: unsupported, with that reason.
"""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import MwiError, StoreError, device_gone
from ..files import atomic_write_json, atomic_write_text
from ..parsers.op_classes import RUNTIME_OVERHEAD, classify
from ..parsers.op_profile import OpProfile, parse_benchmark_op_profile, parse_ort_profile, parse_tfjs_profile
from ..records import CellRecord, load_records
from ..targets.contract import Stopped
from ..vocab import NATIVE_RUNTIME, NATIVE_RUNTIMES, ORT_NATIVE_RUNTIME, Cell

PROFILES_DIR = "profiles"
OP_ROW_KEYS = ("target", "model", "runtime", "backend", "threads", "op_class", "count", "browser_ms", "native_ms",
               "ratio", "share", "excess_ms", "native_runtime", "native_backend", "profiled_slowdown")
SOURCES = {"onnxruntime": "json", "tfjs": "json", "benchmark_model": "txt"}


@dataclass(frozen=True)
class StoredProfile:
    target: str
    model: str
    runtime: str
    backend: str
    threads: int
    source: str          # onnxruntime | tfjs | benchmark_model
    raw: str             # path of the raw export, relative to the run dir ("" when there is none)
    skip_runs: int = 0   # warmup inferences inside the raw export (ORT profiles the whole session)
    status: str = "ok"   # ok | unsupported (the runtime / backend has no wall-clock profiler) | error
    error: str = ""      # why not ok

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def parse(self, run_dir: Path) -> OpProfile:
        text = (Path(run_dir) / self.raw).read_text(encoding="utf-8")
        if self.source == "onnxruntime":
            return parse_ort_profile(text, skip_runs=self.skip_runs, source=self.raw)
        if self.source == "tfjs":
            return parse_tfjs_profile(text, source=self.raw)
        if self.source == "benchmark_model":
            return parse_benchmark_op_profile(text, source=self.raw)
        raise StoreError(f"{self.raw}: unknown profile source {self.source!r}")


def store_profile(run_dir: Path, sp: StoredProfile) -> Path:
    """Add one profile's index entry (its raw file is already under RUN_DIR/profiles/raw/)."""
    name = f"{sp.target}__{sp.model}__{sp.runtime}__{sp.backend}__t{sp.threads}.json".replace("/", "_")
    path = Path(run_dir) / PROFILES_DIR / name
    atomic_write_json(path, sp.to_json())
    return path


def load_profiles(run_dir: Path) -> list[StoredProfile]:
    d = Path(run_dir) / PROFILES_DIR
    out = []
    for p in sorted(d.glob("*.json")) if d.is_dir() else []:
        try:
            out.append(StoredProfile(**json.loads(p.read_text(encoding="utf-8"))))
        except (json.JSONDecodeError, TypeError) as exc:
            raise StoreError(f"{p}: not a profile index entry ({exc})") from None
    return out


def profile_cells(cells: Iterable[Cell]) -> list[Cell]:
    """The cells a profiled phase takes: one per latency configuration (repeat 0; QoE cells are
    not profiled), in plan order."""
    seen: set[tuple[Any, ...]] = set()
    out = []
    for c in cells:
        if c.is_qoe or c.config_key in seen:
            continue
        seen.add(c.config_key)
        out.append(c)
    return out


def profile_target(run_dir: Path, target: Any, cells: Iterable[Cell], manifests: dict[str, Any], server: Any,
                   budget: Any, stop: Any) -> list[StoredProfile]:
    """`mwi sweep --profile-ops`, after a target's latency cells, through the Target contract
    (`Target.profile`): each configuration once more, in a separate page load / process with the
    runtime's profiler on; the raw export goes to profiles/raw/ and an index entry beside it.  A
    runtime without a profiler is stored `unsupported` with its reason; a configuration already
    profiled (a resumed run) is not taken again; a failed profile is stored `error` with its words
    (the latency cells are untouched either way)."""
    run_dir = Path(run_dir)
    raw_dir = run_dir / PROFILES_DIR / "raw"
    raw_dir.mkdir(parents=True, exist_ok=True)
    have = {(p.target, p.model, p.runtime, p.backend, p.threads) for p in load_profiles(run_dir) if p.status == "ok"}
    done = []
    for cell in profile_cells(cells):
        if stop.is_set():
            break
        ident = (cell.target, cell.model, cell.runtime, cell.backend, cell.threads)
        if ident in have:
            continue
        base = StoredProfile(target=cell.target, model=cell.model, runtime=cell.runtime, backend=cell.backend,
                             threads=cell.threads, source="", raw="")
        try:
            cap = target.profile(cell, manifests[cell.model], server, budget, stop)
        except Stopped:
            break
        except MwiError as exc:
            if device_gone(exc):
                raise
            sp = dataclasses.replace(base, status="error", error=exc.one_line())
            store_profile(run_dir, sp)
            done.append(sp)
            continue
        if cap.unsupported:
            sp = dataclasses.replace(base, status="unsupported", error=cap.unsupported)
        else:
            ext = SOURCES.get(cap.source)
            if ext is None:
                raise StoreError(f"{cell.key}: unknown profile source {cap.source!r}")
            dest = raw_dir / (f"{cell.target}__{cell.model}__{cell.runtime}__{cell.backend}__t{cell.threads}"
                              f".{cap.source}.{ext}").replace("/", "_")
            atomic_write_text(dest, cap.raw)
            sp = dataclasses.replace(base, source=cap.source, raw=str(dest.relative_to(run_dir)), skip_runs=cap.skip_runs)
            try:
                sp.parse(run_dir)  # refuse to index an export we cannot read
            except MwiError as exc:
                sp = dataclasses.replace(sp, status="error", error=f"unreadable export: {exc.one_line()}")
        store_profile(run_dir, sp)
        done.append(sp)
    return done


# -- the per-operator gap table ------------------------------------------------------------------
def _medians(records: list[CellRecord]) -> dict[tuple[str, str, str, str, int], float]:
    """Median latency per (target, model, runtime, backend, threads asked) from the unprofiled cells."""
    pooled: dict[tuple[str, str, str, str, int], list[float]] = defaultdict(list)
    for r in records:
        c = r.cell
        if c is None or not r.ok:
            continue
        pooled[(c.target, c.model, c.runtime, c.backend, c.threads)].extend(x for x in r.samples_ms() if x is not None)
    out = {}
    for k, xs in pooled.items():
        xs = sorted(xs)
        if xs:
            n = len(xs)
            out[k] = xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2
    return out


def class_totals(p: OpProfile) -> dict[str, tuple[int, float]]:
    """op class -> (operators, ms per inference)."""
    acc: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for o in p.ops:
        a = acc[classify(o.op_type, f"{o.name} {o.hint}")]
        a[0] += 1
        a[1] += o.ms
    return {k: (int(v[0]), float(v[1])) for k, v in acc.items()}


def _pick_native(prof: StoredProfile, natives: dict[tuple[str, str, int], dict[str, StoredProfile]],
                 pair_ort_with: str) -> StoredProfile | None:
    have = natives.get((prof.target, prof.model, prof.threads), {})
    order = [ORT_NATIVE_RUNTIME] if (prof.runtime == "ort" and pair_ort_with == ORT_NATIVE_RUNTIME) \
        else [NATIVE_RUNTIME, ORT_NATIVE_RUNTIME]  # the host has no LiteRT per-operator profile: ORT stands in
    return next((have[r] for r in order if r in have), None)


def op_gap_rows(run_dir: Path, records: Iterable[CellRecord | dict[str, Any]] | None = None, *,
                pair_ort_with: str = NATIVE_RUNTIME) -> list[dict[str, Any]]:
    """Rows of the per-operator gap table: per profiled cell, one per operator class (sorted by
    excess ms) and one `runtime-overhead` row: the whole inference minus the operator sum, the whole
    inference as the profiled runs timed it where the source times them (ORT, benchmark_model, the
    TF.js page's wall time around each tf.profile run), else the unprofiled median (profiles stored
    before the page timed them: there profiled kernels can sum above it, a negative overhead)."""
    if pair_ort_with not in NATIVE_RUNTIMES:
        raise StoreError(f"--pair-ort-with must be one of {', '.join(NATIVE_RUNTIMES)}")
    run_dir = Path(run_dir)
    if records is None:
        from ..store import RunStore

        records = RunStore.open(run_dir).results()
    med = _medians(load_records(records))
    profs = [p for p in load_profiles(run_dir) if p.status == "ok"]
    parsed: dict[StoredProfile, OpProfile] = {}
    for sp in profs:
        try:
            parsed[sp] = sp.parse(run_dir)
        except (OSError, MwiError) as exc:
            raise StoreError(f"profile {sp.raw} unreadable: {exc}") from None
    natives: dict[tuple[str, str, int], dict[str, StoredProfile]] = defaultdict(dict)
    for sp in profs:
        if sp.runtime in NATIVE_RUNTIMES:
            natives[(sp.target, sp.model, sp.threads)][sp.runtime] = sp
    rows: list[dict[str, Any]] = []
    for sp in sorted(profs, key=lambda s: (s.target, s.model, s.runtime in NATIVE_RUNTIMES, s.runtime, s.backend,
                                           s.threads)):
        is_native = sp.runtime in NATIVE_RUNTIMES
        nat = None if is_native else _pick_native(sp, natives, pair_ort_with)
        mine = class_totals(parsed[sp])
        theirs = class_totals(parsed[nat]) if nat else {}
        # whole inference: as the profiled runs timed it (ORT's model_run, benchmark_model's Timings,
        # the TF.js page's wall time around tf.profile), so operators and overhead come from the same
        # runs; else (older TF.js profiles) the unprofiled median
        unprof = med.get((sp.target, sp.model, sp.runtime, sp.backend, sp.threads))
        prof_whole = parsed[sp].total_ms
        whole = prof_whole or unprof
        nat_whole = (parsed[nat].total_ms or med.get((nat.target, nat.model, nat.runtime, nat.backend, nat.threads))
                     if nat else None)
        # what profiling costs: the profiled runs' own whole-run time over the unprofiled median (the
        # operator times carry that cost; tf.profile's is large, ORT's small)
        slowdown = prof_whole / unprof if (prof_whole and unprof) else None
        ident = dict(target=sp.target, model=sp.model, runtime=sp.runtime, backend=sp.backend, threads=sp.threads,
                     native_runtime=nat.runtime if nat else None, native_backend=nat.backend if nat else None,
                     profiled_slowdown=_r(slowdown))
        cell_rows = []
        for cls in sorted(set(mine) | set(theirs)):
            cnt, ms = mine.get(cls, (0, 0.0))
            nms = theirs[cls][1] if cls in theirs else (None if not is_native else ms)
            if is_native:  # a native profile on its own: its times are the native column
                cell_rows.append(_row(ident, cls, cnt, None, ms, whole))
            else:
                cell_rows.append(_row(ident, cls, cnt, ms, nms, whole))
        cell_rows.sort(key=_by_excess)
        rows += cell_rows
        op_sum = parsed[sp].op_sum_ms
        over = None if whole is None else whole - op_sum
        nat_over = None if (nat is None or nat_whole is None) else nat_whole - parsed[nat].op_sum_ms
        if is_native:
            rows.append(_row(ident, RUNTIME_OVERHEAD, 0, None, over, whole))
        else:
            rows.append(_row(ident, RUNTIME_OVERHEAD, 0, over, nat_over, whole))
    return rows


def profile_notes(run_dir: Path) -> list[dict[str, Any]]:
    """The configurations without a profile, and why (`unsupported` runtimes, failed profiles)."""
    return [p.to_json() for p in load_profiles(Path(run_dir)) if p.status != "ok"]


def _by_excess(r: dict[str, Any]) -> tuple[bool, float]:
    """Largest excess first; classes without a pairing after them, the largest time first."""
    if r["excess_ms"] is not None:
        return (False, -float(r["excess_ms"]))
    return (True, -float(r["browser_ms"] if r["browser_ms"] is not None else r["native_ms"] or 0.0))


def _row(ident: dict[str, Any], cls: str, count: int, b: float | None, n: float | None,
         whole: float | None) -> dict[str, Any]:
    ratio = b / n if (b is not None and n) else None
    share = b / whole if (b is not None and whole) else None
    excess = b - n if (b is not None and n is not None) else None
    r: dict[str, Any] = {k: None for k in OP_ROW_KEYS}
    r.update(ident, op_class=cls, count=count, browser_ms=_r(b), native_ms=_r(n), ratio=_r(ratio), share=_r(share),
             excess_ms=_r(excess))
    return r


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 5)


def render_op_table(rows: list[dict[str, Any]], console: Any = None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    if not console.is_terminal:
        console.width = max(console.width, 160)
    t = Table(title="per-operator gap (ms per inference; runtime-overhead = whole inference - operator sum, "
                    "both from the profiled runs where the runtime times whole runs, else the unprofiled median)")
    for col in ("target", "model", "runtime/backend", "thr", "op class", "n", "browser ms", "native ms", "ratio",
                "share", "excess ms", "native", "profiled x"):
        t.add_column(col, no_wrap=True)

    def f(x: float | None, nd: int = 3) -> str:
        return "-" if x is None else f"{x:.{nd}f}"

    for r in rows:
        t.add_row(r["target"], r["model"], f"{r['runtime']}/{r['backend']}", str(r["threads"]), r["op_class"],
                  str(r["count"]), f(r["browser_ms"]), f(r["native_ms"]), f(r["ratio"], 2),
                  "-" if r["share"] is None else f"{100 * r['share']:.0f}%", f(r["excess_ms"]),
                  f"{r['native_runtime']}/{r['native_backend']}" if r["native_runtime"] else "-",
                  f(r["profiled_slowdown"], 2) if r["op_class"] == RUNTIME_OVERHEAD else "")
    console.print(t)


__all__ = ["OP_ROW_KEYS", "PROFILES_DIR", "StoredProfile", "class_totals",
           "load_profiles", "op_gap_rows", "profile_cells", "profile_notes", "profile_target", "render_op_table",
           "store_profile"]
