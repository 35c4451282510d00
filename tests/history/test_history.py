"""`mwi history` and `mwi check` over generated Parquet histories (the real cells.parquet schema):
a step found where it was put and explained, pure noise rarely flagged, the gate's exit codes and
JUnit, runs that cannot be read listed, runs without a Parquet read without writing."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from mobile_webinfer.history import analyse, open_lab
from tests.history.synthetic import T0, Config, RunSpec, run_id, write_run
from tests.sweep_helpers import MWI

BUMP = ("131.0.6778.81", "132.0.6834.79")


def _cfg(model: str, median: float, *, ci: float = 0.02, gap: float | None = None, runtime: str = "ort",
         backend: str = "wasm", threads: int = 1) -> Config:
    return Config(model=model, runtime=runtime, backend=backend, threads=threads, median_ms=median,
                  ci=(median * (1 - ci), median * (1 + ci)),
                  gap=gap, gap_ci=(gap * (1 - ci), gap * (1 + ci)) if gap else None)


def _step_lab(root: Path, *, n: int = 40, at: int = 25, step: float = 0.15, cv: float = 0.03) -> Path:
    """One phone, nightly: `ort/wasm` on two models; at run `at` Chrome updates and model_a gets
    `step` slower (its gap with it); model_b does not move.  At run 10 ORT Web updates, nothing moves."""
    rng = random.Random(3)
    runs = root / "runs"
    for i in range(n):
        when = T0 + dt.timedelta(days=i)
        slow = 1 + step if i >= at else 1.0
        a = 20.0 * slow * rng.lognormvariate(0, cv)
        b = 8.0 * rng.lognormvariate(0, cv)
        write_run(runs, RunSpec(run_id(i, when, "R58M12345"), when, browser_version=BUMP[i >= at],
                                frameworks={"onnxruntime-web": "1.30.0" if i < 10 else "1.31.0", "tfjs": "4.22.0"},
                                configs=[_cfg("model_a", a, gap=a / 2.0), _cfg("model_b", b, gap=b / 2.0)],
                                repeats=2))
    return root


def test_a_15_percent_step_is_found_at_its_run_with_its_cause(tmp_path):
    lab = open_lab([_step_lab(tmp_path)])
    assert len(lab.runs) == 40 and not lab.unreadable
    h = analyse(lab)
    by_model = {s.key.model: s for s in h.series}
    a, b = by_model["model_a"], by_model["model_b"]
    assert a.status == "regressed" and b.status == "stable", (a.steps, b.steps)
    steps = [s for s in a.steps if s.metric == "median_ms"]
    assert len(steps) == 1, steps
    st = steps[0]
    assert abs(st.index - 25) <= 1 and 0.10 < st.size < 0.20 and st.ci95[0] > 0, st
    assert any(f"browser {BUMP[0]} -> {BUMP[1]}" in c for c in st.cause), st.cause
    assert a.open_regression == st
    gap_steps = [s for s in a.steps if s.metric == "gap"]
    assert gap_steps and abs(gap_steps[0].index - 25) <= 1
    # versions are events on the axis, not new series
    whats = {(e.what, e.index) for e in a.events}
    assert ("browser", 25) in whats and ("runtime", 10) in whats
    assert {s.key.device_model for s in h.series} == {"SM-G991B"}
    print(f"step found at run {st.index} ({st.size:+.1%}, CI95 [{st.ci95[0]:+.1%}, {st.ci95[1]:+.1%}]): "
          f"{st.cause_text}")


def test_pure_noise_is_rarely_flagged(tmp_path):
    """200 series of pure noise (10 % CV between runs, each run's own CI +-3 %), 30 runs each."""
    rng = random.Random(11)
    runs = tmp_path / "runs"
    for i in range(30):
        when = T0 + dt.timedelta(days=i)
        cfgs = [_cfg(f"m{k:03d}", 10.0 * (1 + k % 7) * rng.lognormvariate(0, 0.10), ci=0.03) for k in range(200)]
        cfgs.append(_cfg("wild", 10.0 * rng.lognormvariate(0, 0.45), ci=0.03))  # far too noisy to say
        write_run(runs, RunSpec(run_id(i, when, "8BKX1Q2F"), when, target="8BKX1Q2F", device_model="Pixel 7",
                                configs=cfgs))
    h = analyse(open_lab([tmp_path]))
    wild = [s for s in h.series if s.key.model == "wild"]
    assert len(wild) == 1 and wild[0].status == "noisy", wild[0].to_json()
    h = dataclasses.replace(h, series=tuple(s for s in h.series if s.key.model != "wild"))
    assert len(h.series) == 200 and all(len(s.points) == 30 for s in h.series)
    flagged = [s for s in h.series if s.steps or s.status != "stable"]
    rate = len(flagged) / len(h.series)
    print(f"pure noise: {len(flagged)} of {len(h.series)} series flagged ({rate:.1%}); statuses {h.counts()}")
    assert rate <= 0.05


def _mwi(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*MWI, *args], capture_output=True, text=True, timeout=300)


def _gate_lab(root: Path) -> dict[str, Path]:
    runs = root / "runs"
    out = {}
    for i, (name, scale) in enumerate((("base", 1.0), ("clean", 1.005), ("slow", 1.20))):
        when = T0 + dt.timedelta(days=i)
        spec = RunSpec(run_id(i, when, "R58M12345"), when,
                       configs=[_cfg("model_a", 20.0 * scale, gap=10.0 * scale), _cfg("model_b", 8.0, gap=4.0),
                                Config("model_a", "tflite-native", "cpu", 1, 2.0, None, browser="native")])
        out[name] = write_run(runs, spec)
    return out


def test_check_exit_codes_json_and_junit(tmp_path):
    runs = _gate_lab(tmp_path)
    clean = _mwi("check", str(runs["clean"]), "--baseline", str(runs["base"]), "--json")
    assert clean.returncode == 0, clean.stderr
    verdict = json.loads(clean.stdout)
    assert verdict["regressions"] == 0 and verdict["exit_code"] == 0
    assert {r["status"] for r in verdict["rows"]} == {"ok", "no-ci"}

    junit = tmp_path / "check.xml"
    slow = _mwi("check", str(runs["slow"]), "--baseline", "auto", "--threshold", "5%", "--junit", str(junit))
    assert slow.returncode == 4, (slow.stdout, slow.stderr)
    assert "1 regression(s)" in slow.stdout and "(auto)" in slow.stdout  # auto: the newest earlier run (clean)
    suite = ET.parse(junit).getroot()
    assert suite.tag == "testsuite" and suite.get("failures") == "1" and suite.get("tests") == "3"
    failed = [tc.get("name") for tc in suite.iter("testcase") if tc.find("failure") is not None]
    assert failed == ["R58M12345|com.android.chrome|model_a|ort|wasm|t1"]

    # a 20 % slowdown is not a regression at a 30 % threshold: the CI must exclude the threshold
    assert _mwi("check", str(runs["slow"]), "--baseline", str(runs["base"]), "--threshold", "30%").returncode == 0

    pinned = _mwi("history", "pin", "good", str(runs["base"]))
    assert pinned.returncode == 0, pinned.stderr
    assert json.loads((tmp_path / "history" / "pins.json").read_text())["good"]["run_id"] == runs["base"].name
    assert _mwi("check", str(runs["slow"]), "--baseline", "good").returncode == 4

    for bad in (["--threshold", "lots"], ["--baseline", "no-such-pin"], ["--baseline", str(tmp_path)]):
        p = _mwi("check", str(runs["slow"]), *bad)
        assert p.returncode == 2 and p.stderr.startswith("mwi: error:") and len(p.stderr.splitlines()) == 1, p.stderr
    p = _mwi("check", str(tmp_path))  # a lab folder is not a run
    assert p.returncode == 2 and "is not a run directory" in p.stderr, p.stderr
    assert "4 a regression" in " ".join(_mwi("check", "--help").stdout.split())


def test_unreadable_runs_are_listed_and_jsonl_only_runs_read_without_writing(tmp_path):
    _step_lab(tmp_path, n=8)
    runs = tmp_path / "runs"
    (runs / "broken").mkdir()
    (runs / "broken" / "manifest.json").write_text("{not json")
    (runs / "empty").mkdir()
    (runs / "empty" / "manifest.json").write_text(json.dumps({"schema_version": 2, "run_id": "empty", "created_at": "2025-02-01"}))
    (runs / "empty" / "results.jsonl").write_text("")
    garbled = sorted(runs.iterdir())[0]
    (garbled / "cells.parquet").write_bytes(b"PAR1 not a parquet file")
    h = analyse(open_lab([tmp_path]))
    reasons = {u.run_dir.name: u.reason for u in h.unreadable}
    assert "manifest.json unreadable" in reasons["broken"]
    assert garbled.name in reasons and "cells.parquet" in reasons[garbled.name]
    assert "empty" not in reasons  # a run that measured nothing yet holds no series; it is not an error
    p = _mwi("history", str(tmp_path))
    assert p.returncode == 0, p.stderr
    assert "not read:" in p.stdout and "broken: manifest.json unreadable" in p.stdout


def test_history_reads_a_run_with_only_results_jsonl_without_writing_to_it(tmp_path):
    from tests.report.synthetic import make_run

    run = make_run(tmp_path, targets=("R58M12345",), models=1, repeats=1, latencies=10)
    before = sorted((p.name, p.stat().st_mtime_ns) for p in run.iterdir())
    assert not (run / "cells.parquet").exists()
    h = analyse(open_lab([run]))
    assert h.series and not h.unreadable
    assert sorted((p.name, p.stat().st_mtime_ns) for p in run.iterdir()) == before  # nothing written


def test_history_html_page(tmp_path):
    _step_lab(tmp_path)
    p = _mwi("history", str(tmp_path), "--html")
    assert p.returncode == 0, p.stderr
    index = Path(p.stdout.strip().splitlines()[-1])
    assert index == tmp_path / "history" / "report" / "index.html"
    text = index.read_text()
    assert text.index("Open regressions") < text.index("Over time")
    assert f"browser {BUMP[0]} -&gt; {BUMP[1]}" in text
    assert list(index.parent.glob("series-*.png"))


@pytest.mark.browser
def test_history_page_in_chromium(tmp_path):
    from tests.report.chromium_page import image_widths, page_errors

    _step_lab(tmp_path)
    index = Path(_mwi("history", str(tmp_path), "--html").stdout.strip().splitlines()[-1])
    shot = tmp_path / "history-page.png"
    with page_errors(index) as (page, errors):
        imgs = image_widths(page)
        assert imgs and all(w > 0 for _, w in imgs), imgs
        assert page.locator("#open").count() == 1
        page.screenshot(path=str(shot), full_page=True)
        assert not errors, errors
    assert shot.stat().st_size > 10_000  # the screenshot is kept as the test's artifact (in its tmp dir)
