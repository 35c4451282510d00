"""The typed seam: cell records (schema 2, schema-1 migration), hidden pages, the Target
contract, and layers that only look down."""

from __future__ import annotations

import ast
import dataclasses
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from mobile_webinfer.errors import StoreError
from mobile_webinfer.records import PAGE_HIDDEN, CellRecord, load_records
from mobile_webinfer.report import build_rows
from mobile_webinfer.store import RunStore
from mobile_webinfer.sweep.policy import cell_flags
from mobile_webinfer.targets.android import AndroidTarget
from mobile_webinfer.targets.contract import Target
from mobile_webinfer.targets.local import LocalTarget
from mobile_webinfer.vocab import Cell
from mobile_webinfer.web.protocol import validate_result
from tests.sweep_helpers import MWI
from tests.web.helpers import REF, good_result, make_model, make_pages, toy_config

ROOT = Path(__file__).resolve().parents[2]
SCHEMA1 = ROOT / "tests" / "core" / "data" / "schema1_run"


def test_schema1_run_reports_unchanged(tmp_path):
    expected = json.loads((SCHEMA1 / "report.schema1.json").read_text())
    rows = build_rows(RunStore.open(SCHEMA1).results())
    assert len(rows) == len(expected)
    for got, want in zip(json.loads(json.dumps(rows)), expected):
        assert _contains(got, want), (got, want)  # every key and value as before (new keys may be added)
    run = tmp_path / "run"
    shutil.copytree(SCHEMA1, run)
    p = subprocess.run(MWI + ["report", str(run), "--json"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert all(_contains(g, w) for g, w in zip(json.loads(p.stdout), expected))


def _contains(big, small) -> bool:
    """Every key and value of `small` is in `big` (new keys may be added), recursively."""
    if isinstance(small, dict):
        return isinstance(big, dict) and all(k in big and _contains(big[k], v) for k, v in small.items())
    return big == small


def test_records_round_trip_and_keep_unknown_keys():
    raw = RunStore.open(SCHEMA1).results()
    recs = load_records(raw)
    assert {r.schema_version for r in recs} == {1} and all(isinstance(r.cell, Cell) for r in recs)
    for d, r in zip(raw, recs):
        again = CellRecord.from_json(r.to_json())
        assert again.to_json() == r.to_json()
        for k, v in d.items():  # nothing stored by schema 1 is lost (except the version, now 2)
            if k != "schema_version":
                assert _contains(json.loads(json.dumps(r.to_json()[k])), v), k
    d = {**raw[0], "from_the_future": {"x": 1}, "in_effect": {**raw[0]["in_effect"], "new_knob": 3}}
    r = CellRecord.from_json(d)
    assert r.extra["from_the_future"] == {"x": 1} and r.eff.extra["new_knob"] == 3
    assert r.to_json()["from_the_future"] == {"x": 1} and r.to_json()["in_effect"]["new_knob"] == 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.status = "ok"  # type: ignore[misc]


def test_newer_schema_is_refused_in_one_line():
    with pytest.raises(StoreError, match="schema_version 3 is not one this mwi reads") as e:
        CellRecord.from_json({"key": "k", "schema_version": 3})
    assert "\n" not in str(e.value)


def _page_record(tmp_path: Path, **over) -> tuple[Cell, CellRecord]:
    import tempfile

    data = make_model(Path(tempfile.mkdtemp(dir=tmp_path)) / "models")
    cfg = toy_config(data).with_cell("c1")
    res = validate_result(good_result(cfg, "tok", REF, **over), config=cfg)
    cell = Cell("local", "chromium", "toy", "tfjs", "wasm", 1, 0)
    rec = dataclasses.replace(CellRecord.from_page_result(res.raw), cell=cell, key=cell.key)
    return cell, rec.with_flags(*cell_flags(cell, rec))


def test_hidden_page_is_flagged_and_never_published(tmp_path):
    cell, visible = _page_record(tmp_path, visibility={"at_start": "visible", "hidden_during_run": False})
    assert visible.ok and PAGE_HIDDEN not in visible.flags
    assert visible.visibility is not None and visible.visibility.hidden_during_run is False
    _, hidden = _page_record(tmp_path, visibility={"at_start": "visible", "hidden_during_run": True})
    assert hidden.status == "error" and hidden.error_kind == PAGE_HIDDEN and PAGE_HIDDEN in hidden.flags
    assert hidden.latencies_ms  # the numbers are kept in the record...
    (row,) = build_rows([hidden.to_json()])
    assert row["browser_median_ms"] is None and row["gap"] is None  # ...but never published
    assert PAGE_HIDDEN in row["flags"] and PAGE_HIDDEN in row["error"]
    (row,) = build_rows([visible])
    assert row["browser_median_ms"] == pytest.approx(0.5)


def test_page_result_keeps_everything_the_page_reports(tmp_path):
    _, rec = _page_record(tmp_path, runtime_load_ms=41.5, wasm_files=["tfjs-backend-wasm-simd.wasm"],
                          runtime_info={"build": "simd"}, visibility={"at_start": "visible",
                                                                      "hidden_during_run": False})
    j = rec.to_json()
    assert j["runtime_load_ms"] == 41.5 and j["visibility"]["at_start"] == "visible"
    assert j["in_effect"]["wasm_files"] == ["tfjs-backend-wasm-simd.wasm"]
    assert j["in_effect"]["runtime_info"] == {"build": "simd"}


def test_both_targets_declare_the_whole_contract():
    for t in (LocalTarget(), AndroidTarget("emulator-5554")):
        assert isinstance(t, Target)
    with pytest.raises(Exception, match="not connected"):
        AndroidTarget("emulator-5554").dev  # the constructor never talks to the phone


# -- layers -------------------------------------------------------------------------------
LAYERS = [
    {"errors", "vocab", "files", "hostproc", "paths", "retry", "stats", "paired_stats", "agreement", "records", "store", "locks",
     "progress", "qoe_metrics", "__init__"},
    {"parsers"},
    {"adb"},
    {"probes", "browsers", "web", "models", "native"},
    {"targets"},
    {"sweep", "studies"},
    {"cluster"},  # phones on many hosts: proxies over sweep's runner (the one package that imports ray)
    {"report"},
    {"htmlreport"},  # the HTML report is drawn from the report's rows
    {"history"},  # results over time: many runs' Parquet, change points, the CI gate (re-measures by sweep)
    {"cli"},
    {"__main__"},
]
BASE = LAYERS[0]
RANK = {name: i for i, names in enumerate(LAYERS) for name in names}


def _imports(path: Path, pkg: list[str]) -> list[list[str]]:
    out = []
    tree = ast.parse(path.read_text())
    typing_only = {id(n) for top in ast.walk(tree) if isinstance(top, ast.If) and "TYPE_CHECKING" in ast.unparse(top.test)
                   for n in ast.walk(top)}
    for node in ast.walk(tree):
        if id(node) in typing_only:  # annotations only: no import at run time
            continue
        if isinstance(node, ast.ImportFrom) and node.level:
            base = pkg[: len(pkg) - (node.level - 1)]
            mod = base + (node.module.split(".") if node.module else [])
            if node.module is None:
                out += [base + [a.name] for a in node.names]
            else:
                out.append(mod)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mobile_webinfer"):
            out.append(node.module.split("."))
        elif isinstance(node, ast.Import):
            out += [a.name.split(".") for a in node.names if a.name.startswith("mobile_webinfer")]
    return out


def test_modules_import_only_from_layers_below():
    pkg_root = ROOT / "mobile_webinfer"
    bad = []
    for path in sorted(pkg_root.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("").parts
        me = rel[1] if len(rel) > 1 else "__init__"
        for mod in _imports(path, list(rel[:-1])):  # the package that holds the module
            if len(mod) < 2 or mod[0] != "mobile_webinfer":
                continue
            other = mod[1] if (pkg_root / mod[1]).exists() or (pkg_root / f"{mod[1]}.py").exists() else "__init__"
            if other == me or (me in BASE and other in BASE):  # base modules use each other (no cycles: below)
                continue
            if other not in RANK or me not in RANK:
                bad.append(f"{'/'.join(rel)} -> {other} (no layer)")
            elif RANK[other] >= RANK[me]:
                bad.append(f"{'/'.join(rel)} -> {'.'.join(mod)}")
    assert not bad, "imports that do not look down:\n" + "\n".join(bad)


def test_no_import_cycles_between_modules():
    """Module-level graph of every import (function-local ones too): no cycles."""
    pkg_root = ROOT / "mobile_webinfer"
    names = {}
    for path in pkg_root.rglob("*.py"):
        rel = path.relative_to(ROOT).with_suffix("").parts
        names[".".join(rel[:-1] if rel[-1] == "__init__" else rel)] = path
    graph: dict[str, set[str]] = {}
    for name, path in names.items():
        rel = path.relative_to(ROOT).with_suffix("").parts
        deps = set()
        for mod in _imports(path, list(rel[:-1])):
            for k in range(len(mod), 1, -1):  # the longest prefix that is a module of ours
                cand = ".".join(mod[:k])
                if cand in names and cand != name:
                    if not (name.startswith(cand + ".") and names[cand].name == "__init__.py"):
                        deps.add(cand)
                    break
        graph[name] = deps
    seen: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(n: str) -> None:
        seen[n] = 1
        stack.append(n)
        for d in sorted(graph.get(n, ())):
            if seen.get(d) == 1:
                cycles.append(stack[stack.index(d):] + [d])
            elif d not in seen:
                visit(d)
        stack.pop()
        seen[n] = 2

    for n in sorted(graph):
        if n not in seen:
            visit(n)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_one_list_of_vendored_files_covers_every_runtime(tmp_path):
    from mobile_webinfer.vocab import BROWSER_RUNTIMES
    from mobile_webinfer.web.server import PageServer
    from mobile_webinfer.web.vendor import RUNTIME_VENDOR, runtime_files

    assert set(RUNTIME_VENDOR) == set(BROWSER_RUNTIMES)
    assert "tfjs/tf.min.js" in runtime_files("tflite")  # tfjs-tflite's bundle needs tfjs-core
    data = make_model(tmp_path / "models")
    pages = make_pages(tmp_path / "pages")
    (pages / "vendor" / "tfjs" / "tf.min.js").unlink()
    with PageServer(models_dir=tmp_path / "models", pages_dir=pages) as server:
        with pytest.raises(Exception, match="missing vendored file .*pages/vendor/tfjs/tf.min.js"):
            server.open_cell(toy_config(data))
