"""The smallest DevTools client the fake phone needs: `input tap X Y` becomes a real mouse press
and release (CDP `Input.dispatchMouseEvent`) in the page of the foreground browser.

Standard library only (the fake phone may run in its own process): HTTP `/json/list` for the
page's WebSocket URL, an RFC 6455 handshake, masked text frames out, frames in until the reply
with our id.  Coordinates: `input tap` takes screen pixels; the fake screen is the browser's
window: its own UI is the band of `outerHeight - innerHeight` CSS px above the page (as on a
phone, where Chrome's toolbar sits above the viewport), and physical pixels are CSS pixels times
the page's devicePixelRatio.  A tap maps back through both, so a host that places taps wrongly
misses the page's tap pad here as it would on a phone.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import struct
import urllib.parse
from typing import Any


def _page_ws_url(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/json/list")
        targets = json.loads(conn.getresponse().read())
    finally:
        conn.close()
    pages = [t for t in targets if t.get("type") == "page" and t.get("webSocketDebuggerUrl")]
    if not pages:
        raise RuntimeError("no page to tap")
    live = [t for t in pages if not str(t.get("url", "")).startswith("about:")] or pages
    return str(live[0]["webSocketDebuggerUrl"])   # /json/list lists the most recent page first


class _Ws:
    def __init__(self, url: str, timeout: float = 10.0):
        u = urllib.parse.urlsplit(url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        req = (f"GET {u.path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
        self.sock.sendall(req.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise RuntimeError("DevTools closed the WebSocket handshake")
            head += chunk
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise RuntimeError(f"DevTools refused the WebSocket: {head[:80]!r}")
        self.buf = head.split(b"\r\n\r\n", 1)[1]

    def send(self, obj: Any) -> None:
        data = json.dumps(obj).encode()
        mask = os.urandom(4)
        n = len(data)
        head = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n))
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _read(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("DevTools closed the WebSocket")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self) -> Any:
        b0, b1 = self._read(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack(">H", self._read(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", self._read(8))[0]
        payload = self._read(n)
        return json.loads(payload) if b0 & 0x0F == 1 else None

    def close(self) -> None:
        self.sock.close()


def _call(ws: _Ws, i: int, method: str, params: dict[str, Any]) -> Any:
    ws.send({"id": i, "method": method, "params": params})
    while True:
        msg = ws.recv()
        if isinstance(msg, dict) and msg.get("id") == i:
            if "error" in msg:
                raise RuntimeError(f"{method}: {msg['error']}")
            return msg.get("result")


def _screen(ws: _Ws) -> tuple[float, float]:
    """The page's devicePixelRatio and the browser UI's height above it (CSS px)."""
    res = _call(ws, 1, "Runtime.evaluate", {
        "expression": "JSON.stringify([window.devicePixelRatio || 1, "
                      "Math.max(0, (window.outerHeight || window.innerHeight) - window.innerHeight)])",
        "returnByValue": True})
    dpr, top = json.loads(res["result"]["value"])
    return float(dpr), float(top)


def tap(port: int, x_px: int, y_px: int) -> None:
    """A left-button press and release at screen pixel (x, y) in the browser's current page."""
    ws = _Ws(_page_ws_url(port))
    try:
        dpr, top = _screen(ws)
        x, y = x_px / dpr, y_px / dpr - top
        for i, kind in enumerate(("mousePressed", "mouseReleased"), start=2):
            _call(ws, i, "Input.dispatchMouseEvent",
                  {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})
    finally:
        ws.close()


#: GPU context loss on demand (issue 22 item 7): the page's WebGL context is lost through the
#: `WEBGL_lose_context` extension, its WebGPU device destroyed; what was lost is returned ('' while
#: the runtime has no GPU context yet, so that a caller can try again).
_LOSE_GPU_JS = """(() => {
  const done = [];
  const tf = self.tf;
  const name = tf && tf.getBackend ? tf.getBackend() : null;
  if (name === 'webgl') {
    const gl = tf.backend().gpgpu && tf.backend().gpgpu.gl;
    const ext = gl && gl.getExtension('WEBGL_lose_context');
    if (ext) { ext.loseContext(); done.push('webgl'); }
  }
  if (name === 'webgpu' && tf.backend().device) { tf.backend().device.destroy(); done.push('webgpu'); }
  return done.join(',');
})()"""


def lose_gpu(port: int) -> str:
    """Lose the GPU context of the browser's current page (WebGL or WebGPU); '' when it has none yet."""
    ws = _Ws(_page_ws_url(port))
    try:
        res = _call(ws, 1, "Runtime.evaluate", {"expression": _LOSE_GPU_JS, "returnByValue": True})
        return str((res.get("result") or {}).get("value") or "")
    finally:
        ws.close()
