"""Per-operator profiles of a run (`mwi sweep --profile-ops`) and the per-operator gap table.

Profiles are taken in *separate* processes after the latency cells, so profiling (which slows
every kernel down a little) never touches the latency numbers.  Each profile is stored in
`RUN_DIR/profiles/`: the runtime's raw export under `raw/` (kept for other tools) and a small
JSON index entry naming the cell, the source and the raw file; the report re-parses the raw.

Where profiles come from on this computer:
- `ort-native`: ONNX Runtime's own profiler on the `.onnx` file (wall time per kernel).
- `tflite-native`: LiteRT's Python interpreter has no per-operator profiler (only the
  `benchmark_model` binary, i.e. phones, has one), so the host pairs operators with ORT.
- phones: `benchmark_model --enable_op_profiling=true` text, parsed by
  `parsers.op_profile.parse_benchmark_op_profile` (stored the same way when present).
"""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import MwiError, StoreError
from ..files import atomic_write_json
from ..parsers.op_classes import RUNTIME_OVERHEAD, classify
from ..parsers.op_profile import OpProfile, parse_benchmark_op_profile, parse_ort_profile, parse_tfjs_profile
from ..records import CellRecord, load_records
from ..vocab import NATIVE_RUNTIME, NATIVE_RUNTIMES, ORT_NATIVE_RUNTIME

PROFILES_DIR = "profiles"
PROFILE_WARMUPS = 3
PROFILE_RUNS = 20
OP_ROW_KEYS = ("target", "model", "runtime", "backend", "threads", "op_class", "count", "browser_ms", "native_ms",
               "ratio", "share", "excess_ms", "native_runtime", "native_backend")
SOURCES = {"onnxruntime": "json", "tfjs": "json", "benchmark_model": "txt"}


@dataclass(frozen=True)
class StoredProfile:
    target: str
    model: str
    runtime: str
    backend: str
    threads: int
    source: str          # onnxruntime | tfjs | benchmark_model
    raw: str             # path of the raw export, relative to the run dir
    skip_runs: int = 0   # warmup inferences inside the raw export (ORT profiles the whole session)

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


def profile_host_native(run_dir: Path, models: Iterable[str], threads: Iterable[int], *,
                        target: str = "local", warmups: int = PROFILE_WARMUPS, runs: int = PROFILE_RUNS,
                        timeout_s: float = 600.0) -> list[StoredProfile]:
    """ONNX Runtime's profiler on each model's `.onnx`, one fresh process per thread count."""
    from ..models.build import ensure_built
    from ..native import ort_host

    raw_dir = Path(run_dir) / PROFILES_DIR / "raw"
    done = []
    for model in models:
        manifest = ensure_built(model)
        inputs = [(manifest.dir / s["path"], s["dtype"], s["shape"]) for s in manifest.data["sample_inputs"]]
        io = manifest.data.get("io_names", {}).get("onnx", {})
        for t in sorted(set(threads)):
            tmp = raw_dir / f"tmp-{model}-t{t}"
            trace = ort_host.profile_isolated(manifest.file("onnx"), inputs, threads=t, out_dir=tmp,
                                              warmups=warmups, iterations=runs, timeout_s=timeout_s,
                                              input_names=io.get("inputs"))
            dest = raw_dir / f"{target}__{model}__{ORT_NATIVE_RUNTIME}__cpu__t{t}.ort.json"
            shutil.move(str(trace), dest)
            shutil.rmtree(tmp, ignore_errors=True)
            sp = StoredProfile(target=target, model=model, runtime=ORT_NATIVE_RUNTIME, backend="cpu", threads=t,
                               source="onnxruntime", raw=str(dest.relative_to(run_dir)), skip_runs=warmups)
            sp.parse(Path(run_dir))  # refuse to index an export we cannot read
            store_profile(Path(run_dir), sp)
            done.append(sp)
    return done


#: browser runtimes whose adapter can profile operators in the page, and the backends where the
#: profiler times kernels by wall clock (wasm, cpu); GPU backends time with GPU queries, if at all
BROWSER_PROFILERS = {"tfjs": ("wasm", "cpu")}


def profile_local_browsers(run_dir: Path, spec: Any, *, stop: Any = None) -> list[StoredProfile]:
    """One extra headless Chromium page load per (model, runtime, backend, threads) with the
    runtime's profiler on (`tf.profile` for TF.js); the raw kernel list goes to profiles/raw/."""
    import threading

    from ..models.build import ensure_built
    from ..paths import models_dir
    from ..targets.local import LOCAL, LOCAL_BROWSER, LocalTarget
    from ..vocab import Cell, PageOptions
    from ..web.server import PageServer

    target = LocalTarget(spec.chromium, page=PageOptions(webnn_device=spec.webnn_device,
                                                         thread_policy=spec.thread_policy))
    stop = stop or threading.Event()
    raw_dir = Path(run_dir) / PROFILES_DIR / "raw"
    raw_dir.mkdir(parents=True, exist_ok=True)
    done = []
    with PageServer(models_dir=models_dir()) as server:
        for model in spec.models:
            manifest = ensure_built(model)
            for rt, backends in BROWSER_PROFILERS.items():
                if rt not in spec.runtimes:
                    continue
                for be in (b for b in backends if b in spec.backends):
                    for t in ([min(spec.threads)] if be == "cpu" else sorted(set(spec.threads))):
                        cell = Cell(LOCAL, LOCAL_BROWSER, model, rt, be, t, 0)
                        prof = target.profile_browser_cell(cell, manifest, server, spec.budget, stop)
                        dest = raw_dir / f"{LOCAL}__{model}__{rt}__{be}__t{t}.{rt}.json"
                        atomic_write_json(dest, prof.get("runs"))
                        sp = StoredProfile(target=LOCAL, model=model, runtime=rt, backend=be, threads=t,
                                           source=str(prof.get("source")), raw=str(dest.relative_to(run_dir)))
                        sp.parse(Path(run_dir))
                        store_profile(Path(run_dir), sp)
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
    excess ms) and one `runtime-overhead` row (the unprofiled median minus the operator sum)."""
    if pair_ort_with not in NATIVE_RUNTIMES:
        raise StoreError(f"--pair-ort-with must be one of {', '.join(NATIVE_RUNTIMES)}")
    run_dir = Path(run_dir)
    if records is None:
        from ..store import RunStore

        records = RunStore.open(run_dir).results()
    med = _medians(load_records(records))
    profs = load_profiles(run_dir)
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
        whole = med.get((sp.target, sp.model, sp.runtime, sp.backend, sp.threads))
        nat_whole = med.get((nat.target, nat.model, nat.runtime, nat.backend, nat.threads)) if nat else None
        ident = dict(target=sp.target, model=sp.model, runtime=sp.runtime, backend=sp.backend, threads=sp.threads,
                     native_runtime=nat.runtime if nat else None, native_backend=nat.backend if nat else None)
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
    t = Table(title="per-operator gap (ms per inference; runtime-overhead = whole inference - operator sum)")
    for col in ("target", "model", "runtime/backend", "thr", "op class", "n", "browser ms", "native ms", "ratio",
                "share", "excess ms", "native"):
        t.add_column(col, no_wrap=True)

    def f(x: float | None, nd: int = 3) -> str:
        return "-" if x is None else f"{x:.{nd}f}"

    for r in rows:
        t.add_row(r["target"], r["model"], f"{r['runtime']}/{r['backend']}", str(r["threads"]), r["op_class"],
                  str(r["count"]), f(r["browser_ms"]), f(r["native_ms"]), f(r["ratio"], 2),
                  "-" if r["share"] is None else f"{100 * r['share']:.0f}%", f(r["excess_ms"]),
                  f"{r['native_runtime']}/{r['native_backend']}" if r["native_runtime"] else "-")
    console.print(t)


__all__ = ["OP_ROW_KEYS", "PROFILES_DIR", "StoredProfile", "class_totals", "load_profiles", "op_gap_rows",
           "profile_host_native", "render_op_table", "store_profile"]
