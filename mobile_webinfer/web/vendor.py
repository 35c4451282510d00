"""Install the pages' JS dependencies and copy the files the pages load into pages/vendor/.

    python -m mobile_webinfer.web.vendor          # idempotent: npm ci only when needed

``npm ci --ignore-scripts`` runs in pages/ when node_modules is missing or package.json /
package-lock.json changed since the last install; then only the needed dist files (js + wasm)
are copied into pages/vendor/{tfjs,tflite,ort,litert,litert-wasm-utils}/ and listed with their sha256 in
pages/vendor/vendor.json.  Nothing is fetched from a CDN at run time.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import InfraError, MwiError, UsageError
from ..files import file_sha256
from ..paths import PAGES_DIR

#: vendor subfolder -> (npm package, [files inside the package]).
VENDOR_FILES: dict[str, list[tuple[str, str]]] = {
    "tfjs": [
        ("@tensorflow/tfjs", "dist/tf.min.js"),
        ("@tensorflow/tfjs-backend-wasm", "dist/tf-backend-wasm.min.js"),
        ("@tensorflow/tfjs-backend-wasm", "dist/tfjs-backend-wasm.wasm"),
        ("@tensorflow/tfjs-backend-wasm", "dist/tfjs-backend-wasm-simd.wasm"),
        ("@tensorflow/tfjs-backend-wasm", "dist/tfjs-backend-wasm-threaded-simd.wasm"),
        ("@tensorflow/tfjs-backend-webgpu", "dist/tf-backend-webgpu.min.js"),
    ],
    "tflite": [
        ("@tensorflow/tfjs-tflite", "dist/tf-tflite.min.js"),
        ("@tensorflow/tfjs-tflite", "wasm/tflite_web_api_client.js"),
        *[("@tensorflow/tfjs-tflite", f"wasm/tflite_web_api_cc{v}.{ext}")
          for v in ("", "_simd", "_threaded", "_simd_threaded") for ext in ("js", "wasm")],
        ("@tensorflow/tfjs-tflite", "wasm/tflite_web_api_cc_threaded.worker.js"),
        ("@tensorflow/tfjs-tflite", "wasm/tflite_web_api_cc_simd_threaded.worker.js"),
    ],
    "ort": [
        ("onnxruntime-web", "dist/ort.wasm.min.js"),
        ("onnxruntime-web", "dist/ort.webgpu.min.js"),
        ("onnxruntime-web", "dist/ort-wasm-simd-threaded.mjs"),
        ("onnxruntime-web", "dist/ort-wasm-simd-threaded.wasm"),
        ("onnxruntime-web", "dist/ort-wasm-simd-threaded.asyncify.mjs"),
        ("onnxruntime-web", "dist/ort-wasm-simd-threaded.asyncify.wasm"),
    ],
    # LiteRT.js (ESM only): the page maps the bare import "@litertjs/wasm-utils" to
    # /vendor/litert-wasm-utils/index.js with an import map (harness.html).  Its four wasm
    # builds: compat (no relaxed SIMD), default (relaxed SIMD), threaded, JSPI (WebGPU
    # partitioning, WebNN).
    "litert": [
        ("@litertjs/core", "dist/index.js"),
        *[("@litertjs/core", f"wasm/litert_wasm{v}_internal.{ext}")
          for v in ("", "_compat", "_threaded", "_jspi") for ext in ("js", "wasm")],
    ],
    "litert-wasm-utils": [
        ("@litertjs/wasm-utils", "dist/index.js"),
    ],
}
#: runtime -> the vendor subfolders its page adapter loads from (tfjs-tflite's UMD bundle needs tfjs-core).
RUNTIME_VENDOR: dict[str, tuple[str, ...]] = {
    "tfjs": ("tfjs",), "tflite": ("tfjs", "tflite"), "ort": ("ort",), "litert": ("litert", "litert-wasm-utils"),
}


def runtime_files(runtime: str) -> list[str]:
    """Every vendored file (relative to pages/vendor/) a runtime's page may load."""
    return [f"{sub}/{Path(rel).name}" for sub in RUNTIME_VENDOR.get(runtime, ()) for _pkg, rel in VENDOR_FILES[sub]]


STAMP_NAME = ".mwi-lock-sha256"
INDEX_NAME = "vendor.json"
NPM_TIMEOUT_S = 900


@dataclass(frozen=True)
class VendorReport:
    vendor_dir: Path
    installed: bool          # npm ci ran
    copied: int              # files (re)written into vendor/
    removed: int             # stale files removed from vendor/
    versions: dict[str, str]




def lock_digest(pages_dir: Path) -> str:
    """sha256 over package.json + package-lock.json (+ .npmrc): changes mean reinstall."""
    h = hashlib.sha256()
    for name in ("package.json", "package-lock.json", ".npmrc"):
        p = pages_dir / name
        h.update(name.encode() + b"\0")
        h.update(p.read_bytes() if p.is_file() else b"<missing>")
    return h.hexdigest()


def _need_tools() -> tuple[str, str]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        missing = " and ".join(n for n, p in (("node", node), ("npm", npm)) if not p)
        raise UsageError(f"{missing} not found: install Node.js 18+ with npm "
                         f"(Debian/Ubuntu: apt-get install -y nodejs npm)")
    return node, npm


def npm_install(pages_dir: Path, *, force: bool = False) -> bool:
    """Run ``npm ci`` when node_modules is missing or the lock changed.  Returns whether it ran."""
    pages_dir = Path(pages_dir)
    if not (pages_dir / "package-lock.json").is_file():
        raise UsageError(f"no package-lock.json in {pages_dir}")
    want = lock_digest(pages_dir)
    stamp = pages_dir / "node_modules" / STAMP_NAME
    if not force and stamp.is_file() and stamp.read_text().strip() == want:
        return False
    _, npm = _need_tools()
    cmd = [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"]
    try:
        proc = subprocess.run(cmd, cwd=pages_dir, capture_output=True, text=True, timeout=NPM_TIMEOUT_S,
                              env={**os.environ, "npm_config_update_notifier": "false"})
    except subprocess.TimeoutExpired:
        raise InfraError(f"npm ci in {pages_dir} took more than {NPM_TIMEOUT_S} s") from None
    if proc.returncode != 0:
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise InfraError(f"npm ci in {pages_dir} failed (exit {proc.returncode}): {tail[:400]}")
    stamp.write_text(want + "\n")
    return True


def _pinned_versions(pages_dir: Path) -> dict[str, str]:
    deps = json.loads((pages_dir / "package.json").read_text()).get("dependencies", {})
    return {name: str(v) for name, v in deps.items()}


def copy_vendor(pages_dir: Path) -> tuple[int, int, dict[str, str]]:
    """Copy the needed dist files into vendor/; returns (copied, removed, versions)."""
    pages_dir = Path(pages_dir)
    nm = pages_dir / "node_modules"
    vendor = pages_dir / "vendor"
    pins = _pinned_versions(pages_dir)
    versions: dict[str, str] = {}
    for pkg in sorted({p for files in VENDOR_FILES.values() for p, _ in files}):
        meta = nm / pkg / "package.json"
        if not meta.is_file():
            raise UsageError(f"{pkg} is not installed in {nm}: run python -m mobile_webinfer.web.vendor --force")
        version = json.loads(meta.read_text())["version"]
        if pkg in pins and pins[pkg] != version:
            raise UsageError(f"{pkg} {version} installed but package.json pins {pins[pkg]}: "
                             f"run python -m mobile_webinfer.web.vendor --force")
        versions[pkg] = version
    copied = 0
    wanted: dict[Path, Path] = {}
    for sub, files in VENDOR_FILES.items():
        for pkg, rel in files:
            src = nm / pkg / rel
            if not src.is_file():
                raise UsageError(f"{pkg} {versions[pkg]} has no {rel}")
            wanted[vendor / sub / Path(rel).name] = src
    listed: dict[str, dict[str, object]] = {}
    index: dict[str, object] = {"versions": versions, "files": listed}
    for dst, src in sorted(wanted.items()):
        digest = file_sha256(src)
        if not (dst.is_file() and dst.stat().st_size == src.stat().st_size and file_sha256(dst) == digest):
            dst.parent.mkdir(parents=True, exist_ok=True)
            tmp = dst.with_name(dst.name + ".tmp")
            shutil.copyfile(src, tmp)
            os.replace(tmp, dst)
            copied += 1
        listed[dst.relative_to(vendor).as_posix()] = {"sha256": digest, "bytes": src.stat().st_size}
    removed = 0
    keep = set(wanted) | {vendor / INDEX_NAME}
    for p in sorted(vendor.rglob("*"), reverse=True):
        if p.is_file() and p not in keep:
            p.unlink()
            removed += 1
        elif p.is_dir() and not any(p.iterdir()):
            p.rmdir()
    text = json.dumps(index, indent=1, sort_keys=True) + "\n"
    idx = vendor / INDEX_NAME
    if not idx.is_file() or idx.read_text() != text:
        idx.write_text(text)
    return copied, removed, versions


def ensure_vendor(pages_dir: Path | str = PAGES_DIR, *, force: bool = False) -> VendorReport:
    """npm ci when needed, then make pages/vendor/ match exactly the files the pages load."""
    pages_dir = Path(pages_dir)
    installed = npm_install(pages_dir, force=force)
    copied, removed, versions = copy_vendor(pages_dir)
    return VendorReport(pages_dir / "vendor", installed, copied, removed, versions)


def vendored_versions(pages_dir: Path | str = PAGES_DIR) -> dict[str, str]:
    """The package versions recorded in pages/vendor/vendor.json ({} when not vendored)."""
    idx = Path(pages_dir) / "vendor" / INDEX_NAME
    try:
        return dict(json.loads(idx.read_text())["versions"])
    except (OSError, ValueError, KeyError):
        return {}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if any(a in ("-h", "--help") for a in args):
        print("usage: python -m mobile_webinfer.web.vendor [--force] [PAGES_DIR]\n"
              "Install the pinned JS runtimes (npm ci) and copy their js/wasm into PAGES_DIR/vendor/.")
        return 0
    force = "--force" in args
    rest = [a for a in args if a != "--force"]
    try:
        rep = ensure_vendor(Path(rest[0]) if rest else PAGES_DIR, force=force)
    except MwiError as exc:
        print(f"error: {exc.one_line()}", file=sys.stderr)
        return exc.exit_code
    vers = ", ".join(f"{k.rsplit('/', 1)[-1]} {v}" for k, v in sorted(rep.versions.items()))
    print(f"vendor ready in {rep.vendor_dir} (npm ci {'ran' if rep.installed else 'skipped'}, "
          f"{rep.copied} copied, {rep.removed} removed): {vers}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
