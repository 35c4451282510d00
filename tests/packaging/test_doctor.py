"""`mwi doctor` on this computer: one screen, ok in the checkout; a vendored runtime file that does not
match its sha256, a pin that differs, a results folder that cannot be written each fail their own check
with the fix, and the exit status says so."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.sweep_helpers import MWI

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.browser


def _doctor(*args: str, **env: str) -> tuple[int, dict]:
    p = subprocess.run(MWI + ["doctor", "--json", *args], capture_output=True, text=True, timeout=180,
                       env={**os.environ, **env})
    return p.returncode, json.loads(p.stdout)


def test_doctor_passes_in_the_checkout_and_fits_one_screen(tmp_path):
    rc, report = _doctor("--out", str(tmp_path))
    by = {c["name"]: c for c in report["checks"]}
    assert rc == 0 and report["ok"], [c for c in report["checks"] if c["status"] == "fail"]
    for name in ("chromium", "playwright", "pages", "runtimes", "ai-edge-litert", "results", "isolation", "local page"):
        assert by[name]["status"] == "ok", by[name]
    assert "checkout" in by["pages"]["detail"] and "crossOriginIsolated true" in by["local page"]["detail"]
    p = subprocess.run(MWI + ["doctor", "--out", str(tmp_path)], capture_output=True, text=True, timeout=180,
                       env={**os.environ, "COLUMNS": "100"})
    lines = p.stdout.splitlines()
    assert p.returncode == 0 and len(lines) <= 24 and max(map(len, lines)) <= 100, p.stdout
    assert lines[-1].endswith("ready")


def _pages_copy(tmp_path: Path) -> Path:
    """pages/ with its vendored files hard-linked where the file system allows (else copied); the page
    server serves no symlink that leaves its folder."""
    src, dst = ROOT / "pages", tmp_path / "pages"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("node_modules", "vendor"))
    for f in (src / "vendor").rglob("*"):
        if f.is_file():
            to = dst / "vendor" / f.relative_to(src / "vendor")
            to.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(f, to)
            except OSError:
                shutil.copyfile(f, to)
    return dst


def test_a_changed_runtime_file_or_pin_and_an_unwritable_results_folder_fail_with_their_fix(tmp_path):
    if not (ROOT / "pages" / "vendor" / "vendor.json").is_file():
        pytest.skip("pages/vendor is not populated")
    pages = _pages_copy(tmp_path)
    js = pages / "vendor" / "tfjs" / "tf.min.js"
    js.unlink()  # (a hard link: the checkout's file stays as it is)
    js.write_text("// not the pinned file\n")
    blocked = tmp_path / "file"
    blocked.write_text("a file where the results folder should be")
    rc, report = _doctor("--out", str(blocked), MWI_PAGES_DIR=str(pages))
    failed = {c["name"]: c for c in report["checks"] if c["status"] == "fail"}
    assert rc == 1 and not report["ok"] and set(failed) == {"runtimes", "results"}, failed
    assert "tfjs/tf.min.js differs from its sha256" in failed["runtimes"]["detail"]
    assert "python -m mobile_webinfer.web.vendor" in failed["runtimes"]["fix"]
    assert "--out" in failed["results"]["fix"]

    pkg = json.loads((pages / "package.json").read_text())
    pkg["dependencies"]["onnxruntime-web"] = "0.0.1"
    (pages / "package.json").unlink()
    (pages / "package.json").write_text(json.dumps(pkg))
    shutil.copyfile(ROOT / "pages" / "vendor" / "tfjs" / "tf.min.js", js)
    rc, report = _doctor("--out", str(tmp_path / "out"), MWI_PAGES_DIR=str(pages))
    failed = {c["name"]: c for c in report["checks"] if c["status"] == "fail"}
    assert rc == 1 and set(failed) == {"runtimes"} and "onnxruntime-web" in failed["runtimes"]["detail"]
