"""Probe one browser's capabilities (wasm features, threads, WebGL2, WebGPU, WebNN, cores).

    with PageServer() as srv:
        caps = probe_local_capabilities(None, srv)                       # headless Chromium here
        caps = probe_android_capabilities(dev, get_spec("chrome"), srv, device_port=free_port())

Both open pages/capabilities.html through the page server and return a frozen
``Capabilities`` (mobile_webinfer.web.capabilities); store ``caps.to_json()`` in the run
manifest under ``capabilities[target][browser]``.
"""

from __future__ import annotations

import socket
from typing import Any

from ..adb.device import Device
from ..browsers.android import force_stop, open_url
from ..browsers.specs import BrowserSpec
from ..web.capabilities import Capabilities, probe_capabilities


def probe_local_capabilities(chromium: str | None, server: Any, *, timeout_s: float = 90.0,
                             headless: bool = True) -> Capabilities:
    """Capabilities of this computer's Chromium, launched as the local target's GPU cells launch
    it (software WebGL / WebGPU through SwiftShader, the WebNN feature on)."""
    from ..browsers.local_chromium import LocalChromium

    with LocalChromium(chromium, webgl=True, webgpu=True, headless=headless) as browser:
        page = browser.new_page()
        try:
            return probe_capabilities(server, lambda url: page.goto(url, wait_until="commit"), timeout_s=timeout_s)
        finally:
            page.close()


def probe_android_capabilities(dev: Device, spec: BrowserSpec, server: Any, device_port: int, *,
                               timeout_s: float = 90.0) -> Capabilities:
    """Capabilities of one browser on a phone: the probe page through ``adb reverse``
    (phone tcp:device_port -> the page server; 127.0.0.1 is a secure context, as WebGPU needs).
    The browser is force-stopped before and after; the reverse mapping is restored."""
    with dev.reverse(device_port, server.port):
        force_stop(dev, spec)
        try:
            return probe_capabilities(server, lambda url: open_url(dev, spec, url),
                                      origin=f"http://127.0.0.1:{device_port}", timeout_s=timeout_s)
        finally:
            force_stop(dev, spec)


def free_port() -> int:
    """A TCP port free on this host right now (for the phone's side of adb reverse)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])



def collect_capabilities(chromium: str | None = None, *, phones: bool = True,
                         warn: Any = None) -> list[dict[str, Any]]:
    """The matrix for `mwi devices --capabilities`: this computer's Chromium, then every browser
    of every usable phone.  One dict per target x browser: target, browser, version,
    capabilities (to_json) and summary, or error (one line) when that probe failed."""
    from ..errors import MwiError
    from ..web.server import PageServer

    rows: list[dict[str, Any]] = []
    with PageServer() as server:
        try:
            caps = probe_local_capabilities(chromium, server)
            rows.append({"target": "local", "browser": "chromium", "version": _chrome_version(caps.user_agent),
                         "capabilities": caps.to_json(), "summary": caps.summary()})
        except MwiError as exc:
            rows.append({"target": "local", "browser": "chromium", "error": exc.one_line()})
        if not phones:
            return rows
        from ..adb.discovery import list_devices
        from ..adb.shell import AdbSession
        from ..browsers.android import installed_browsers

        try:
            session = AdbSession.from_env()
            infos = [i for i in list_devices(session) if i.usable]
        except MwiError as exc:
            if warn is not None:
                warn(f"no phones probed: {exc.one_line()}")
            return rows
        for info in infos:
            dev = Device(info.serial, client=session)
            try:
                browsers = installed_browsers(dev)
            except MwiError as exc:
                rows.append({"target": info.serial, "browser": "?", "error": exc.one_line()})
                continue
            port = free_port()
            for b in browsers:
                row: dict[str, Any] = {"target": info.serial, "browser": b.spec.package, "version": b.version}
                try:
                    caps = probe_android_capabilities(dev, b.spec, server, port)
                    row.update(capabilities=caps.to_json(), summary=caps.summary())
                except MwiError as exc:
                    row["error"] = exc.one_line()
                rows.append(row)
    return rows


def _chrome_version(ua: str) -> str | None:
    for tok in ua.split():
        if tok.startswith(("Chrome/", "HeadlessChrome/")):
            return tok.split("/", 1)[1]
    return None


__all__ = ["collect_capabilities", "free_port", "probe_android_capabilities", "probe_local_capabilities"]
