"""The study report (thermal / battery study runs) in real headless Chromium: every image loads, no
console error, every run present, the energy numbers in the page are summarize()'s."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from mobile_webinfer.htmlreport.study import write_study_report
from mobile_webinfer.studies.summary import summarize
from tests.report.chromium_page import image_widths, page_errors
from tests.report.study_runs import make_fake_studies

LOCAL_STUDY = Path(os.environ.get("MWI_LOCAL_STUDY", "/tmp/study_copy"))


@pytest.fixture(scope="module")
def fake_studies(adb_server, tmp_path_factory) -> Iterator[dict[str, Path]]:
    root = tmp_path_factory.mktemp("studies")
    yield make_fake_studies(adb_server, root, root / "benchmark_model")


def _open(index: Path, shot: Path) -> dict:
    """Load the page in Chromium; the images' widths, the sections, the energy spans and the errors."""
    with page_errors(index) as (page, errors):
        got = {
            "imgs": image_widths(page),
            "targets": page.eval_on_selector_all("section.target", "els => els.map(e => e.dataset.target)"),
            "energy": page.eval_on_selector_all(".energy", "els => els.map(e => [e.dataset.run, e.dataset.mj, "
                                                            "e.textContent])"),
            "ci": page.eval_on_selector_all(".energy-ci", "els => els.map(e => e.dataset.ci)"),
            "text": page.inner_text("body"),
        }
        page.screenshot(path=str(shot), full_page=True)
    assert not errors, errors
    assert all(not src.startswith(("http:", "https:", "//")) for src, _ in got["imgs"])
    return got


def _runs_present(text: str, rows: list[dict]) -> None:
    for s in rows:
        assert f"{s['runtime']}/{s['backend']}" in text, s


def _keep(shot: Path) -> None:
    """MWI_REPORT_SHOTS=DIR keeps the screenshots for a person to look at."""
    if os.environ.get("MWI_REPORT_SHOTS"):
        dest = Path(os.environ["MWI_REPORT_SHOTS"])
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, dest / shot.name)


@pytest.mark.browser
@pytest.mark.skipif(not (LOCAL_STUDY / "manifest.json").exists(), reason="no local study copy on this machine")
def test_study_report_of_the_local_study(tmp_path):
    run_dir = tmp_path / "study"
    shutil.copytree(LOCAL_STUDY, run_dir, ignore=shutil.ignore_patterns("report", ".report*"))
    index = write_study_report(run_dir)
    assert index == run_dir / "report" / "index.html"
    got = _open(index, tmp_path / "study-local.png")
    _keep(tmp_path / "study-local.png")
    rows = summarize(run_dir)
    assert got["imgs"] and all(w > 0 for _, w in got["imgs"]), got["imgs"]
    assert sorted(set(got["targets"])) == sorted({r["target"] for r in rows})
    _runs_present(got["text"], rows)
    if not any(r["peak_temps_c"] or r["cpu_freq_first_min_khz"] for r in rows):
        assert "exposed no temperature sensor" in got["text"]
        assert not any("sensors" in src for src, _ in got["imgs"])
    for r in rows:  # stability as summarize() computed it
        assert f"{r['stability']:g}" in got["text"]


@pytest.mark.browser
def test_study_report_of_fake_phone_thermal_and_battery_studies(fake_studies, tmp_path):
    for kind, run_dir in fake_studies.items():
        index = write_study_report(run_dir)
        shot = tmp_path / f"study-{kind}.png"
        got = _open(index, shot)
        _keep(shot)
        rows = summarize(run_dir)
        assert json.loads((run_dir / "manifest.json").read_text())["kind"] == kind
        srcs = [s for s, _ in got["imgs"]]
        assert got["imgs"] and all(w > 0 for _, w in got["imgs"]), got["imgs"]
        assert got["targets"] == [rows[0]["target"]]
        _runs_present(got["text"], rows)
        assert sum("study-sensors" in s for s in srcs) == len(rows)  # temperatures + frequencies per run
        assert "study-latency" in " ".join(srcs)
        for r in rows:
            if r["time_to_throttle_s"] is not None:
                assert f"{r['time_to_throttle_s']:g}" in got["text"]
        if kind == "battery":
            assert any("study-energy" in s for s in srcs)
            by_run = {run: (float(mj), text) for run, mj, text in got["energy"]}
            assert len(by_run) == len(rows)
            for r in rows:
                mj, text = by_run[f"{r['runtime']}/{r['backend']}"]
                assert mj == r["energy_mj_per_inference"]
                assert float(text) == r["energy_mj_per_inference"]
                assert f"{r['mah_per_1000_inferences']:g}" in got["text"]
            assert [json.loads(re.sub(r"'", '"', c)) for c in got["ci"]] == [r["energy_ci95"] for r in rows]
        else:
            assert not got["energy"] and not any("study-energy" in s for s in srcs)


def test_study_report_replaces_the_folder_and_refuses_a_sweep(fake_studies, tmp_path):
    run_dir = fake_studies["thermal"]
    (run_dir / "report").mkdir(exist_ok=True)
    (run_dir / "report" / "stale.png").write_bytes(b"old")
    index = write_study_report(run_dir)
    assert not (run_dir / "report" / "stale.png").exists()
    names = {p.name for p in index.parent.iterdir()}
    html = index.read_text()
    for src in re.findall(r'<img src="([^"]+)"', html):
        assert src in names
    assert not [p for p in run_dir.iterdir() if p.name.startswith(".report")]
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    m = json.loads((run_dir / "manifest.json").read_text())
    m["kind"] = "sweep"
    (sweep / "manifest.json").write_text(json.dumps(m))
    (sweep / "results.jsonl").write_text("")
    with pytest.raises(ValueError, match="not a thermal or battery study"):
        write_study_report(sweep)


def test_mwi_report_of_a_study_prints_its_table_and_page(fake_studies, tmp_path):
    """`mwi report STUDY_DIR`: the study's table in the terminal and its HTML page path last;
    `--json` one object per run; `--csv` the same columns."""
    import json
    import shutil
    import subprocess
    import sys

    for kind, src in fake_studies.items():
        run = tmp_path / kind
        shutil.copytree(src, run)
        p = subprocess.run([sys.executable, "-m", "mobile_webinfer", "report", str(run)], capture_output=True,
                           text=True, timeout=300)
        assert p.returncode == 0, p.stderr[-2000:]
        assert p.stdout.strip().splitlines()[-1] == str(run / "report" / "index.html")
        assert "stability" in p.stdout
        rows = json.loads(subprocess.run([sys.executable, "-m", "mobile_webinfer", "report", str(run), "--json"],
                                         capture_output=True, text=True, timeout=300, check=True).stdout)
        assert rows and all(r["kind"] == kind for r in rows)
        csv = subprocess.run([sys.executable, "-m", "mobile_webinfer", "report", str(run), "--csv"],
                             capture_output=True, text=True, timeout=300, check=True).stdout
        assert csv.splitlines()[0].startswith("kind,target") and len(csv.splitlines()) == len(rows) + 1
