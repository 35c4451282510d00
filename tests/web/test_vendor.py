"""vendor.py: npm ci only when needed, exact copies of the needed dist files, clear errors."""

from __future__ import annotations

import json

import pytest

from mobile_webinfer.errors import UsageError
from mobile_webinfer.paths import PAGES_DIR
from mobile_webinfer.web import vendor as v

PINS = {"@tensorflow/tfjs": "4.22.0", "@tensorflow/tfjs-backend-wasm": "4.22.0",
        "@tensorflow/tfjs-backend-webgpu": "4.22.0", "@tensorflow/tfjs-tflite": "0.0.1-alpha.10",
        "onnxruntime-web": "1.30.0", "@litertjs/core": "2.5.3", "@litertjs/wasm-utils": "2.5.3"}


def fake_pages(tmp_path, versions=PINS):
    pages = tmp_path / "pages"
    nm = pages / "node_modules"
    for files in v.VENDOR_FILES.values():
        for pkg, rel in files:
            f = nm / pkg / rel
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(f"{pkg}/{rel}")
    for pkg, ver in versions.items():
        (nm / pkg / "package.json").write_text(json.dumps({"name": pkg, "version": ver}))
        (nm / pkg / "dist").mkdir(exist_ok=True)
        (nm / pkg / "dist" / "unneeded.js.map").write_text("x")
    (pages / "package.json").write_text(json.dumps({"dependencies": PINS}))
    (pages / "package-lock.json").write_text("{}")
    return pages


def test_copy_only_needed_files_idempotently(tmp_path):
    pages = fake_pages(tmp_path)
    copied, removed, versions = v.copy_vendor(pages)
    n = sum(len(f) for f in v.VENDOR_FILES.values())
    assert copied == n and removed == 0 and versions == PINS
    files = sorted(p.relative_to(pages / "vendor").as_posix() for p in (pages / "vendor").rglob("*") if p.is_file())
    assert len(files) == n + 1 and "vendor.json" in files
    assert not any(f.endswith(".map") for f in files)
    assert {f.split("/")[0] for f in files if "/" in f} == {"tfjs", "tflite", "ort", "litert", "litert-wasm-utils"}
    assert (pages / "vendor/ort/ort-wasm-simd-threaded.wasm").read_text() == "onnxruntime-web/dist/ort-wasm-simd-threaded.wasm"
    index = json.loads((pages / "vendor/vendor.json").read_text())
    assert index["versions"] == PINS and len(index["files"]) == n
    mtime = (pages / "vendor/vendor.json").stat().st_mtime_ns
    assert v.copy_vendor(pages)[:2] == (0, 0)
    assert (pages / "vendor/vendor.json").stat().st_mtime_ns == mtime


def test_stale_and_changed_files(tmp_path):
    pages = fake_pages(tmp_path)
    v.copy_vendor(pages)
    (pages / "vendor/tfjs/old.js").write_text("stale")
    (pages / "vendor/legacy").mkdir()
    (pages / "vendor/legacy/x.wasm").write_text("stale")
    (pages / "vendor/tfjs/tf.min.js").write_text("tampered")
    copied, removed, _ = v.copy_vendor(pages)
    assert copied == 1 and removed == 2
    assert (pages / "vendor/tfjs/tf.min.js").read_text() == "@tensorflow/tfjs/dist/tf.min.js"
    assert not (pages / "vendor/legacy").exists()


def test_version_mismatch_and_missing_package(tmp_path):
    pages = fake_pages(tmp_path, {**PINS, "onnxruntime-web": "1.29.0"})
    with pytest.raises(UsageError, match="onnxruntime-web 1.29.0 installed but package.json pins 1.30.0"):
        v.copy_vendor(pages)
    pages2 = fake_pages(tmp_path / "b")
    (pages2 / "node_modules/@tensorflow/tfjs-tflite/package.json").unlink()
    with pytest.raises(UsageError, match="tfjs-tflite is not installed"):
        v.copy_vendor(pages2)
    pages3 = fake_pages(tmp_path / "c")
    (pages3 / "node_modules/@tensorflow/tfjs/dist/tf.min.js").unlink()
    with pytest.raises(UsageError, match="has no dist/tf.min.js"):
        v.copy_vendor(pages3)


def test_npm_skipped_when_lock_unchanged(tmp_path, monkeypatch):
    pages = fake_pages(tmp_path)
    (pages / "node_modules" / v.STAMP_NAME).write_text(v.lock_digest(pages))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # npm would not even be found
    assert v.npm_install(pages) is False
    (pages / "package-lock.json").write_text('{"changed": true}')
    with pytest.raises(UsageError, match="apt-get install -y nodejs npm"):
        v.npm_install(pages)


def test_npm_missing_is_one_clear_line(tmp_path, monkeypatch, capsys):
    pages = fake_pages(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert v.main([str(pages)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: node and npm not found") and err.count("\n") == 1


def test_npm_failure_reported(tmp_path, monkeypatch):
    pages = fake_pages(tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in (("node", "exit 0"), ("npm", "echo 'npm ERR! 404 Not Found - GET nowhere' >&2; exit 1")):
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    with pytest.raises(Exception, match=r"npm ci .* failed \(exit 1\): npm ERR! 404"):
        v.npm_install(pages)
    assert not (pages / "node_modules" / v.STAMP_NAME).exists()


def test_real_pages_pins_and_lock():
    pins = json.loads((PAGES_DIR / "package.json").read_text())["dependencies"]
    assert pins == PINS  # exact versions, no ranges
    lock = json.loads((PAGES_DIR / "package-lock.json").read_text())
    for pkg, ver in PINS.items():
        assert lock["packages"][f"node_modules/{pkg}"]["version"] == ver
    assert "legacy-peer-deps=true" in (PAGES_DIR / ".npmrc").read_text()
