"""The page server: serves pages/ and built models to the browser, takes results back.

    with PageServer(models_dir=models_dir()) as srv:
        ticket = srv.open_cell(config_for(manifest, "tfjs", "wasm", 1))
        page.goto(ticket.url())
        result = ticket.wait(timeout=120)        # CellResult, or PageError
        ticket.close()

Binds 127.0.0.1 on an ephemeral port; a ThreadingHTTPServer in a daemon thread (the
browser fetches weight shards over ~6 connections at once).  Every response carries
COOP/COEP/CORP so the page is cross-origin isolated (wasm threads, fine timers).  It never
serves outside its two roots, accepts only localhost Host headers, and accepts one
well-formed result per cell, with that cell's token.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import re
import secrets
import socket
import threading
import time
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from ..errors import MwiError, UsageError
from ..paths import PAGES_DIR
from .protocol import CellConfig, CellResult, InvalidResult, PageReportedError, error_for, loads_strict, validate_result
from .qoe_protocol import validate_qoe_result
from .vendor import runtime_files

log = logging.getLogger("mwi.web")

MIME_TYPES = {
    ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
    ".json": "application/json", ".wasm": "application/wasm", ".bin": "application/octet-stream",
    ".tflite": "application/octet-stream", ".onnx": "application/octet-stream",
    ".txt": "text/plain; charset=utf-8", ".map": "application/json", ".png": "image/png",
    ".svg": "image/svg+xml", ".ico": "image/x-icon",
}
ISOLATION_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
ALLOWED_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
MAX_EVENTS = 1000
MAX_EVENT_BODY = 16 << 10
_SEGMENT_RE = re.compile(r"^[A-Za-z0-9_@+][A-Za-z0-9_.@+-]*$")
_API_RE = re.compile(r"^/api/cell/([A-Za-z0-9_-]{1,64})/(config|event|result|turn)$")
#: a paired page waits at most this long in one turn for the host's word (the host answers in seconds)
TURN_WAIT_S = 600.0
_PROBE_RE = re.compile(r"^/api/probe/([A-Za-z0-9_-]{1,64})/result$")
#: folders under pages_dir that are never served (sources, not the page).
_HIDDEN_TOP = frozenset({"node_modules"})


def host_allowed(host_header: str | None) -> bool:
    """True for localhost / 127.0.0.1 / [::1] with any (or no) port."""
    if not host_header:
        return False
    host = host_header.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        if end < 0:
            return False
        name, rest = host[1:end], host[end + 1:]
    else:
        name, _, port = host.partition(":")
        rest = ":" + port if _ else ""
    if rest and not re.fullmatch(r":\d{1,5}", rest):
        return False
    return name in ALLOWED_HOSTS


def _origin_allowed(origin: str | None) -> bool:
    if origin is None:
        return True
    parts = urllib.parse.urlsplit(origin)
    return parts.scheme in ("http", "https") and host_allowed(parts.netloc)


class _Ticket:
    """What a cell and a capability probe share: a per-ticket token, a condition to wait on,
    the requests rejected, and a page URL on some origin (the host, or a phone's adb reverse)."""

    def __init__(self, server: PageServer, ticket_id: str, token: str):
        self._server = server
        self.ticket_id = ticket_id
        self.token = token
        self._cond = threading.Condition()
        self._rejections: list[str] = []
        self._closed = False

    def _page_url(self, origin: str | None, page: str, params: dict[str, str]) -> str:
        base = (origin or self._server.base_url).rstrip("/")
        if urllib.parse.urlsplit(base).scheme not in ("http", "https"):
            raise UsageError(f"origin must be an http(s) URL, got {origin!r}")
        return f"{base}/{page}?" + urllib.parse.urlencode(params)

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Forget the ticket: later requests for it are answered 404."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._forget()

    def _forget(self) -> None:  # pragma: no cover - each kind of ticket unregisters itself
        raise NotImplementedError

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _token_ok(self, token: Any) -> bool:
        return isinstance(token, str) and hmac.compare_digest(token.encode(), self.token.encode())

    def _reject(self, reason: str) -> None:
        with self._cond:
            self._rejections.append(reason)
        log.info("%s %s: rejected: %s", type(self).__name__, self.ticket_id, reason)


class CellTicket(_Ticket):
    """One cell in flight on a PageServer: its id, token, events and (soon) its result."""

    def __init__(self, server: PageServer, config: CellConfig, token: str):
        super().__init__(server, config.cell, token)
        self.config = config
        self.cell_id = config.cell
        self._events: list[dict[str, Any]] = []
        self._result: CellResult | None = None
        self._opened = time.monotonic()
        self._last_event = self._opened
        self._reached: float | None = None
        self._turn_in: dict[str, Any] | None = None   # paired cells: the page's last block, waiting
        self._turn_out: dict[str, Any] | None = None  # the host's word for it

    # -- host side --------------------------------------------------------------------
    def url(self, origin: str | None = None) -> str:
        """The harness URL for this cell (origin: e.g. http://127.0.0.1:DEVICE_PORT via adb reverse)."""
        return self._page_url(origin, self.config.page, {"cell": self.cell_id, "token": self.token})

    def wait(self, timeout: float, *, stall_timeout: float | None = None) -> CellResult:
        """Block until the page posts its result.

        Raises PageReportedError (a PageError; PageBackendFallback for a fallback) when the page
        reported an error, when ``timeout`` passes, or when no event arrived for ``stall_timeout``.
        """
        t_end = time.monotonic() + timeout
        with self._cond:
            while self._result is None:
                if self._closed:
                    raise PageReportedError(f"cell {self.cell_id}: closed before a result arrived"
                                            f"{self._where()}", kind="timeout")
                now = time.monotonic()
                if now >= t_end:
                    raise PageReportedError(f"cell {self.cell_id}: no result after {timeout:.1f} s"
                                            f"{self._where()}", kind="timeout")
                if stall_timeout is not None and now - self._last_event >= stall_timeout:
                    raise PageReportedError(f"cell {self.cell_id}: page silent for {stall_timeout:.1f} s"
                                            f"{self._where()}", kind="timeout")
                pause = t_end - now
                if stall_timeout is not None:
                    pause = min(pause, self._last_event + stall_timeout - now)
                self._cond.wait(max(0.01, min(pause, 1.0)))
            result = self._result
        if not result.ok:
            raise error_for(result)
        return result

    def wait_turn(self, timeout: float) -> dict[str, Any]:
        """Paired cells: block until the page is waiting for its next turn (after warm-up, then after
        each block); its post (`round`, `latencies_ms`).  Raises PageReportedError when the page posted
        its result instead (an error), when the ticket closed, or after `timeout`."""
        t_end = time.monotonic() + timeout
        with self._cond:
            while self._turn_in is None:
                if self._result is not None:
                    if not self._result.ok:
                        raise error_for(self._result)
                    raise PageReportedError(f"cell {self.cell_id}: the page posted its result without "
                                            f"waiting for its turn (not a paired page?)", kind="pairing")
                if self._closed:
                    raise PageReportedError(f"cell {self.cell_id}: closed while waiting for the page's turn",
                                            kind="timeout")
                now = time.monotonic()
                if now >= t_end:
                    raise PageReportedError(f"cell {self.cell_id}: the page did not end its block in "
                                            f"{timeout:.1f} s{self._where()}", kind="timeout")
                self._cond.wait(max(0.01, min(t_end - now, 1.0)))
            got, self._turn_in = self._turn_in, None
            return got

    def give_turn(self, go: bool, **extra: Any) -> None:
        """Paired cells: the host's word to the waiting page: run one more block (`go`, with e.g.
        `ms`, `max`), or stop (then it reports as usual)."""
        with self._cond:
            self._turn_out = {"go": bool(go), **extra}
            self._cond.notify_all()

    def _page_turn(self, payload: dict[str, Any], timeout: float) -> dict[str, Any] | None:
        """The handler side: hand the page's block over and wait for the host's word."""
        with self._cond:
            self._turn_out = None
            self._turn_in = {k: v for k, v in payload.items() if k != "token"}
            self._turn_in["received_s"] = round(time.monotonic() - self._opened, 4)
            self._last_event = time.monotonic()
            self._cond.notify_all()
            t_end = time.monotonic() + timeout
            while self._turn_out is None and not self._closed:
                left = t_end - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(min(left, 1.0))
            out, self._turn_out = self._turn_out, None
            self._last_event = time.monotonic()
            return out

    def _where(self) -> str:
        stage = self._events[-1].get("stage") if self._events else None
        bits = [f"last stage {stage!r}" if stage else "no event received"]
        if self._rejections:
            bits.append(f"rejected: {self._rejections[-1]}")
        return " (" + "; ".join(bits) + ")"

    def events(self) -> list[dict[str, Any]]:
        """Progress events received so far (loaded, first, warmup, ...), oldest first."""
        with self._cond:
            return [dict(e) for e in self._events]

    @property
    def rejections(self) -> list[str]:
        """One line per post the server refused for this cell."""
        with self._cond:
            return list(self._rejections)

    @property
    def result(self) -> CellResult | None:
        """The result if one arrived (ok or error), without waiting."""
        with self._cond:
            return self._result

    @property
    def last_event_age_s(self) -> float:
        """Seconds since the page's last event (or since the cell opened)."""
        with self._cond:
            return time.monotonic() - self._last_event

    @property
    def reached(self) -> bool:
        """The page fetched its config: the browser reached this server (e.g. through adb reverse)."""
        with self._cond:
            return self._reached is not None

    def _mark_reached(self) -> None:
        with self._cond:
            if self._reached is None:
                self._reached = time.monotonic()
                self._last_event = self._reached

    def _forget(self) -> None:
        self._server._forget(self.cell_id)

    # -- called by the handler ---------------------------------------------------------
    def _add_event(self, event: dict[str, Any]) -> None:
        event = {k: v for k, v in event.items() if k != "token"}
        event["received_s"] = round(time.monotonic() - self._opened, 4)
        with self._cond:
            if len(self._events) < MAX_EVENTS:
                self._events.append(event)
            self._last_event = time.monotonic()
            self._cond.notify_all()

    def _set_result(self, result: CellResult) -> bool:
        with self._cond:
            if self._result is not None:
                return False
            self._result = result
            self._last_event = time.monotonic()
            self._cond.notify_all()
            return True


class ProbeTicket(_Ticket):
    """One capability probe in flight: the page (capabilities.html) posts one JSON object.

        probe = srv.open_probe()
        page.goto(probe.url())                  # or a phone's browser through adb reverse
        payload = probe.wait(timeout=60)        # dict without the token; PageError on timeout
    """

    def __init__(self, server: PageServer, probe_id: str, token: str, page: str = "capabilities.html"):
        super().__init__(server, probe_id, token)
        self.probe_id = probe_id
        self.page = page
        self._payload: dict[str, Any] | None = None

    def url(self, origin: str | None = None, extra: dict[str, str] | None = None) -> str:
        return self._page_url(origin, self.page, {"probe": self.probe_id, "token": self.token, **(extra or {})})

    def wait(self, timeout: float) -> dict[str, Any]:
        t_end = time.monotonic() + timeout
        with self._cond:
            while self._payload is None:
                left = t_end - time.monotonic()
                if self._closed or left <= 0:
                    why = f"; rejected: {self._rejections[-1]}" if self._rejections else ""
                    raise PageReportedError(f"capability probe {self.probe_id}: no result after "
                                            f"{timeout:.1f} s{why}", kind="timeout")
                self._cond.wait(min(left, 1.0))
            return dict(self._payload)

    def _forget(self) -> None:
        self._server._forget_probe(self.probe_id)

    def _set(self, payload: dict[str, Any]) -> bool:
        with self._cond:
            if self._payload is not None:
                return False
            self._payload = {k: v for k, v in payload.items() if k != "token"}
            self._cond.notify_all()
            return True


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    mwi: PageServer

    def __init__(self, *args: Any, **kwargs: Any):
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = super().get_request()
        with self._conns_lock:
            self._conns.add(conn)
        return conn, addr

    def shutdown_request(self, request: Any) -> None:
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Cut keep-alive connections still open (their handler threads then end)."""
        with self._conns_lock:
            conns, self._conns = list(self._conns), set()
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A browser closing a keep-alive connection is normal; never print tracebacks to stderr.
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


class _DeadlineReader:
    """The request side of a connection with a TOTAL deadline per request, not only a per-read one.

    A client that trickles one byte at a time (slow loris) passes every per-read timeout; here
    each recv gets min(per-read timeout, time left), and no time left raises TimeoutError, which
    the base handler answers by closing the connection.
    """

    def __init__(self, sock: socket.socket, per_read_s: float, deadline_s: float):
        self._sock = sock
        self._per_read_s = per_read_s
        self._deadline_s = deadline_s
        self._buf = bytearray()
        self._eof = False
        self._t_end = time.monotonic() + deadline_s

    def restart(self) -> None:
        """A new request on a keep-alive connection: a fresh deadline."""
        self._t_end = time.monotonic() + self._deadline_s

    def _fill(self) -> None:
        left = self._t_end - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"request not received within {self._deadline_s:.0f} s")
        self._sock.settimeout(min(self._per_read_s, left))
        try:
            data = self._sock.recv(65536)
        finally:
            self._sock.settimeout(self._per_read_s)  # responses keep the ordinary per-write timeout
        if data:
            self._buf += data
        else:
            self._eof = True

    def readline(self, limit: int = -1) -> bytes:
        while True:
            nl = self._buf.find(b"\n")
            if nl >= 0 and (limit < 0 or nl < limit):
                return self._take(nl + 1)
            if (limit >= 0 and len(self._buf) >= limit) or self._eof:
                return self._take(len(self._buf) if limit < 0 else min(limit, len(self._buf)))
            self._fill()

    def read(self, n: int = -1) -> bytes:
        while (n < 0 or len(self._buf) < n) and not self._eof:
            self._fill()
        return self._take(len(self._buf) if n < 0 else min(n, len(self._buf)))

    def _take(self, n: int) -> bytes:
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    def close(self) -> None:
        self._buf.clear()


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "mwi-pages"
    sys_version = ""
    # headers and body go out in two writes: with Nagle's algorithm the body waits for the client's
    # delayed ACK (40 ms on Linux), which every paired turn (issue 21) and API answer would pay
    disable_nagle_algorithm = True
    timeout = 30  # seconds a connection may sit idle or dribble a body (per read)
    request_deadline_s = 60.0  # seconds to receive one whole request: line, headers and body
    rfile: Any

    def setup(self) -> None:
        super().setup()
        self._raw_rfile = self.rfile
        self.rfile = _DeadlineReader(self.connection, float(self.timeout), self.request_deadline_s)

    def handle_one_request(self) -> None:
        self.rfile.restart()
        super().handle_one_request()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self._raw_rfile.close()

    def log_message(self, fmt: str, *args: Any) -> None:  # route to logging, never stderr
        log.debug("%s %s", self.address_string(), fmt % args)

    # -- responses ---------------------------------------------------------------------
    def _send(self, status: int, body: bytes, ctype: str, *, head: bool = False,
              extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for k, v in ISOLATION_HEADERS.items():
            self.send_header(k, v)
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _json(self, status: int, obj: Any) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json")

    def _fail(self, status: int, reason: str, *, close: bool = False) -> None:
        if close:
            self.close_connection = True
        self._send(status, json.dumps({"error": reason}).encode(), "application/json",
                   head=self.command == "HEAD", extra={"Connection": "close"} if close else None)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # Called by the base class for malformed requests: answer in our format, and close.
        try:
            self._fail(code, message or HTTPStatus(code).phrase, close=True)
        except OSError:
            pass

    # -- dispatch ----------------------------------------------------------------------
    def _guard(self) -> str | None:
        """Common checks; returns the decoded-safe raw path, or None after answering."""
        if not host_allowed(self.headers.get("Host")):
            self._fail(421, "Host must be localhost, 127.0.0.1 or [::1]", close=True)
            return None
        if not _origin_allowed(self.headers.get("Origin")):
            self._fail(403, "cross-origin request refused", close=True)
            return None
        raw = self.path
        if not raw.startswith("/") or raw.startswith("//"):
            self._fail(400, "request target must be an absolute path", close=True)
            return None
        return urllib.parse.urlsplit(raw).path

    def do_GET(self) -> None:
        self._get(head=False)

    def do_HEAD(self) -> None:
        self._get(head=True)

    def _get(self, *, head: bool) -> None:
        path = self._guard()
        if path is None:
            return
        m = _API_RE.match(path)
        if m:
            if m.group(2) != "config":
                self._fail(405, f"{m.group(2)} takes POST")
                return
            self._config(m.group(1), head=head)
            return
        if path.startswith("/api/"):
            self._fail(404, "no such API")
            return
        target, reason = self.server.mwi._resolve(path)
        if target is None:
            self._fail(404 if reason == "not found" else 400, reason)
            return
        try:
            data = target.read_bytes()
        except OSError:
            self._fail(404, "not found")
            return
        ctype = MIME_TYPES.get(target.suffix.lower(), "application/octet-stream")
        self._send(200, data, ctype, head=head)

    def _config(self, cell_id: str, *, head: bool) -> None:
        ticket = self.server.mwi._ticket(cell_id)
        if ticket is None:
            self._fail(404, "unknown cell")
            return
        if not ticket._token_ok(self.headers.get("X-MWI-Token")):
            ticket._reject("config: missing or wrong token")
            self._fail(403, "missing or wrong token")
            return
        body = json.dumps(ticket.config.to_json()).encode()
        ticket._mark_reached()
        self._send(200, body, "application/json", head=head)

    def do_POST(self) -> None:
        path = self._guard()
        if path is None:
            return
        m = _API_RE.match(path)
        pm = _PROBE_RE.match(path)
        ticket: CellTicket | ProbeTicket | None
        if pm:
            cell_id, what = pm.group(1), "probe"
            ticket = self.server.mwi._probe_ticket(cell_id)
        else:
            if not m or m.group(2) == "config":
                self._fail(405 if m else 404, "config takes GET" if m else "no such API", close=True)
                return
            cell_id, what = m.groups()
            ticket = self.server.mwi._ticket(cell_id)
        # Read (or refuse) the body first, so the connection stays in a sane state.
        if self.headers.get("Transfer-Encoding"):
            self._reject_body(ticket, 411, "chunked bodies are not accepted; send Content-Length")
            return
        length_text = self.headers.get("Content-Length")
        if length_text is None or not length_text.isdigit():
            self._reject_body(ticket, 411, "Content-Length required")
            return
        length = int(length_text)
        cap = MAX_EVENT_BODY if what == "event" else self.server.mwi.max_body
        if length > cap:
            self._reject_body(ticket, 413, f"body of {length} bytes exceeds the {cap}-byte cap")
            return
        body = self.rfile.read(length)
        if len(body) != length:
            self._reject_body(ticket, 400, "body shorter than Content-Length")
            return
        if ticket is None:
            self._fail(404, "unknown cell")
            return
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            self._reject_body(ticket, 415, "Content-Type must be application/json", close=False)
            return
        try:
            payload = loads_strict(body)
        except InvalidResult as exc:
            self._reject_body(ticket, 400, exc.message, close=False)
            return
        if not isinstance(payload, dict) or not ticket._token_ok(payload.get("token")):
            self._reject_body(ticket, 403, "missing or wrong token", close=False)
            return
        if isinstance(ticket, ProbeTicket):
            if not ticket._set(payload):
                self._reject_body(ticket, 409, "this probe already has a result", close=False)
                return
            self._json(200, {"ok": True})
            return
        if what == "turn":
            lat = payload.get("latencies_ms")
            rnd = payload.get("round")
            if not isinstance(rnd, int) or isinstance(rnd, bool) or not isinstance(lat, list) \
                    or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and x >= 0 for x in lat):
                self._reject_body(ticket, 400, "turn needs an integer 'round' and a 'latencies_ms' list", close=False)
                return
            word = ticket._page_turn(payload, TURN_WAIT_S)
            if word is None:
                self._json(200, {"go": False, "why": "closed"})
                return
            self._json(200, word)
            return
        if what == "event":
            if not isinstance(payload.get("stage"), str):
                self._reject_body(ticket, 400, "event needs a 'stage' string", close=False)
                return
            ticket._add_event(payload)
            self._json(200, {"ok": True})
            return
        if ticket.result is not None:
            self._reject_body(ticket, 409, "this cell already has a result", close=False)
            return
        try:
            result = (validate_qoe_result(payload, ticket.config) if ticket.config.qoe is not None
                      else validate_result(payload, config=ticket.config))
        except InvalidResult as exc:
            self._reject_body(ticket, 422, exc.message, close=False)
            return
        if not ticket._set_result(result):
            self._reject_body(ticket, 409, "this cell already has a result", close=False)
            return
        self._json(200, {"ok": True, "status": result.status})

    def _reject_body(self, ticket: CellTicket | ProbeTicket | None, status: int, reason: str, *, close: bool = True) -> None:
        if ticket is not None:
            ticket._reject(f"{status} {reason}")
        self._fail(status, reason, close=close)

    def do_PUT(self) -> None:
        self._fail(405, "method not allowed", close=True)

    do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = do_PUT


class PageServer:
    """Serves ``pages_dir`` at / and each built model of ``models_dir`` at /models/<name>/."""

    def __init__(self, *, pages_dir: Path | str = PAGES_DIR, models_dir: Path | str | None = None,
                 host: str = "127.0.0.1", port: int = 0, max_body: int = 8 << 20):
        self.pages_dir = Path(pages_dir)
        self.models_dir = Path(models_dir) if models_dir is not None else None
        self.host = host
        self._port = port
        self.max_body = max_body
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._cells: dict[str, CellTicket] = {}
        self._probes: dict[str, ProbeTicket] = {}
        self._lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> PageServer:
        """Bind and start serving in a daemon thread (idempotent)."""
        if self._httpd is not None:
            return self
        if self.host not in ("127.0.0.1", "localhost", "::1"):
            raise UsageError(f"the page server binds loopback only, not {self.host!r}")
        if not (self.pages_dir / "harness.html").is_file():
            raise UsageError(f"no harness.html in {self.pages_dir}")
        self._pages_real = os.path.realpath(self.pages_dir)
        self._models_real = os.path.realpath(self.models_dir) if self.models_dir is not None else None
        try:
            httpd = _HTTPServer((self.host, self._port), _Handler)
        except OSError as exc:
            raise UsageError(f"cannot bind {self.host}:{self._port}: {exc.strerror or exc}") from None
        httpd.mwi = self
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"mwi-pages:{self.port}", daemon=True)
        self._thread.start()
        log.debug("page server on %s", self.base_url)
        return self

    def close(self) -> None:
        """Stop serving, close the socket and join the thread; open cells are forgotten."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        try:
            httpd.shutdown()
        finally:
            httpd.server_close()
            httpd.close_connections()
            if self._thread is not None:
                self._thread.join(timeout=5)
            with self._lock:
                cells, self._cells = list(self._cells.values()), {}
            for t in cells:
                with t._cond:
                    t._closed = True
                    t._cond.notify_all()

    def __enter__(self) -> PageServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise MwiError("page server is not started")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        host = "[::1]" if self.host == "::1" else "127.0.0.1" if self.host == "localhost" else self.host
        return f"http://{host}:{self.port}"

    # -- cells -------------------------------------------------------------------------
    def open_cell(self, config: CellConfig) -> CellTicket:
        """Register a cell (fresh id and token) whose page may now fetch its config and post."""
        if self._httpd is None:
            raise MwiError("page server is not started")
        for url in [config.model.url] + [t.url or "" for t in config.model.inputs]:
            target, reason = self._resolve(urllib.parse.urlsplit(url).path)
            if target is None:
                raise UsageError(f"model {config.model.name}: {url} is not served ({reason}); "
                                 f"is the model built in {self.models_dir}?")
        for script in runtime_files(config.runtime):
            if not (self.pages_dir / "vendor" / script).is_file():
                raise UsageError(f"missing vendored file {self.pages_dir / 'vendor' / script}: "
                                 f"run python -m mobile_webinfer.web.vendor")
        cell_id = secrets.token_hex(8)
        ticket = CellTicket(self, config.with_cell(cell_id), secrets.token_urlsafe(24))
        with self._lock:
            self._cells[cell_id] = ticket
        return ticket

    def _ticket(self, cell_id: str) -> CellTicket | None:
        with self._lock:
            return self._cells.get(cell_id)

    def open_probe(self, page: str = "capabilities.html") -> ProbeTicket:
        """Register a probe: capabilities.html posts what the browser can do (`mwi doctor --phone`'s
        preflight.html posts that it loaded, and a tap)."""
        if self._httpd is None:
            raise MwiError("page server is not started")
        if not re.fullmatch(r"[a-z][a-z0-9_]*\.html", page) or not (self.pages_dir / page).is_file():
            raise UsageError(f"no page {page!r} in {self.pages_dir}")
        ticket = ProbeTicket(self, secrets.token_hex(8), secrets.token_urlsafe(24), page)
        with self._lock:
            self._probes[ticket.probe_id] = ticket
        return ticket

    def _probe_ticket(self, probe_id: str) -> ProbeTicket | None:
        with self._lock:
            return self._probes.get(probe_id)

    def _forget_probe(self, probe_id: str) -> None:
        with self._lock:
            self._probes.pop(probe_id, None)

    def _forget(self, cell_id: str) -> None:
        with self._lock:
            self._cells.pop(cell_id, None)

    # -- files -------------------------------------------------------------------------
    def _resolve(self, url_path: str) -> tuple[Path | None, str]:
        """Map a URL path to a regular file inside a root, or (None, reason)."""
        if "\x00" in url_path or "\\" in url_path:
            return None, "bad characters in path"
        low = url_path.lower()
        if "%2f" in low or "%5c" in low or "%00" in low or "%2e" in low:
            return None, "encoded separators or dots are not accepted"
        try:
            path = urllib.parse.unquote(url_path, errors="strict")
        except UnicodeDecodeError:
            return None, "path is not UTF-8"
        if "\x00" in path or "\\" in path or not path.startswith("/"):
            return None, "bad path"
        parts = [p for p in path.split("/") if p]
        if any(p in (".", "..") for p in parts):
            return None, "path traversal refused"
        if not parts:
            parts = ["harness.html"]
        if any(not _SEGMENT_RE.match(p) for p in parts):
            return None, "not found"
        if parts[0] == "models":
            if self._models_real is None or len(parts) < 3:
                return None, "not found"
            model_root = os.path.join(self._models_real, parts[1])
            if not os.path.isfile(os.path.join(model_root, "manifest.json")):
                return None, "not found"
            root, rel = self._models_real, parts[1:]
        else:
            if parts[0] in _HIDDEN_TOP or (len(parts) == 1 and parts[0].startswith("package")):
                return None, "not found"
            root, rel = self._pages_real, parts
        candidate = os.path.join(root, *rel)
        real = os.path.realpath(candidate)
        if os.path.commonpath([real, root]) != root:
            return None, "not found"
        if not os.path.isfile(real):
            return None, "not found"
        return Path(real), ""


__all__ = ["ISOLATION_HEADERS", "MIME_TYPES", "CellTicket", "PageServer", "ProbeTicket", "host_allowed"]
