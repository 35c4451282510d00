"""Headless Chromium on this computer, driven by Playwright (sync API) over CDP.

    with LocalChromium(webgl=False, webgpu=False) as browser:
        page = browser.new_page()
        page.goto(ticket.url())
        pids = browser.browser_pids()     # browser + renderer + GPU + utility processes

Each instance gets a fresh temporary profile (removed on close).  Playwright's sync API is
bound to the thread that started it: drive pages from that thread; ``browser_pids`` reads
/proc only and may be called from any thread (e.g. a memory sampler).  The binary is Debian's
``/usr/bin/chromium`` unless ``MWI_CHROMIUM`` or an explicit path says otherwise; Playwright's
own browser downloads are never used.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..errors import BrowserError, UsageError
from ..hostproc import descendants, read_cmdline, read_ppid

CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
log = logging.getLogger(__name__)
LAUNCH_TIMEOUT_MS = 60_000

BASE_FLAGS = (
    "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-default-apps", "--disable-extensions",
    "--disable-domain-reliability", "--disable-client-side-phishing-detection", "--metrics-recording-only",
    "--password-store=basic", "--use-mock-keychain",
    # Timing must not be distorted by background throttling of a hidden/occluded page.
    "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows", "--disable-ipc-flooding-protection",
    # performance.memory without bucketing (JS heap numbers).
    "--enable-precise-memory-info",
)
WEBGL_FLAGS = ("--use-angle=swiftshader", "--enable-unsafe-swiftshader")
WEBGPU_FLAGS = ("--enable-unsafe-webgpu", "--enable-features=Vulkan", "--use-vulkan=swiftshader",
                "--use-webgpu-adapter=swiftshader", "--enable-unsafe-swiftshader")
#: navigator.ml (WebNN) sits behind this feature in Chromium 1xx builds without it on by default.
WEBNN_FEATURE = "WebMachineLearningNeuralNetwork"
NO_GPU_FLAGS = ("--disable-gpu", "--disable-webgpu")  # not --disable-webgl: tfjs probes it harmlessly


def find_chromium(explicit: str | None = None) -> Path:
    """The Chromium binary: `explicit`, else $MWI_CHROMIUM, else the first of CANDIDATES on PATH."""
    wanted = explicit or os.environ.get("MWI_CHROMIUM")
    if wanted:
        found = shutil.which(wanted) if os.sep not in wanted else (wanted if os.access(wanted, os.X_OK) else None)
        if not found or not Path(found).is_file():
            raise UsageError(f"Chromium binary {wanted!r} not found or not executable")
        return Path(found)
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return Path(found)
    raise UsageError("no Chromium found: install it (Debian/Ubuntu: apt-get install -y chromium) "
                     "or set MWI_CHROMIUM=/path/to/chrome")


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def merge_features(flags: Iterable[str]) -> list[str]:
    """One ``--enable-features=`` (Chromium keeps only the last of repeated switches), in order."""
    out: list[str] = []
    features: list[str] = []
    at = -1
    for f in flags:
        if f.startswith("--enable-features="):
            for name in f.split("=", 1)[1].split(","):
                if name and name not in features:
                    features.append(name)
            if at < 0:
                at = len(out)
                out.append("")
        else:
            out.append(f)
    if at >= 0:
        out[at] = "--enable-features=" + ",".join(features)
    return out


def flags_not_applied(asked: Iterable[str], command_line: str) -> list[str]:
    """The flags of `asked` that the browser's own command line (chrome://version) does not carry:
    a switch by its exact token, each feature of `--enable-features=A,B` in some `--enable-features=`
    the browser got."""
    tokens = command_line.split()
    features = {f for t in tokens if t.startswith("--enable-features=") for f in t.partition("=")[2].split(",")}
    missing = []
    for flag in asked:
        if flag.startswith("--enable-features="):
            missing += [f"--enable-features={f}" for f in flag.partition("=")[2].split(",") if f and f not in features]
        elif flag not in tokens:
            missing.append(flag)
    return missing


def chromium_flags(*, webgl: bool = True, webgpu: bool = True, headless: bool = True,
                   webnn: bool = True) -> list[str]:
    """Command-line flags for this machine (software GL / WebGPU via SwiftShader when asked).

    ``webnn`` exposes navigator.ml (the WebNN feature); whether a context can be created is
    then the browser's answer, recorded by the page.
    """
    flags = list(BASE_FLAGS)
    if _is_root():
        flags.append("--no-sandbox")  # Chromium refuses to start as root with its sandbox
    if webgl or webgpu:
        flags += WEBGL_FLAGS
    if webgpu:
        flags += [f for f in WEBGPU_FLAGS if f not in flags]
    if not webgl and not webgpu:
        flags += NO_GPU_FLAGS
    if webnn:
        flags.append(f"--enable-features={WEBNN_FEATURE}")
    if headless:
        flags.append("--hide-scrollbars")
    return merge_features(flags)


_local = threading.local()
PROFILE_PREFIX = "mwi-chromium-"


def reap_stale_profiles(tmp: str | None = None) -> list[Path]:
    """Remove temp profiles left by processes that died without cleaning up (e.g. SIGKILL).

    Profiles are named ``mwi-chromium-<pid>-*``; one whose pid is not alive is removed.
    """
    removed = []
    base = Path(tmp or tempfile.gettempdir())
    for d in base.glob(f"{PROFILE_PREFIX}*-*"):
        pid_text = d.name[len(PROFILE_PREFIX):].split("-", 1)[0]
        if not pid_text.isdigit() or not d.is_dir():
            continue
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
        except (PermissionError, OverflowError):
            continue
    return removed


def _acquire_playwright() -> Any:
    """The Playwright driver of this thread (one per thread, shared by its LocalChromiums)."""
    from playwright.sync_api import sync_playwright

    pw = getattr(_local, "pw", None)
    if pw is None:
        pw = sync_playwright().start()
        _local.pw, _local.users = pw, 0
    _local.users += 1
    return pw


def _release_playwright() -> None:
    if getattr(_local, "pw", None) is None:
        return
    _local.users -= 1
    if _local.users <= 0:
        pw, _local.pw = _local.pw, None
        pw.stop()


class LocalChromium:
    """A headless (by default) Chromium with a fresh profile; a context manager."""

    def __init__(self, executable: str | None = None, *, webgl: bool = True, webgpu: bool = True,
                 headless: bool = True, extra_flags: Iterable[str] = (), webnn: bool = True):
        self.executable = executable
        self.webgl = webgl
        self.webgpu = webgpu
        self.webnn = webnn
        self.headless = headless
        self.extra_flags: Sequence[str] = tuple(extra_flags)
        self.version: str = ""
        self.user_data_dir: Path | None = None
        self._pw: Any = None
        self._context: Any = None
        self._initial_taken = False

    @property
    def flags(self) -> list[str]:
        return merge_features(chromium_flags(webgl=self.webgl, webgpu=self.webgpu, headless=self.headless,
                                             webnn=self.webnn) + list(self.extra_flags))

    def start(self) -> LocalChromium:
        """Launch Chromium (idempotent).  BrowserError when it cannot start."""
        if self._context is not None:
            return self
        exe = find_chromium(self.executable)
        try:
            from playwright.sync_api import Error as PwError
        except ImportError:
            raise UsageError("the playwright Python package is missing: pip install playwright==1.65.2") from None
        try:
            return self._launch(exe, PwError)
        except BrowserError as exc:
            if "Timeout" not in str(exc):
                raise
            log.warning("Chromium did not start in time; one more try: %s", exc)  # a loaded machine
            return self._launch(exe, PwError)

    def _launch(self, exe: Path, PwError: type[Exception]) -> LocalChromium:
        reap_stale_profiles()
        self.user_data_dir = Path(tempfile.mkdtemp(prefix=f"{PROFILE_PREFIX}{os.getpid()}-"))
        self._initial_taken = False
        try:
            self._pw = _acquire_playwright()
            self._context = self._pw.chromium.launch_persistent_context(
                str(self.user_data_dir), executable_path=str(exe), headless=self.headless,
                args=self.flags, timeout=LAUNCH_TIMEOUT_MS, viewport={"width": 800, "height": 600},
                chromium_sandbox=not _is_root(), handle_sigint=False, handle_sigterm=False,
                handle_sighup=False)
            browser = self._context.browser
            self.version = browser.version if browser is not None else self._version_from_page()
        except PwError as exc:
            self.close()
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise BrowserError(f"Chromium ({exe}) failed to start: {first}") from None
        except BaseException:
            self.close()
            raise
        return self

    def command_line(self) -> str:
        """The command line the running browser says it was started with (chrome://version, read in a
        tab of its own): the flags as Chromium took them, not as they were asked."""
        page = self.context.new_page()
        try:
            page.goto("chrome://version", wait_until="load", timeout=30_000)
            return str(page.inner_text("#command_line", timeout=10_000))
        finally:
            page.close()

    def _version_from_page(self) -> str:
        page = self._context.pages[0] if self._context.pages else self._context.new_page()
        ua = page.evaluate("navigator.userAgent")
        for tok in ua.split():
            if tok.startswith(("Chrome/", "HeadlessChrome/")):
                return tok.split("/", 1)[1]
        return ""

    def __enter__(self) -> LocalChromium:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def context(self) -> Any:
        """The Playwright BrowserContext (persistent)."""
        if self._context is None:
            raise BrowserError("Chromium is not running")
        return self._context

    def new_page(self) -> Any:
        """A Playwright Page.  The first call reuses the blank tab Chromium opened with."""
        ctx = self.context
        if not self._initial_taken:
            self._initial_taken = True
            blank = [p for p in ctx.pages if p.url in ("about:blank", "")]
            if blank:
                return blank[0]
        return ctx.new_page()

    def browser_pids(self) -> list[int]:
        """The browser process and all its descendants (renderer, GPU, utility, zygotes)."""
        if self.user_data_dir is None:
            return []
        marker = f"--user-data-dir={self.user_data_dir}"
        candidates = set()
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                joined = " ".join(read_cmdline(int(entry.name)))  # children rewrite argv into one string
                if marker in joined and "--type=" not in joined:
                    candidates.add(int(entry.name))
        # A child just forked by the browser still shows the browser's command line until it
        # execs: the browser is the candidate whose parent is not a candidate.
        roots = [p for p in candidates if read_ppid(p) not in candidates]
        pids: set[int] = set()
        for r in roots:
            pids.update(descendants(r))
        return sorted(pids)

    def close(self) -> None:
        """Close the browser, stop Playwright, remove the profile (safe to call twice)."""
        ctx, self._context = self._context, None
        pw, self._pw = self._pw, None
        try:
            if ctx is not None:
                try:
                    ctx.close()
                except Exception:  # noqa: BLE001 - browser already gone; still clean up below
                    pass
        finally:
            try:
                if pw is not None:
                    _release_playwright()
            finally:
                if self.user_data_dir is not None:
                    shutil.rmtree(self.user_data_dir, ignore_errors=True)
