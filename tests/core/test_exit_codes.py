"""Exit codes a script can trust: bad input is found before anything starts (one line, exit 2), and
a run that measured nothing exits 5 and says so last (issue 23)."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from mobile_webinfer.cli import EXIT_CODES_HELP
from mobile_webinfer.cli.checks import check_out_root
from mobile_webinfer.errors import NothingMeasured, UsageError
from mobile_webinfer.paths import PAGES_DIR
from mobile_webinfer.records import CellRecord, nothing_measured_line
from mobile_webinfer.vocab import Cell
from tests.sweep_helpers import run_mwi

LOCAL = ["--quick", "--models", "tiny_cnn", "--runtimes", "tfjs", "--backends", "wasm", "--threads", "1",
         "--no-html", "--no-capabilities"]


@pytest.mark.parametrize("make", ["under-file", "proc", "read-only", "dangling-link"])
def test_out_root_that_cannot_hold_a_run_is_bad_input(tmp_path, make):
    if make == "under-file":
        (tmp_path / "f").write_text("x")
        out = tmp_path / "f" / "sub"
    elif make == "proc":
        out = type(tmp_path)("/proc/self/../mwi-out")  # spellings that lead into /proc count too
    elif make == "read-only":
        if os.geteuid() == 0:
            out = type(tmp_path)("/sys/fs/mwi")  # root writes anywhere: a kernel file system stands in
        else:
            (tmp_path / "ro").mkdir(mode=0o555)
            out = tmp_path / "ro" / "out"
    else:
        (tmp_path / "link").symlink_to(tmp_path / "nowhere" / "x")
        out = tmp_path / "link" / "out"
    with pytest.raises(UsageError) as err:
        check_out_root(out)
    assert "\n" not in str(err.value) and str(out) in str(err.value)
    assert check_out_root(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"  # nothing is created
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("cmd", [["sweep", *LOCAL], ["thermal", "--model", "tiny_cnn", "--runs", "tfjs/wasm",
                                                    "--duration", "5s"],
                                 ["battery", "--model", "tiny_cnn", "--runs", "tfjs/wasm", "--duration", "5s"]])
def test_bad_out_fails_in_one_line_before_anything_runs(tmp_path, cmd):
    (tmp_path / "file").write_text("x")
    t0 = time.monotonic()
    p = run_mwi(*cmd, "--out", str(tmp_path / "file" / "sub"), check=False, timeout=120)
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "is a regular file" in lines[0] and "Traceback" not in p.stderr
    assert time.monotonic() - t0 < 60  # no browser was started (a cell takes longer on this host)


def test_model_path_says_how_to_add_it(tmp_path):
    f = tmp_path / "mine.tflite"
    f.write_bytes(b"x")
    p = run_mwi("sweep", *LOCAL, "--models", str(f), "--out", str(tmp_path / "out"), check=False, timeout=120)
    assert p.returncode == 2 and f"mwi models add {f}" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    p = run_mwi("sweep", *LOCAL, "--models", "no_such_model", "--dry-run", check=False, timeout=120)
    assert p.returncode == 2 and "mwi models add FILE" in p.stderr
    assert not (tmp_path / "out").exists()


def _rec(target: str, ok: bool) -> CellRecord:
    cell = Cell(target=target, browser="chromium", model="tiny_cnn", runtime="tfjs", backend="wasm", threads=1, repeat=0)
    return CellRecord(status="ok", cell=cell) if ok else CellRecord(status="error", error="boom",
                                                                     error_kind="PageError", cell=cell)


def test_nothing_measured_line_judges_the_run_and_each_phone():
    assert nothing_measured_line([_rec("local", True), _rec("local", False)]) is None
    assert nothing_measured_line([_rec("local", False)]) == "nothing measured: 0 of 1 cells measured"
    assert nothing_measured_line([]) == "nothing measured: 0 of 0 cells measured"
    line = nothing_measured_line([_rec("A1", True), _rec("B2", False), _rec("B2", False)])
    assert line == "nothing measured on B2 (0 of 2 cells)"
    assert NothingMeasured("x").exit_code == 5


def test_codes_are_in_help_and_readme():
    p = run_mwi("--help", timeout=60)
    text = " ".join(p.stdout.split())
    for code in ("0 ok", "1 error", "2 bad input", "3 device or lab failure", "5 nothing measured"):
        assert code in EXIT_CODES_HELP and code in text
    p = run_mwi("sweep", "--help", timeout=60)
    assert "5 nothing measured" in " ".join(p.stdout.split())
    readme = (PAGES_DIR.parent / "README.md").read_text()
    assert "| 5 | nothing measured" in readme and "| 2 | bad input" in readme


def test_local_sweep_whose_every_cell_failed_exits_5_and_says_so_last(tmp_path):
    """The vendored runtimes missing: every browser cell fails; nothing measured is no success."""
    pages = tmp_path / "pages"
    shutil.copytree(PAGES_DIR, pages, ignore=shutil.ignore_patterns("vendor", "node_modules"))
    env = dict(os.environ, MWI_PAGES_DIR=str(pages))
    p = run_mwi("sweep", *LOCAL, "--no-native", "--out", str(tmp_path / "out"), check=False, env=env, timeout=300)
    assert p.returncode == 5, (p.stdout[-2000:], p.stderr[-2000:])
    assert p.stderr.strip().splitlines()[-1].startswith("mwi: error: nothing measured: 0 of 1 cells measured")
    run_dir = p.stdout.strip().splitlines()[-1]
    assert run_dir.startswith(str(tmp_path / "out" / "runs"))  # stdout's last line is still the run directory
    # the missing vendored file's error keeps its whole path on one line of the progress output
    want = f"missing vendored file {pages / 'vendor' / 'tfjs'}/"
    line = next(ln for ln in (p.stdout + p.stderr).splitlines() if want in ln)
    assert ".js: run python -m mobile_webinfer.web.vendor" in line
