"""Slow clients (issue 12 item 9): the page server gives a whole request a total deadline."""

from __future__ import annotations

import socket
import time
import urllib.request

import pytest

from mobile_webinfer.web.server import PageServer, _Handler

from ..web.helpers import make_model, make_pages, toy_config


@pytest.fixture()
def srv(tmp_path, monkeypatch):
    monkeypatch.setattr(_Handler, "request_deadline_s", 1.5)   # per-read timeout stays 30 s
    pages = make_pages(tmp_path / "pages")
    models = tmp_path / "models"
    data = make_model(models)
    with PageServer(pages_dir=pages, models_dir=models) as server:
        server.toy_data = data  # type: ignore[attr-defined]
        yield server


def _trickle(port: int, payload: bytes, gap_s: float, max_s: float) -> tuple[float, bytes]:
    """Send `payload` one byte per `gap_s` (bounded by max_s and len(payload)); return (seconds until
    the server cut the connection, what it answered)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    t0 = time.monotonic()
    answer = b""
    try:
        s.settimeout(gap_s)
        for i in range(len(payload)):
            if time.monotonic() - t0 > max_s:
                break
            try:
                s.sendall(payload[i:i + 1])
            except OSError:           # reset / broken pipe: the server has closed it
                break
            try:
                chunk = s.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                break
            answer += chunk
            if not chunk:             # orderly close
                break
        return time.monotonic() - t0, answer
    finally:
        s.close()


def test_slow_loris_request_line_and_headers_cut_at_total_deadline(srv):
    # 0.1 s per byte is far inside the 30 s per-read timeout; the whole request would take 12 s.
    req = b"GET /harness.html HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"a" * 60 + b"\r\n\r\n"
    took, answer = _trickle(srv.port, req, gap_s=0.1, max_s=8.0)
    assert took < 4.0, f"slow client held the connection {took:.1f} s"
    assert b"200 OK" not in answer
    # the server still serves everyone else
    with urllib.request.urlopen(f"{srv.base_url}/harness.html", timeout=5) as resp:
        assert resp.status == 200


def test_slow_body_cut_at_total_deadline(srv):
    ticket = srv.open_cell(toy_config(srv.toy_data))
    body = b'{"type": "progress", "token": "' + ticket.token.encode() + b'"}'
    head = (f"POST /api/cell/{ticket.cell_id}/event HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body) + 200}\r\n\r\n").encode()
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    try:
        s.sendall(head)
        t0 = time.monotonic()
        took, _answer = _trickle_on(s, body + b" " * 200, gap_s=0.1, max_s=8.0, t0=t0)
    finally:
        s.close()
    assert took < 4.0
    assert ticket.events() == []          # a body that never finished is not an event
    ticket.close()


def _trickle_on(s: socket.socket, payload: bytes, gap_s: float, max_s: float, t0: float) -> tuple[float, bytes]:
    answer = b""
    s.settimeout(gap_s)
    for i in range(len(payload)):
        if time.monotonic() - t0 > max_s:
            break
        try:
            s.sendall(payload[i:i + 1])
            chunk = s.recv(4096)
        except TimeoutError:
            continue
        except OSError:
            break
        answer += chunk
        if not chunk:
            break
    return time.monotonic() - t0, answer


def test_keep_alive_requests_each_get_a_fresh_deadline(srv):
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    try:
        for _ in range(3):   # 3 x 1 s on one connection: more than one deadline in total, each request in time
            time.sleep(1.0)
            s.sendall(b"HEAD /harness.html HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = s.recv(4096)
                assert chunk, "server closed a keep-alive connection that was in time"
                data += chunk
            assert data.startswith(b"HTTP/1.1 200")
    finally:
        s.close()
