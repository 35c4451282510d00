"""`mwi doctor`: is this computer ready to measure?  One check per thing a sweep needs, each ok / warn /
fail with the fix in one line.

    report = host_checks(cluster=False)
    for c in report.checks: print(c.status, c.name, c.detail, c.fix)
    report.ok                      # no check failed

Every check really exercises what it names: adb answers `version` and its server a connection,
Chromium answers `--version`, the vendored runtime files hash to their pins, the page server is
started and its answer carries the cross-origin isolation headers.  A phone's preflight (the same
record per check) is `targets.android.preflight`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import textwrap
import time
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import MwiError

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"
STATUSES = (OK, WARN, FAIL, SKIP)
#: below this much free disk in the model cache, building the study's models may not fit
MIN_FREE_GB = 2.0
COI_HEADERS = {"Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp"}


@dataclass(frozen=True)
class Check:
    """One check's verdict: `fix` says what to do when the status is warn or fail (empty when ok)."""

    name: str
    status: str
    detail: str
    fix: str = ""
    target: str = "host"   # "host" or a phone's serial
    seconds: float = 0.0
    error: bool = False    # failed because the check itself raised (a hang, a lost phone), not on a finding

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"check status must be one of {STATUSES}, got {self.status!r}")

    @property
    def failed(self) -> bool:
        return self.status == FAIL

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target, "name": self.name, "status": self.status, "detail": self.detail,
                "fix": self.fix or None, "seconds": round(self.seconds, 3), "error": self.error}


@dataclass(frozen=True)
class DoctorReport:
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return not any(c.failed for c in self.checks)

    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.failed]

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [c.to_json() for c in self.checks]}


class Outcome(Exception):
    """Raised inside a check function to end it with a status other than ok."""

    def __init__(self, status: str, detail: str, fix: str = ""):
        super().__init__(detail)
        self.status, self.detail, self.fix = status, detail, fix


def run_check(name: str, fn: Callable[[], str], *, target: str = "host", fix_on_error: str = "") -> Check:
    """Run one check: its return value is the ok detail; Outcome sets another status; any MwiError or
    OSError fails it with `fix_on_error`."""
    t0 = time.monotonic()
    error = False
    try:
        detail = fn()
        status, fix = OK, ""
    except Outcome as o:
        status, detail, fix = o.status, o.detail, o.fix
    except MwiError as exc:
        status, detail, fix, error = FAIL, exc.one_line(), fix_on_error, True
    except Exception as exc:  # noqa: BLE001 - a doctor reports what broke, it does not crash on it
        status, detail, fix, error = FAIL, f"{type(exc).__name__}: {str(exc)[:200]}", fix_on_error, True
    return Check(name, status, detail, fix, target, time.monotonic() - t0, error)


# ---- the host's checks --------------------------------------------------------------------------------


def check_adb() -> str:
    from ..adb.shell import AdbSession, adb_binary

    try:
        binary = adb_binary()
    except MwiError as exc:
        raise Outcome(WARN, f"{exc.one_line()} (only phones need it)",
                      "apt-get install -y adb (Debian/Ubuntu), or set ADBUTILS_ADB_PATH=/path/to/adb") from None
    proc = subprocess.run([binary, "version"], capture_output=True, text=True, timeout=15, stdin=subprocess.DEVNULL)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise Outcome(FAIL, f"{binary} version exited {proc.returncode}: {(proc.stderr or proc.stdout).strip()[:120]}",
                      "reinstall adb (Debian: apt-get install --reinstall adb)")
    version = " ".join(w for w in lines[:2] if w).replace("Android Debug Bridge version ", "adb ")
    session = AdbSession.from_env()
    started = ""
    if not session.server_running():
        try:
            session.ensure_server()
        except MwiError as exc:
            raise Outcome(FAIL, f"{version}; server on {session.host}:{session.port} not running and would not "
                                f"start: {exc.one_line()}", f"{binary} -P {session.port} start-server") from None
        started = " (started now)"
    n = len(session.list_devices())
    return f"{version} ({binary}); server on {session.host}:{session.port}{started}, {n} device(s) listed"


def check_chromium(explicit: str | None = None) -> str:
    from ..browsers.local_chromium import find_chromium

    try:
        exe = find_chromium(explicit)
    except MwiError as exc:
        raise Outcome(FAIL, exc.one_line(),
                      "apt-get install -y chromium (Debian/Ubuntu), or set MWI_CHROMIUM=/path/to/chrome") from None
    proc = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=30,
                          stdin=subprocess.DEVNULL)
    version = proc.stdout.strip().splitlines()[0] if proc.stdout.strip() else ""
    if proc.returncode != 0 or not version:
        raise Outcome(FAIL, f"{exe} --version exited {proc.returncode}: {(proc.stderr or '').strip()[:120]}",
                      "reinstall it, or point MWI_CHROMIUM at a working Chrome/Chromium")
    return f"{version} ({exe})"


def check_playwright() -> str:
    try:
        from playwright._impl._driver import compute_driver_executable
    except ImportError as exc:
        raise Outcome(FAIL, f"playwright does not import: {exc}", "pip install playwright==1.65.2") from None
    driver = compute_driver_executable()
    parts = [Path(p) for p in (driver if isinstance(driver, tuple) else (driver,))]
    missing = [str(p) for p in parts if not p.exists()]
    if missing:
        raise Outcome(FAIL, f"playwright: driver missing: {', '.join(missing)}",
                      "pip install --force-reinstall playwright==1.65.2")
    from importlib.metadata import version

    return f"playwright {version('playwright')}, driver {parts[-1].parent}"


def check_pages() -> str:
    from ..paths import PAGES_DIR, PAGES_SOURCE

    needed = ("harness.html", "harness.js", "capabilities.html", "preflight.html", "protocol.js")
    missing = [n for n in needed if not (PAGES_DIR / n).is_file()]
    if missing:
        raise Outcome(FAIL, f"{PAGES_DIR} ({PAGES_SOURCE}) lacks {', '.join(missing)}",
                      "point MWI_PAGES_DIR at a checkout's pages/, or reinstall the wheel")
    return f"{PAGES_DIR} (from the {PAGES_SOURCE})"


def check_vendor() -> str:
    from ..files import file_sha256
    from ..paths import PAGES_DIR, PAGES_SOURCE

    fix = ("python -m mobile_webinfer.web.vendor (in the checkout)" if PAGES_SOURCE != "wheel"
           else "pip install --force-reinstall mobile-webinfer (the wheel's files were changed)")
    idx = PAGES_DIR / "vendor" / "vendor.json"
    try:
        index = json.loads(idx.read_text())
        files, versions = dict(index["files"]), dict(index["versions"])
    except (OSError, ValueError, KeyError) as exc:
        raise Outcome(FAIL, f"{idx} unreadable: {exc}", fix) from None
    try:
        pins = json.loads((PAGES_DIR / "package.json").read_text()).get("dependencies", {})
    except (OSError, ValueError):
        pins = {}
    off_pin = [f"{k} {v} (pinned {pins[k]})" for k, v in sorted(versions.items()) if k in pins and pins[k] != v]
    if off_pin:
        raise Outcome(FAIL, f"vendored versions differ from package.json: {'; '.join(off_pin)}", fix)
    bad: list[str] = []
    total = 0
    for rel, meta in sorted(files.items()):
        p = PAGES_DIR / "vendor" / rel
        if not p.is_file():
            bad.append(f"{rel} missing")
        elif p.stat().st_size != meta.get("bytes") or file_sha256(p) != meta.get("sha256"):
            bad.append(f"{rel} differs from its sha256")
        else:
            total += p.stat().st_size
    if bad:
        more = f" (+{len(bad) - 2} more)" if len(bad) > 2 else ""
        raise Outcome(FAIL, f"{len(bad)} of {len(files)} vendored files bad: {'; '.join(bad[:2])}{more}", fix)
    short = ", ".join(f"{k.rsplit('/', 1)[-1]} {v}" for k, v in sorted(versions.items()))
    return f"{len(files)} files ({total / 1e6:.0f} MB) match their sha256: {short}"


def _import_version(module: str, dist: str, fix: str, *, required: bool) -> str:
    import importlib

    try:
        mod = importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001 - any import failure (missing, ABI, native lib) is the finding
        raise Outcome(FAIL if required else WARN, f"{module} does not import: {type(exc).__name__}: "
                                                  f"{str(exc)[:120]}", fix) from None
    from importlib.metadata import PackageNotFoundError, version

    try:
        v = version(dist)
    except PackageNotFoundError:
        v = getattr(mod, "__version__", "?")
    return f"{dist} {v}"


def check_litert() -> str:
    return _import_version("ai_edge_litert.interpreter", "ai-edge-litert", "pip install ai-edge-litert==2.3.0",
                           required=True) + " (native TFLite cells)"


def check_onnxruntime() -> str:
    return _import_version("onnxruntime", "onnxruntime", "pip install 'mobile-webinfer[build]' (or onnxruntime)",
                           required=False) + " (ort-native cells)"


def check_models() -> str:
    from ..paths import models_dir

    root = models_dir()
    built = sorted(p.parent.name for p in root.glob("*/manifest.json")) if root.is_dir() else []
    probe = root if root.is_dir() else next((p for p in root.parents if p.is_dir()), Path("/"))
    free_gb = shutil.disk_usage(probe).free / 1e9
    where = f"{root}: {len(built)} built ({', '.join(built[:6])}{', ...' if len(built) > 6 else ''}), " \
            f"{free_gb:.1f} GB free"
    if free_gb < MIN_FREE_GB:
        raise Outcome(WARN, where, f"free disk under {root} (the study's models need ~{MIN_FREE_GB:.0f} GB), "
                                   f"or set MWI_MODELS_DIR to a bigger disk")
    missing = [m for m in ("tensorflow", "tf2onnx", "tensorflowjs") if not _has_module(m)]
    if missing and not built:
        raise Outcome(WARN, f"{where}; {', '.join(missing)} missing, so no zoo model can be built here",
                      "pip install 'mobile-webinfer[build]' and pip install --no-deps tensorflowjs==4.22.0 "
                      "tensorflow-hub==0.16.1 (or point MWI_MODELS_DIR at built models)")
    return where + (f"; building more needs {', '.join(missing)}" if missing else "")


def _has_module(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def check_results(out_root: Path | None = None) -> str:
    from ..paths import default_out_root

    root = Path(out_root) if out_root is not None else default_out_root()
    runs = root / "runs"
    try:
        runs.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=runs, prefix=".mwi-doctor-", delete=True) as f:
            f.write(b"x")
            f.flush()
    except OSError as exc:
        raise Outcome(FAIL, f"{runs} is not writable: {exc.strerror or exc}",
                      "pass --out DIR (or set MWI_OUT) to a writable folder") from None
    return f"{runs.resolve()} writable"


def check_isolation() -> str:
    """Start the page server and read what it really sends: COOP/COEP on the page, CORP + wasm type on a
    vendored file (wasm threads and SharedArrayBuffer need all of it)."""
    from ..web.server import PageServer

    fix = "the page server must send COOP same-origin + COEP require-corp (mobile_webinfer/web/server.py)"
    with PageServer() as server:
        base = server.base_url.rstrip("/")
        with urllib.request.urlopen(f"{base}/harness.html", timeout=10) as resp:
            headers = {k: resp.headers.get(k) for k in COI_HEADERS}
        wrong = [f"{k}: {headers[k]!r}" for k, want in COI_HEADERS.items() if headers[k] != want]
        if wrong:
            raise Outcome(FAIL, f"{base}/harness.html answers {', '.join(wrong)}", fix)
        wasm = _some_wasm()
        extra = ""
        if wasm:
            with urllib.request.urlopen(f"{base}/vendor/{wasm}", timeout=10) as resp:
                corp, ctype = resp.headers.get("Cross-Origin-Resource-Policy"), resp.headers.get("Content-Type")
            if corp not in ("same-origin", "same-site", "cross-origin") or "wasm" not in (ctype or ""):
                raise Outcome(FAIL, f"/vendor/{wasm}: Cross-Origin-Resource-Policy {corp!r}, Content-Type {ctype!r}",
                              fix)
            extra = f"; /vendor/{wasm}: CORP {corp}, {ctype}"
    return f"page server sends COOP same-origin + COEP require-corp{extra}"


def check_local_page(chromium: str | None = None) -> str:
    """The path a local cell takes: headless Chromium through Playwright loads a page from the page server
    and posts back, on a cross-origin isolated page (what wasm threads need)."""
    from ..browsers.local_chromium import LocalChromium, find_chromium
    from ..web.server import PageServer

    try:
        find_chromium(chromium)
    except MwiError:
        raise Outcome(SKIP, "no Chromium (see 'chromium')") from None
    t0 = time.monotonic()
    with PageServer() as server, LocalChromium(chromium, webgl=False, webgpu=False) as browser:
        probe = server.open_probe("preflight.html")
        page = browser.new_page()
        page.goto(probe.url())
        payload = probe.wait(timeout=30)
    if payload.get("cross_origin_isolated") is not True:
        raise Outcome(FAIL, "the page loaded but is not cross-origin isolated (no SharedArrayBuffer: wasm "
                            "threads cannot run)", "serve pages with mwi's page server (COOP/COEP), not another")
    return f"headless Chromium loaded a page and posted in {time.monotonic() - t0:.1f} s, crossOriginIsolated true"


def _some_wasm() -> str | None:
    from ..paths import PAGES_DIR

    found = sorted((PAGES_DIR / "vendor").glob("*/*.wasm"), key=lambda p: p.stat().st_size)
    return found[0].relative_to(PAGES_DIR / "vendor").as_posix() if found else None


def check_ray() -> str:
    fix = "pip install 'mobile-webinfer[cluster]' (ray==2.60.0) on the driver and on every phone host"
    out = _import_version("ray", "ray", fix, required=True)
    if out != "ray 2.60.0":
        raise Outcome(WARN, f"{out}; mwi pins ray 2.60.0 (every host must run the same Ray)", fix)
    return out


#: name -> (check, fix when it raises an unexpected library error)
HOST_CHECKS: dict[str, tuple[Callable[[], str], str]] = {
    "adb": (check_adb, "adb kill-server; adb start-server"),
    "chromium": (check_chromium, "apt-get install -y chromium, or set MWI_CHROMIUM"),
    "playwright": (check_playwright, "pip install playwright==1.65.2"),
    "pages": (check_pages, "reinstall mobile-webinfer, or set MWI_PAGES_DIR"),
    "runtimes": (check_vendor, "python -m mobile_webinfer.web.vendor"),
    "ai-edge-litert": (check_litert, "pip install ai-edge-litert==2.3.0"),
    "onnxruntime": (check_onnxruntime, "pip install onnxruntime"),
    "models": (check_models, "set MWI_MODELS_DIR to a writable folder"),
    "results": (check_results, "pass --out DIR"),
    "isolation": (check_isolation, "check that nothing else answers on the page server's port"),
    "local page": (check_local_page, "check that Chromium starts headless: chromium --headless=new --dump-dom about:blank"),
}


def host_checks(*, cluster: bool = False, out_root: Path | None = None, chromium: str | None = None,
                only: Iterable[str] | None = None) -> DoctorReport:
    """Every check of this computer, in the order of HOST_CHECKS (+ Ray when `cluster`)."""
    table = dict(HOST_CHECKS)
    table["results"] = (lambda: check_results(out_root), table["results"][1])
    table["chromium"] = (lambda: check_chromium(chromium), table["chromium"][1])
    table["local page"] = (lambda: check_local_page(chromium), table["local page"][1])
    if cluster:
        table["ray"] = (check_ray, "pip install 'mobile-webinfer[cluster]'")
    names = list(table) if only is None else [n for n in table if n in set(only)]
    return DoctorReport(tuple(run_check(n, table[n][0], fix_on_error=table[n][1]) for n in names))


def render(report: DoctorReport, *, width: int | None = None) -> str:
    """One screen: `  ok    name         detail` and, under a warn / fail, `        fix: ...`."""
    width = width or shutil.get_terminal_size((100, 24)).columns
    name_w = max([len(c.name) for c in report.checks] + [8])
    lines: list[str] = []
    target = None
    for c in report.checks:
        if c.target != target:
            target = c.target
            lines.append(f"{'this computer' if target == 'host' else 'phone ' + target}:")
        head = f"  {c.status:<5} {c.name:<{name_w}}  "
        lines.append(_clip(head + c.detail, width))
        if c.fix and c.status in (WARN, FAIL):  # the fix is never cut: it wraps
            lines += textwrap.wrap("fix: " + c.fix, width=max(width, 40), initial_indent=" " * 8,
                                   subsequent_indent=" " * 13, break_on_hyphens=False)
    failed = len(report.failures())
    warned = sum(c.status == WARN for c in report.checks)
    lines.append(f"{len(report.checks)} checks: {failed} failed, {warned} warnings"
                 + ("" if failed else " - ready"))
    return "\n".join(lines)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 3, 10)] + "..."


__all__ = ["FAIL", "OK", "SKIP", "WARN", "Check", "DoctorReport", "Outcome", "host_checks", "render", "run_check"]
