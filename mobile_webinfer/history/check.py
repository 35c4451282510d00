"""`mwi check`: a run against a baseline, row by row, as a CI gate.

Each configuration of the run is matched with the baseline's (target, browser, model, runtime,
backend, threads; the target is left out of the match when each run measured one target, e.g. the
same phone model on another serial).  The ratio of medians (run / baseline) gets a CI95 from the
two rows' own CIs (on the log scale: se = sqrt(se_run^2 + se_base^2)).  A row is `regressed` only
when that CI lies wholly above 1 + threshold, `improved` when wholly below 1 - threshold, `ok`
when wholly inside the band, `unclear` otherwise; a row without a CI on both sides (native cells
store a summary) is `no-ci` and never fails the gate.

With `confirm`, the regressed configurations are measured again on the same target by the sweep
machinery (with their native references, as the run had them) into `<lab>/history/confirm/`, and a
row stays regressed only when the new measurement is regressed as well.

Exit status of the gate: 0 no regression, 4 a regression (confirmed, when asked to confirm).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..errors import StoreError, UsageError
from ..files import atomic_write_json, atomic_write_text
from .runs import Lab, RunInfo, config_rows, is_run_like, open_lab, state_dir_for

EXIT_REGRESSION = 4
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
ConfigKey = tuple[str, str, str, str, str, int]


@dataclass(frozen=True)
class Row:
    """One configuration's numbers in one run."""

    key: ConfigKey
    median_ms: float
    ci95_ms: tuple[float, float] | None
    gap: float | None


@dataclass(frozen=True)
class CheckRow:
    key: ConfigKey
    status: str                      # regressed, improved, ok, unclear, no-ci, new, missing
    ratio: float | None
    ratio_ci95: tuple[float, float] | None
    median_ms: float | None
    baseline_ms: float | None
    confirm: str | None = None       # with --confirm: the re-measured row's status (and its ratio)

    @property
    def id(self) -> str:
        t, b, m, r, be, th = self.key
        return f"{t}|{b}|{m}|{r}|{be}|t{th}"

    def to_json(self) -> dict[str, Any]:
        return {"config": self.id, "status": self.status, "ratio": self.ratio,
                "ratio_ci95": list(self.ratio_ci95) if self.ratio_ci95 else None, "median_ms": self.median_ms,
                "baseline_ms": self.baseline_ms, "confirm": self.confirm}


@dataclass(frozen=True)
class CheckResult:
    run_dir: Path
    baseline_dir: Path
    baseline_how: str                # the path, auto, or pin NAME
    threshold: float
    rows: tuple[CheckRow, ...]
    confirmed: bool                  # --confirm was asked
    confirm_run: Path | None = None

    @property
    def regressions(self) -> tuple[CheckRow, ...]:
        return tuple(r for r in self.rows if r.status == "regressed")

    @property
    def exit_code(self) -> int:
        return EXIT_REGRESSION if self.regressions else 0

    def to_json(self) -> dict[str, Any]:
        return {"run": str(self.run_dir), "baseline": str(self.baseline_dir), "baseline_how": self.baseline_how,
                "threshold": self.threshold, "confirm": self.confirmed,
                "confirm_run": str(self.confirm_run) if self.confirm_run else None,
                "regressions": len(self.regressions), "exit_code": self.exit_code,
                "rows": [r.to_json() for r in self.rows]}


def parse_threshold(text: str) -> float:
    t = text.strip()
    try:
        v = float(t[:-1]) / 100 if t.endswith("%") else float(t)
    except ValueError:
        raise UsageError(f"--threshold must be a percentage such as 5% (or a fraction such as 0.05), not {text!r}") \
            from None
    if not 0 <= v <= 10:
        raise UsageError(f"--threshold must be from 0% to 1000%, not {text!r}")
    return v


# -- pins -----------------------------------------------------------------------------------------

def _pins_path(run_dir: Path) -> Path:
    return state_dir_for(run_dir.resolve().parent) / "pins.json"


def read_pins(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise StoreError(f"{path} unreadable: {exc}") from None
    return data if isinstance(data, dict) else {}


def pin(name: str, run_dir: Path) -> Path:
    """Name a run as a baseline (`--baseline NAME`); the pins file lives in the lab's history folder."""
    if not _NAME.match(name) or name == "auto":
        raise UsageError(f"a pin name is letters, digits, '.', '_' or '-' (not 'auto'), not {name!r}")
    if not run_dir.is_dir() or not is_run_like(run_dir):
        raise UsageError(f"{run_dir} is not a run directory (expected out/runs/<run-id>, with a manifest.json)")
    lab = open_lab([run_dir], write_index=False)
    if lab.unreadable:
        raise UsageError(f"{run_dir} cannot be pinned: {lab.unreadable[0].reason}")
    path = _pins_path(run_dir)
    pins = read_pins(path)
    pins[name] = {"run_dir": str(run_dir.resolve()), "run_id": lab.runs[0].run_id,
                  "pinned_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, pins)
    return path


# -- rows -----------------------------------------------------------------------------------------

def run_rows(run: RunInfo) -> dict[ConfigKey, Row]:
    table, bad = config_rows([run])
    if bad:
        raise StoreError(f"{run.run_dir}: {bad[0].reason}")
    cols = {n: table.column(n).to_pylist() for n in table.column_names}
    out: dict[ConfigKey, Row] = {}
    for i in range(table.num_rows):
        key = (cols["target"][i], cols["browser"][i], cols["model"][i], cols["runtime"][i], cols["backend"][i],
               int(cols["threads"][i]))
        med = cols["browser_median_ms"][i]
        lo, hi = cols["ci_lo"][i], cols["ci_hi"][i]
        ci = (float(lo), float(hi)) if lo is not None and hi is not None else None
        if med is None:
            med, ci = cols["native_median_ms"][i], None
        if med is None or not med > 0:
            continue
        out[key] = Row(key=key, median_ms=float(med), ci95_ms=ci, gap=cols["gap"][i])
    return out


def _one_run(path: Path) -> RunInfo:
    if not path.is_dir() or not is_run_like(path):
        raise UsageError(f"{path} is not a run directory (expected out/runs/<run-id>, with a manifest.json)")
    lab = open_lab([path], write_index=False)
    if lab.unreadable:
        raise StoreError(f"{path}: {lab.unreadable[0].reason}")
    if not lab.runs:
        raise StoreError(f"{path} is not a run directory")
    return lab.runs[0]


def resolve_baseline(run: RunInfo, baseline: str) -> tuple[RunInfo, str]:
    """The baseline run: a run directory, `auto` (the newest earlier run of the lab on a target this run
    measured), or a pinned name."""
    if baseline == "auto":
        folder = run.run_dir.resolve().parent
        mine = {t.target for t in run.targets}
        lab: Lab = open_lab([folder], targets=mine or None)
        earlier = [r for r in lab.runs if r.run_dir.resolve() != run.run_dir.resolve() and (r.at, r.run_id) <
                   (run.at, run.run_id) and mine & {t.target for t in r.targets}]
        if not earlier:
            raise UsageError(f"--baseline auto: no earlier run of {', '.join(sorted(mine)) or 'this target'} "
                             f"in {folder}")
        return earlier[-1], "auto"
    p = Path(baseline)
    if p.is_dir():
        return _one_run(p), str(p)
    pins = read_pins(_pins_path(run.run_dir))
    if baseline in pins and isinstance(pins[baseline], Mapping):
        return _one_run(Path(pins[baseline]["run_dir"])), f"pin {baseline}"
    known = ", ".join(sorted(pins)) or "none"
    raise UsageError(f"--baseline {baseline!r} is neither a run directory, `auto`, nor a pinned name "
                     f"(pins: {known}; add one with `mwi history pin NAME RUN_DIR`)")


def _se(med: float, ci: tuple[float, float] | None) -> float | None:
    if ci is None or not (ci[0] > 0 and ci[1] > 0) or ci[1] < ci[0]:
        return None
    return (math.log(ci[1]) - math.log(ci[0])) / (2 * 1.959964)


def compare(run: Mapping[ConfigKey, Row], base: Mapping[ConfigKey, Row], threshold: float) -> list[CheckRow]:
    one_target = len({k[0] for k in run}) == 1 and len({k[0] for k in base}) == 1

    def match(k: ConfigKey) -> ConfigKey:
        return ("*", *k[1:]) if one_target else k

    bmap = {match(k): v for k, v in base.items()}
    out = []
    seen = set()
    for k, r in sorted(run.items()):
        b = bmap.get(match(k))
        if b is None:
            out.append(CheckRow(k, "new", None, None, r.median_ms, None))
            continue
        seen.add(match(k))
        ratio = r.median_ms / b.median_ms
        sa, sb = _se(r.median_ms, r.ci95_ms), _se(b.median_ms, b.ci95_ms)
        if sa is None or sb is None:
            out.append(CheckRow(k, "no-ci", ratio, None, r.median_ms, b.median_ms))
            continue
        se = math.hypot(sa, sb)
        ci = (ratio * math.exp(-1.959964 * se), ratio * math.exp(1.959964 * se))
        if ci[0] > 1 + threshold:
            status = "regressed"
        elif ci[1] < 1 - threshold:
            status = "improved"
        elif ci[0] >= 1 - threshold and ci[1] <= 1 + threshold:
            status = "ok"
        else:
            status = "unclear"
        out.append(CheckRow(k, status, ratio, ci, r.median_ms, b.median_ms))
    for k, b in sorted(bmap.items()):
        if k not in seen:
            out.append(CheckRow(b.key, "missing", None, None, None, b.median_ms))
    return out


Remeasure = Callable[[RunInfo, Sequence[ConfigKey], Path], Path]


def remeasure(run: RunInfo, suspects: Sequence[ConfigKey], out_root: Path) -> Path:
    """Measure the suspect configurations again on the run's target(s), with the run's own sweep
    settings and its native references, by the sweep machinery; returns the new run directory."""
    from ..store import RunStore
    from ..sweep.runner import run_sweep
    from ..sweep.spec import SweepSpec
    from ..vocab import NATIVE_BROWSER, NATIVE_RUNTIMES

    m = RunStore.open(run.run_dir).manifest()
    if not isinstance(m.get("spec"), Mapping):
        raise StoreError(f"{run.run_dir}: manifest has no sweep spec to measure again with")
    spec = SweepSpec.from_json(dict(m["spec"]))
    browser_cells = [k for k in suspects if k[3] not in NATIVE_RUNTIMES]
    native_cells = [k for k in suspects if k[3] in NATIVE_RUNTIMES]
    spec = replace(spec, targets=sorted({k[0] for k in suspects}),
                   models=sorted({k[2] for k in suspects}),
                   runtimes=sorted({k[3] for k in browser_cells}),
                   backends=sorted({k[4] for k in browser_cells}) or list(spec.backends),
                   threads=sorted({k[5] for k in suspects}),
                   browsers=sorted({k[1] for k in browser_cells if k[1] != NATIVE_BROWSER}) or spec.browsers,
                   native=True, native_runtimes=sorted({k[3] for k in native_cells} | set(spec.native_runtimes)),
                   profile_ops=False, qoe=False, qoe_only=False)
    if spec.browsers and all(k[0] == "local" for k in suspects):
        spec = replace(spec, browsers=None)  # this computer has one browser, named by its runtime's page
    out_root.mkdir(parents=True, exist_ok=True)
    outcome = run_sweep(spec, out_root=out_root)
    return outcome.store.run_dir


def check(run_dir: Path, *, baseline: str = "auto", threshold: float = 0.05, confirm: bool = False,
          measure: Remeasure = remeasure) -> CheckResult:
    run = _one_run(run_dir)
    base, how = resolve_baseline(run, baseline)
    if base.run_dir.resolve() == run.run_dir.resolve():
        raise UsageError(f"{run_dir} is its own baseline; name another run")
    base_rows = run_rows(base)
    rows = compare(run_rows(run), base_rows, threshold)
    confirm_run = None
    if confirm:
        suspects = [r.key for r in rows if r.status == "regressed"]
        if suspects:
            confirm_run = measure(run, suspects, state_dir_for(run.run_dir.resolve().parent) / "confirm")
            again = {a.key: a for a in compare(run_rows(_one_run(confirm_run)), base_rows, threshold)}
            new_rows = []
            for r in rows:
                if r.status != "regressed":
                    new_rows.append(r)
                    continue
                a = again.get(r.key)
                if a is None:
                    note = "not measured again"
                else:
                    note = f"{a.status} ({a.ratio:.3f}x)" if a.ratio is not None else a.status
                confirmed_bad = a is not None and a.status == "regressed"
                new_rows.append(replace(r, status="regressed" if confirmed_bad else "not-confirmed", confirm=note))
            rows = new_rows
    return CheckResult(run_dir=run.run_dir, baseline_dir=base.run_dir, baseline_how=how, threshold=threshold,
                       rows=tuple(rows), confirmed=confirm, confirm_run=confirm_run)


def junit_xml(result: CheckResult) -> str:
    """One test case per matched configuration; a regression is a failure."""
    cases = [r for r in result.rows if r.status not in ("new", "missing")]
    suite = ET.Element("testsuite", name="mwi check", tests=str(len(cases)),
                       failures=str(len(result.regressions)), errors="0", skipped="0")
    props = ET.SubElement(suite, "properties")
    for k, v in (("run", str(result.run_dir)), ("baseline", str(result.baseline_dir)),
                 ("threshold", f"{result.threshold:.4g}"), ("confirm", str(result.confirmed).lower())):
        ET.SubElement(props, "property", name=k, value=v)
    for r in cases:
        tc = ET.SubElement(suite, "testcase", classname=f"mwi.{r.key[0]}", name=r.id, time="0")
        ratio = f"{r.ratio:.4f}" if r.ratio is not None else "n/a"
        ci = f"[{r.ratio_ci95[0]:.4f}, {r.ratio_ci95[1]:.4f}]" if r.ratio_ci95 else "n/a"
        text = f"{r.status}: ratio {ratio} CI95 {ci} (median {r.median_ms} ms vs {r.baseline_ms} ms)"
        if r.confirm:
            text += f"; re-measured: {r.confirm}"
        if r.status == "regressed":
            f = ET.SubElement(tc, "failure", message=f"regressed by more than {result.threshold:.1%}", type="regression")
            f.text = text
        else:
            ET.SubElement(tc, "system-out").text = text
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def write_junit(result: CheckResult, path: Path) -> None:
    atomic_write_text(path, junit_xml(result))
