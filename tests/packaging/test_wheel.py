"""The wheel carries everything `mwi` serves: built here, installed into a fresh venv in a temporary
folder outside any checkout, then `mwi doctor` and a quick local sweep of tiny_cnn run from a temp cwd
with no pages/ around.  The venv sees the shared venv's dependencies (a .pth line; its editable
install of the checkout is not activated), but mobile_webinfer itself comes from the wheel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    """`python -m build --wheel` of this checkout, once per session (no network: --no-isolation)."""
    if not (ROOT / "pages" / "vendor" / "vendor.json").is_file():
        pytest.skip("pages/vendor is not populated (python -m mobile_webinfer.web.vendor)")
    dist = tmp_path_factory.mktemp("dist")
    p = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "-o", str(dist), str(ROOT)],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    (whl,) = dist.glob("mobile_webinfer-*.whl")
    return whl


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "MWI_PAGES_DIR", "MWI_PROFILES_DIR", "MWI_EXAMPLES_DIR", "VIRTUAL_ENV")}
    return {**env, **extra}


@pytest.fixture(scope="session")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh venv outside the checkout with the wheel installed (--no-deps: the deps come from the
    shared venv's site-packages, appended to sys.path after the venv's own)."""
    root = tmp_path_factory.mktemp("fresh") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=120)
    site = Path(subprocess.run([str(root / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "zz_shared_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    p = subprocess.run([sys.executable, "-m", "pip", "--python", str(root / "bin" / "python"), "install", "--no-deps",
                        "--no-index", "-q", str(wheel)], capture_output=True, text=True, timeout=300, env=_clean_env())
    assert p.returncode == 0, p.stderr[-2000:]
    return root


def test_wheel_carries_pages_runtimes_profiles_examples(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    data = "mobile_webinfer/_data/"
    index = json.loads((ROOT / "pages" / "vendor" / "vendor.json").read_text())
    for rel in index["files"]:  # every vendored runtime file, as vendor.json lists it
        assert f"{data}pages/vendor/{rel}" in names, rel
    for rel in ("pages/harness.html", "pages/preflight.html", "pages/adapters/litert.js", "pages/vendor/vendor.json",
                "device_profiles/default.toml", "examples/sweep.toml"):
        assert data + rel in names, rel
    assert "mobile_webinfer/models/tfjs_check.js" in names
    assert not any("node_modules" in n for n in names)
    print(f"\nwheel {wheel.name}: {wheel.stat().st_size / 1e6:.1f} MB")


def test_installed_wheel_runs_doctor_and_a_quick_sweep_outside_the_checkout(venv, tmp_path):
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    env = _clean_env(MWI_OUT=str(tmp_path / "out"))
    py, mwi = str(venv / "bin" / "python"), str(venv / "bin" / "mwi")
    where = json.loads(subprocess.run(
        [py, "-c", "import json, mobile_webinfer, mobile_webinfer.paths as p; "
                   "print(json.dumps([mobile_webinfer.__file__, str(p.PAGES_DIR), p.PAGES_SOURCE, str(p.PROFILES_DIR)]))"],
        cwd=cwd, env=env, capture_output=True, text=True, check=True).stdout)
    assert Path(where[0]).is_relative_to(venv), where  # the package comes from the wheel, not this checkout
    assert where[2] == "wheel" and Path(where[1]).is_relative_to(venv) and Path(where[3]).is_relative_to(venv)
    assert not (cwd / "pages").exists()

    doc = subprocess.run([mwi, "doctor", "--json"], cwd=cwd, env=env, capture_output=True, text=True, timeout=180)
    report = json.loads(doc.stdout)
    by = {c["name"]: c for c in report["checks"]}
    assert doc.returncode == 0 and report["ok"], doc.stdout + doc.stderr
    assert by["runtimes"]["status"] == "ok" and by["isolation"]["status"] == "ok"
    assert "wheel" in by["pages"]["detail"] and str(venv) in by["pages"]["detail"]

    sweep = subprocess.run([mwi, "sweep", "--quick", "--models", "tiny_cnn", "--runtimes", "tfjs", "--backends",
                            "wasm", "--threads", "1", "--no-capabilities"],
                           cwd=cwd, env=env, capture_output=True, text=True, timeout=480)
    assert sweep.returncode == 0, sweep.stdout[-2000:] + sweep.stderr[-2000:]
    run_dir = Path(sweep.stdout.strip().splitlines()[-1])
    assert run_dir.is_relative_to(tmp_path / "out")
    rows = json.loads(subprocess.run([mwi, "report", str(run_dir), "--json", "--no-html"], cwd=cwd, env=env,
                                     capture_output=True, text=True, check=True, timeout=120).stdout)
    browser = [r for r in rows if r["runtime"] == "tfjs"]
    assert browser and browser[0]["error"] is None and browser[0]["browser_median_ms"] > 0
