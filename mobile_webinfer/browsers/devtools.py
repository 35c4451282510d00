"""DevTools of a phone's browser over `adb forward tcp:N localabstract:<socket>`.

Targets are listed with plain HTTP (`/json/list`); evaluation, console capture and crash
detection go through Playwright's `chromium.connect_over_cdp` (no hand-written CDP client).

    with devtools(dev, get_spec("chrome")) as dt:
        page = dt.find_page("harness.html")
        dt.evaluate("document.title", url_contains="harness.html")
        dt.crashed("harness.html")     # True when the renderer is gone
"""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ..adb.device import Device
from ..adb.shell import validate_socket_name
from ..errors import BrowserError, MwiError, PageError, UsageError
from ..parsers.unix_sockets import devtools_socket_names, parse_proc_net_unix
from ..retry import effective_timeout, wait_for
from .specs import BrowserSpec


@dataclass(frozen=True)
class Target:
    id: str
    type: str
    title: str
    url: str
    ws_url: str | None


def _get_json(port: int, path: str, timeout: float) -> Any:
    url = f"http://127.0.0.1:{port}{path}"
    t = effective_timeout(timeout, f"GET {path}") or timeout
    try:
        with urllib.request.urlopen(url, timeout=t) as resp:  # noqa: S310 - loopback only
            return json.loads(resp.read().decode("utf-8"))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise BrowserError(f"DevTools at 127.0.0.1:{port}{path} did not answer: {exc}") from exc


class DevToolsSession:
    """DevTools on a host port.  Talks to nothing until a method is called; close() ends it."""

    def __init__(self, port: int, *, timeout: float = 10.0):
        self.port = port
        self.timeout = timeout
        self._pw: Any = None
        self._browser: Any = None
        self.console: list[dict[str, str]] = []

    # -- plain HTTP --

    def version(self) -> dict[str, Any]:
        return _get_json(self.port, "/json/version", self.timeout)

    def targets(self) -> list[Target]:
        data = _get_json(self.port, "/json/list", self.timeout)
        if not isinstance(data, list):
            raise BrowserError(f"DevTools /json/list returned {type(data).__name__}, not a list")
        return [Target(str(t.get("id", "")), str(t.get("type", "")), str(t.get("title", "")),
                       str(t.get("url", "")), t.get("webSocketDebuggerUrl")) for t in data]

    def find_page(self, url_contains: str) -> Target | None:
        for t in self.targets():
            if t.type == "page" and url_contains in t.url:
                return t
        return None

    # -- Playwright --

    def _connect(self) -> Any:
        if self._browser is None:
            from playwright.sync_api import sync_playwright

            self._pw = sync_playwright().start()
            try:
                self._browser = self._pw.chromium.connect_over_cdp(
                    f"http://127.0.0.1:{self.port}", timeout=self.timeout * 1000)
            except Exception as exc:  # noqa: BLE001
                self.close()
                raise BrowserError(f"cannot attach to DevTools on port {self.port}: {exc}") from exc
        return self._browser

    def _page(self, url_contains: str | None) -> Any:
        browser = self._connect()
        pages = [p for ctx in browser.contexts for p in ctx.pages]
        for p in pages:
            if url_contains is None or url_contains in p.url:
                return p
        raise PageError(f"no page whose URL contains {url_contains!r} (open: {[p.url for p in pages]})")

    def evaluate(self, expression: str, *, url_contains: str | None = None) -> Any:
        """Evaluate a JavaScript expression in the page; PageError when it throws or the page crashed."""
        page = self._page(url_contains)
        try:
            return page.evaluate(expression)
        except Exception as exc:  # noqa: BLE001 - playwright.Error and friends
            text = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
            if "crash" in text.lower():
                raise PageError(f"the page's renderer crashed: {text}") from exc
            raise PageError(f"evaluating in the page failed: {text}") from exc

    def watch_console(self, url_contains: str | None = None) -> None:
        """Collect the page's console messages into `self.console` from now on."""
        page = self._page(url_contains)
        page.on("console", lambda m: self.console.append({"type": m.type, "text": m.text}))

    def crashed(self, url_contains: str) -> bool:
        """True when the page's target is gone or its renderer no longer answers."""
        if self.find_page(url_contains) is None:
            return True
        page = self._page(url_contains)
        try:
            page.evaluate("1")
            return False
        except Exception as exc:  # noqa: BLE001
            return "crash" in str(exc).lower() or "closed" in str(exc).lower()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            if self._browser is not None:
                self._browser.close()
        with contextlib.suppress(Exception):
            if self._pw is not None:
                self._pw.stop()
        self._browser = None
        self._pw = None

    def __enter__(self) -> DevToolsSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def devtools(dev: Device, spec: BrowserSpec, *, ready_timeout: float = 15.0,
             socket_name: str | None = None) -> Iterator[DevToolsSession]:
    """Forward a free host port to the browser's DevTools socket; yields a session; removes it after."""
    name = socket_name or spec.devtools_socket
    if not name:
        raise UsageError(f"{spec.name} exposes no DevTools socket")
    validate_socket_name(name)
    with dev.forward(None, f"localabstract:{name}") as port:
        session = DevToolsSession(port)
        try:
            wait_for(lambda: _answers(session), timeout=ready_timeout, interval=0.2,
                     what=f"DevTools of {spec.name} on {dev.serial}")
            yield session
        finally:
            session.close()


def _answers(session: DevToolsSession) -> bool:
    try:
        session.version()
        return True
    except BrowserError:
        return False


# ---- which DevTools sockets the phone has open ------------------------------------------


@dataclass(frozen=True)
class DevToolsStatus:
    """A browser's DevTools as found on the phone (for `mwi devices`).

    state: "no-socket-known" | "missing" (socket not open) | "no-pages" | "ok" | "unreachable"
    """

    package: str
    name: str
    socket: str | None
    state: str
    pages: int | None
    note: str

    @property
    def ok(self) -> bool:
        return self.state == "ok"

    def to_json(self) -> dict[str, Any]:
        return {"package": self.package, "socket": self.socket, "state": self.state, "pages": self.pages,
                "note": self.note}


def list_devtools_sockets(dev: Device) -> tuple[str, ...]:
    """Listening abstract sockets named `*devtools_remote*` on the phone (`cat /proc/net/unix`)."""
    text = dev.read(["cat", "/proc/net/unix"])
    return devtools_socket_names(parse_proc_net_unix(text, source=f"{dev.serial}: /proc/net/unix"))


def devtools_statuses(dev: Device, specs: Iterable[BrowserSpec], *, sockets: tuple[str, ...] | None = None,
                      count_pages: bool = True, timeout: float = 5.0) -> list[DevToolsStatus]:
    """For each browser: is its DevTools socket open, and does it list pages?

    `sockets` (from `list_devtools_sockets`) is read once when not given.  Counting pages forwards
    a host port to each open socket for a moment.
    """
    found = set(list_devtools_sockets(dev) if sockets is None else sockets)
    out = []
    for spec in specs:
        hint = f"; {spec.devtools_hint}" if spec.devtools_hint else ""
        if not spec.devtools_socket:
            out.append(DevToolsStatus(spec.package, spec.name, None, "no-socket-known", None,
                                      f"{spec.name}: no DevTools socket known, so mwi cannot watch its pages"))
            continue
        sock = spec.devtools_socket
        if sock not in found:
            out.append(DevToolsStatus(spec.package, spec.name, sock, "missing", None,
                                      f"{spec.name}: DevTools socket @{sock} is not open (the browser is not "
                                      f"running, or its remote debugging is off){hint}"))
            continue
        if not count_pages:
            out.append(DevToolsStatus(spec.package, spec.name, sock, "ok", None, f"{spec.name}: @{sock} open"))
            continue
        try:
            with devtools(dev, spec, ready_timeout=timeout) as dt:
                owner = dt.version().get("Android-Package")
                pages = sum(1 for t in dt.targets() if t.type == "page")
        except MwiError as exc:
            out.append(DevToolsStatus(spec.package, spec.name, sock, "unreachable", None,
                                      f"{spec.name}: DevTools socket @{sock} is open but did not answer: "
                                      f"{exc.one_line()}"))
            continue
        if isinstance(owner, str) and owner and owner != spec.package:   # Chrome's channels share one name
            out.append(DevToolsStatus(spec.package, spec.name, sock, "missing", None,
                                      f"{spec.name}: DevTools socket @{sock} belongs to {owner} right now "
                                      f"(one Chrome channel at a time holds it){hint}"))
            continue
        if pages == 0:
            out.append(DevToolsStatus(spec.package, spec.name, sock, "no-pages", 0,
                                      f"{spec.name}: DevTools socket @{sock} lists no pages{hint}"))
        else:
            out.append(DevToolsStatus(spec.package, spec.name, sock, "ok", pages,
                                      f"{spec.name}: @{sock} open, {pages} page(s)"))
    return out
