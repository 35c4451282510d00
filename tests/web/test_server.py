"""PageServer: isolation headers, MIME types, roots, Host, tokens, body caps, the result rules."""

from __future__ import annotations

import concurrent.futures
import json
import os
import threading
import time
import urllib.request

import pytest

from mobile_webinfer.errors import PageError, UsageError
from mobile_webinfer.web.protocol import PageBackendFallback, PageReportedError
from mobile_webinfer.web.server import CellTicket, PageServer, host_allowed

from .helpers import REF, get, good_result, make_model, make_pages, post, raw_request, toy_config


@pytest.fixture()
def env(tmp_path):
    pages = make_pages(tmp_path / "pages")
    models = tmp_path / "models"
    data = make_model(models)
    (tmp_path / "secret.txt").write_text("top secret")
    with PageServer(pages_dir=pages, models_dir=models, max_body=64 << 10) as srv:
        yield srv, data, tmp_path


def api(t: CellTicket, what: str) -> str:
    return f"/api/cell/{t.cell_id}/{what}"


# ---- static files -----------------------------------------------------------------------

def test_serves_pages_with_isolation_headers_and_mime(env):
    srv, _, _ = env
    status, h, body = get(srv.port, "/harness.html")
    assert status == 200 and body.startswith(b"<!doctype")
    assert h["cross-origin-opener-policy"] == "same-origin"
    assert h["cross-origin-embedder-policy"] == "require-corp"
    assert h["cross-origin-resource-policy"] == "same-origin"
    assert h["content-type"].startswith("text/html")
    assert get(srv.port, "/")[2] == body  # / is the harness
    assert get(srv.port, "/vendor/x.wasm")[1]["content-type"] == "application/wasm"
    assert get(srv.port, "/vendor/x.mjs")[1]["content-type"].startswith("text/javascript")
    assert get(srv.port, "/harness.js")[1]["content-type"].startswith("text/javascript")


def test_serves_built_models_only(env, tmp_path):
    srv, _, root = env
    status, h, body = get(srv.port, "/models/toy/tfjs/group1-shard1of1.bin")
    assert status == 200 and len(body) == 256 * 64 and h["content-type"] == "application/octet-stream"
    assert get(srv.port, "/models/toy/tfjs/model.json")[1]["content-type"] == "application/json"
    # a folder without manifest.json is not a built model
    (root / "models" / "half").mkdir()
    (root / "models" / "half" / "model.onnx").write_bytes(b"x")
    assert get(srv.port, "/models/half/model.onnx")[0] == 404
    assert get(srv.port, "/models/nope/model.onnx")[0] == 404


@pytest.mark.parametrize("path", [
    "/../secret.txt", "/vendor/../../secret.txt", "/%2e%2e/secret.txt", "/vendor/%2E%2E/%2e%2e/secret.txt",
    "/..%2fsecret.txt", "/vendor%2f..%2f..%2fsecret.txt", "/..%5csecret.txt", "/models/toy/../../secret.txt",
    "/models/../secret.txt", "//etc/passwd", "/%00", "/harness.html%00.js", "/.%2e/secret.txt",
    "/package.json", "/node_modules/x.js",
])
def test_traversal_and_hidden_paths_refused(env, path):
    srv, _, _ = env
    status, _, body = get(srv.port, path)
    assert status in (400, 404), (path, status)
    assert b"top secret" not in body


def test_absolute_and_nul_request_targets_refused(env):
    srv, _, _ = env
    for target in ("http://127.0.0.1/harness.html", "/etc/passwd", "/harness.html\0"):
        req = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode("latin-1")
        status, _, body = raw_request(srv.port, req)
        assert status in (400, 404), target
        assert b"root:" not in body


def test_symlink_out_of_root_refused_but_inside_allowed(env):
    srv, _, root = env
    os.symlink(root / "secret.txt", root / "pages" / "leak.txt")
    os.symlink(root, root / "pages" / "up")
    os.symlink(root / "pages" / "harness.html", root / "pages" / "alias.html")
    os.symlink(root / "secret.txt", root / "models" / "toy" / "leak.bin")
    assert get(srv.port, "/leak.txt")[0] == 404
    assert get(srv.port, "/up/secret.txt")[0] == 404
    assert get(srv.port, "/models/toy/leak.bin")[0] == 404
    assert get(srv.port, "/alias.html")[0] == 200


@pytest.mark.parametrize("host,ok", [
    ("127.0.0.1", True), ("127.0.0.1:8080", True), ("localhost", True), ("LOCALHOST:9", True),
    ("[::1]:5555", True), ("[::1]", True), ("evil.com", False), ("127.0.0.1.evil.com", False),
    ("localhost:80:81", False), ("127.0.0.2", False), ("[::2]:1", False), ("", False), ("0.0.0.0", False),
    ("localhost:abc", False),
])
def test_host_allowed(host, ok):
    assert host_allowed(host) is ok


def test_wrong_or_missing_host_refused(env):
    srv, _, _ = env
    assert get(srv.port, "/harness.html", host="evil.example")[0] == 421
    assert get(srv.port, "/harness.html", host="localhost:1234")[0] == 200  # adb reverse: any port
    req = b"GET /harness.html HTTP/1.1\r\nConnection: close\r\n\r\n"
    assert raw_request(srv.port, req)[0] == 421


def test_cross_origin_post_refused(env):
    srv, data, _ = env
    t = srv.open_cell(toy_config(data))
    body = {"token": t.token, "stage": "x"}
    assert post(srv.port, api(t, "event"), body, extra="Origin: http://evil.example\r\n")[0] == 403
    assert post(srv.port, api(t, "event"), body, extra=f"Origin: http://127.0.0.1:{srv.port}\r\n")[0] == 200


def test_concurrent_fetches(env):
    srv, _, _ = env
    url = f"{srv.base_url}/models/toy/tfjs/group1-shard1of1.bin"
    # Hold a slow connection open: a single-threaded server would stall everyone behind it.
    import socket
    slow = socket.create_connection(("127.0.0.1", srv.port))
    slow.sendall(b"GET /harness.html HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finishes its headers
    try:
        with concurrent.futures.ThreadPoolExecutor(12) as ex:
            bodies = list(ex.map(lambda _: urllib.request.urlopen(url, timeout=5).read(), range(36)))
    finally:
        slow.close()
    assert all(len(b) == 256 * 64 for b in bodies)


def test_method_not_allowed(env):
    srv, _, _ = env
    req = b"DELETE /harness.html HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    assert raw_request(srv.port, req)[0] == 405


# ---- cells ------------------------------------------------------------------------------

def test_config_needs_token(env):
    srv, data, _ = env
    t = srv.open_cell(toy_config(data))
    assert get(srv.port, api(t, "config"))[0] == 403
    assert get(srv.port, api(t, "config"), extra="X-MWI-Token: wrong\r\n")[0] == 403
    status, h, body = get(srv.port, api(t, "config"), extra=f"X-MWI-Token: {t.token}\r\n")
    assert status == 200 and "no-store" in h["cache-control"]
    cfg = json.loads(body)
    assert cfg["cell"] == t.cell_id and cfg["runtime"] == "tfjs" and cfg["model"]["url"] == "/models/toy/tfjs/model.json"
    assert cfg["model"]["inputs"][0]["url"] == "/models/toy/input_0.bin"
    assert t.rejections and "token" in t.rejections[0]
    assert get(srv.port, "/api/cell/ffffffffffff/config", extra=f"X-MWI-Token: {t.token}\r\n")[0] == 404


def test_url_and_origin(env):
    srv, data, _ = env
    t = srv.open_cell(toy_config(data))
    assert t.url().startswith(f"{srv.base_url}/harness.html?cell={t.cell_id}&token=")
    assert t.url("http://127.0.0.1:9999/").startswith("http://127.0.0.1:9999/harness.html?cell=")
    with pytest.raises(UsageError):
        t.url("file:///etc")
    t2 = srv.open_cell(toy_config(data))
    assert t2.cell_id != t.cell_id and t2.token != t.token and len(t.token) >= 24


def test_good_result_accepted_once(env):
    srv, data, _ = env
    t = srv.open_cell(toy_config(data))
    assert post(srv.port, api(t, "event"), {"token": t.token, "stage": "loaded", "setup_ms": 3})[0] == 200
    assert [e["stage"] for e in t.events()] == ["loaded"] and "token" not in t.events()[0]
    status, _, body = post(srv.port, api(t, "result"), good_result(t.config, t.token))
    assert status == 200, body
    r = t.wait(1)
    assert r.ok and r.latencies_ms == (0.5,) * 5 and "token" not in r.raw
    assert r.outputs[0].values == pytest.approx(tuple(REF.reshape(-1)))
    status, _, body = post(srv.port, api(t, "result"), good_result(t.config, t.token))
    assert status == 409 and b"already" in body
    assert t.wait(1) is r


def _bad(cfg, token):
    g = lambda **o: good_result(cfg, token, **o)  # noqa: E731
    out = g()["outputs"][0]
    return {
        "negative latency": g(latencies_ms=[0.5, -1, 0.5, 0.5, 0.5]),
        "zero setup": g(setup_ms=0),
        "string time": g(first_inference_ms="3"),
        "bool time": g(setup_ms=True),
        "too few latencies": g(latencies_ms=[0.5, 0.5]),
        "too many latencies": g(latencies_ms=[0.5] * 6),
        "wrong warmup count": g(warmup_ms=[1.0]),
        "bad status": g(status="fine"),
        "ok with error": g(error={"kind": "exception", "message": "x"}),
        "fallback as ok": g(backend="cpu"),
        "wrong cell": g(cell="abc"),
        "wrong runtime": g(runtime="ort"),
        "missing outputs": g(outputs=[]),
        "short values": g(outputs=[{**out, "values": out["values"][:4]}]),
        "bad digest": g(outputs=[{**out, "digest": "xyz"}]),
        "wrong shape": g(outputs=[{**out, "shape": [5, 1]}]),
        "size mismatch": g(outputs=[{**out, "size": 6}]),
        "topk unsorted": g(outputs=[{**out, "topk": list(reversed(out["topk"]))}]),
        "topk index out of range": g(outputs=[{**out, "topk": [[9, 0.4]] + out["topk"][1:]}]),
        "missing field": {k: v for k, v in g().items() if k != "setup_ms"},
        "not an object": [1, 2],
        "gpu without software flag": g(gpu={"vendor": "x", "renderer": "y"}),
        "unknown error kind": g(status="error", error={"kind": "meh", "message": "x"}, outputs=[]),
        "error without error": g(status="error", outputs=[]),
        "frames without source": g(frames={"count": 1, "long_frames": 0}),
        "threads_requested differs": g(threads_requested=4),
        "bad visibility": g(visibility={"hidden_during_run": "no"}),
        "negative heap": g(js_heap_mb={"peak_mb": -1}),
        "nan in values": g(outputs=[{**out, "values": [0.1, None, 0.1, 0.1, 0.1]}]),
    }


def test_bad_results_rejected_with_reason(env):
    srv, data, _ = env
    t = srv.open_cell(toy_config(data))
    for label, payload in _bad(t.config, t.token).items():
        status, _, body = post(srv.port, api(t, "result"), payload)
        assert 400 <= status < 500, label
        reason = json.loads(body)["error"]
        assert reason and "\n" not in reason, label
    assert len(t.rejections) == len(_bad(t.config, t.token))
    assert t.result is None
    # after all that, the honest result still goes through
    assert post(srv.port, api(t, "result"), good_result(t.config, t.token))[0] == 200


@pytest.mark.parametrize("body,status", [
    (b"{not json", 400),
    (b'{"token": "T", "stage": NaN}', 400),
    (b'{"token": "T", "setup_ms": Infinity}', 400),
    (b'{"token": "T", "token": "T"}', 400),
    (b"\xff\xfe", 400),
    (b"[" * 60000, 400),
])
def test_malformed_json_rejected(env, body, status):
    srv, data, _ = env
    t = srv.open_cell(toy_config(data))
    got, _, reply = post(srv.port, api(t, "result"), body.replace(b'"T"', json.dumps(t.token).encode()))
    assert got == status, reply
    assert t.rejections


def test_non_finite_numbers_rejected(env):
    srv, data, _ = env
    t = srv.open_cell(toy_config(data))
    text = json.dumps(good_result(t.config, t.token)).replace('"setup_ms": 12.5', '"setup_ms": NaN')
    assert post(srv.port, api(t, "result"), text)[0] == 400
    text = json.dumps(good_result(t.config, t.token)).replace('"setup_ms": 12.5', '"setup_ms": 1e999')
    assert post(srv.port, api(t, "result"), text)[0] == 422


def test_token_content_type_and_unknown_cell(env):
    srv, data, _ = env
    t = srv.open_cell(toy_config(data))
    res = good_result(t.config, t.token)
    assert post(srv.port, api(t, "result"), {**res, "token": "nope"})[0] == 403
    assert post(srv.port, api(t, "result"), {k: v for k, v in res.items() if k != "token"})[0] == 403
    assert post(srv.port, api(t, "result"), res, ctype="text/plain")[0] == 415
    assert post(srv.port, "/api/cell/0123456789ab/result", res)[0] == 404
    assert post(srv.port, api(t, "config"), res)[0] == 405
    assert post(srv.port, "/api/elsewhere", res)[0] == 404
    assert t.result is None and len(t.rejections) == 3


def test_body_cap_and_length_rules(env):
    srv, data, _ = env
    t = srv.open_cell(toy_config(data))
    big = b'{"token": "x", "pad": "' + b"a" * (70 << 10) + b'"}'
    assert post(srv.port, api(t, "result"), big)[0] == 413
    assert post(srv.port, api(t, "event"), b'{"pad": "' + b"a" * (17 << 10) + b'"}')[0] == 413
    # a huge announced length is refused before anything is read
    status, _, _ = post(srv.port, api(t, "result"), b"{}", length=1 << 40)
    assert status == 413
    req = (f"POST {api(t, 'result')} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
           f"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\n{{}}\r\n0\r\n\r\n").encode()
    assert raw_request(srv.port, req)[0] == 411
    req = f"POST {api(t, 'result')} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
    assert raw_request(srv.port, req)[0] == 411
    assert any("413" in r for r in t.rejections)


def test_closed_cell_is_unknown(env):
    srv, data, _ = env
    t = srv.open_cell(toy_config(data))
    t.close()
    assert post(srv.port, api(t, "result"), good_result(t.config, t.token))[0] == 404
    assert get(srv.port, api(t, "config"), extra=f"X-MWI-Token: {t.token}\r\n")[0] == 404


def test_error_result_raises_page_error(env):
    srv, data, _ = env
    t = srv.open_cell(toy_config(data, backend="webgpu"))
    err = {"token": t.token, "cell": t.cell_id, "status": "error", "runtime": "tfjs",
           "backend_requested": "webgpu", "error": {"kind": "backend_fallback", "message": "no adapter"}}
    assert post(srv.port, api(t, "result"), err)[0] == 200
    with pytest.raises(PageBackendFallback) as ei:
        t.wait(1)
    assert isinstance(ei.value, PageError) and ei.value.kind == "backend_fallback"
    assert ei.value.result.error.message == "no adapter" and "\n" not in str(ei.value)

    t2 = srv.open_cell(toy_config(data))
    err2 = {**err, "token": t2.token, "cell": t2.cell_id, "backend_requested": "wasm",
            "error": {"kind": "unsupported_op", "message": "Kernel 'Einsum' not registered"}, "warmup_ms": [1.0]}
    assert post(srv.port, api(t2, "result"), err2)[0] == 200
    with pytest.raises(PageReportedError) as ei:
        t2.wait(1)
    assert not isinstance(ei.value, PageBackendFallback) and ei.value.kind == "unsupported_op"


def test_wait_timeout_and_watchdog(env):
    srv, data, _ = env
    t = srv.open_cell(toy_config(data))
    t0 = time.monotonic()
    with pytest.raises(PageError, match="no result after"):
        t.wait(0.3)
    assert 0.25 < time.monotonic() - t0 < 2
    # events keep the watchdog fed; silence trips it well before the overall timeout
    stop = threading.Event()

    def feed():
        while not stop.wait(0.05):
            post(srv.port, api(t, "event"), {"token": t.token, "stage": "progress"})

    th = threading.Thread(target=feed)
    th.start()
    try:
        while not t.events():
            time.sleep(0.01)
        with pytest.raises(PageError, match="no result after"):
            t.wait(0.6, stall_timeout=0.3)
    finally:
        stop.set()
        th.join()
    assert t.last_event_age_s < 1
    t0 = time.monotonic()
    with pytest.raises(PageError, match="silent") as ei:
        t.wait(30, stall_timeout=0.3)
    assert time.monotonic() - t0 < 2 and ei.value.kind == "timeout"


def test_wait_wakes_on_result(env):
    srv, data, _ = env
    t = srv.open_cell(toy_config(data))
    threading.Timer(0.2, lambda: post(srv.port, api(t, "result"), good_result(t.config, t.token))).start()
    t0 = time.monotonic()
    assert t.wait(10).ok
    assert time.monotonic() - t0 < 2


def test_open_cell_checks_model_is_served(env, tmp_path):
    srv, data, _ = env
    other = dict(data, name="elsewhere")
    with pytest.raises(UsageError, match="not served"):
        srv.open_cell(toy_config(other))


def test_open_cell_checks_vendor(tmp_path):
    pages = tmp_path / "p"
    pages.mkdir()
    (pages / "harness.html").write_text("x")
    data = make_model(tmp_path / "m")
    with PageServer(pages_dir=pages, models_dir=tmp_path / "m") as srv:
        with pytest.raises(UsageError, match="mobile_webinfer.web.vendor"):
            srv.open_cell(toy_config(data))


def test_lifecycle(tmp_path):
    pages = make_pages(tmp_path / "p")
    srv = PageServer(pages_dir=pages)
    with pytest.raises(Exception, match="not started"):
        _ = srv.port
    with srv:
        port = srv.port
        assert srv.base_url == f"http://127.0.0.1:{port}"
        # a keep-alive connection left open must not block close()
        import socket
        c = socket.create_connection(("127.0.0.1", port))
        c.sendall(b"GET /harness.html HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        c.recv(100)
    t0 = time.monotonic()
    srv.close()  # idempotent
    assert time.monotonic() - t0 < 1
    c.close()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/harness.html", timeout=1)
    with pytest.raises(UsageError):
        PageServer(pages_dir=tmp_path / "missing").start()
    with pytest.raises(UsageError, match="loopback"):
        PageServer(pages_dir=pages, host="0.0.0.0").start()


def test_close_wakes_waiter(env):
    srv, data, _ = env
    t = srv.open_cell(toy_config(data))
    threading.Timer(0.2, t.close).start()
    t0 = time.monotonic()
    with pytest.raises(PageError, match="closed before a result"):
        t.wait(10)
    assert time.monotonic() - t0 < 2


def test_server_close_wakes_waiter(tmp_path):
    pages = make_pages(tmp_path / "p")
    data = make_model(tmp_path / "m")
    srv = PageServer(pages_dir=pages, models_dir=tmp_path / "m").start()
    t = srv.open_cell(toy_config(data))
    threading.Timer(0.2, srv.close).start()
    with pytest.raises(PageError, match="closed"):
        t.wait(10)


def test_event_count_capped(env, monkeypatch):
    import mobile_webinfer.web.server as server_mod

    monkeypatch.setattr(server_mod, "MAX_EVENTS", 3)
    srv, data, _ = env
    t = srv.open_cell(toy_config(data))
    for i in range(5):
        assert post(srv.port, api(t, "event"), {"token": t.token, "stage": f"s{i}"})[0] == 200
    assert [e["stage"] for e in t.events()] == ["s0", "s1", "s2"]
    assert post(srv.port, api(t, "event"), {"token": t.token})[0] == 400  # no stage


def test_resolve_never_leaves_roots(tmp_path_factory):
    from hypothesis import given, settings, strategies as st

    root = tmp_path_factory.mktemp("prop")
    pages = make_pages(root / "pages")
    make_model(root / "models")
    (root / "secret.txt").write_text("s")
    srv = PageServer(pages_dir=pages, models_dir=root / "models").start()
    roots = (os.path.realpath(pages), os.path.realpath(root / "models"))
    segment = st.sampled_from(["..", ".", "%2e%2e", "%2E.", "vendor", "models", "toy", "tfjs", "secret.txt",
                               "harness.html", "%2f", "%5c", "%00", "", "a b", "%252e%252e", "..%2f", "\\"])
    try:
        @settings(max_examples=300, deadline=None)
        @given(st.lists(segment, min_size=1, max_size=6))
        def check(parts):
            target, reason = srv._resolve("/" + "/".join(parts))
            if target is not None:
                real = os.path.realpath(target)
                assert any(os.path.commonpath([real, r]) == r for r in roots), parts
                assert real != os.path.realpath(root / "secret.txt")
            else:
                assert reason

        check()
    finally:
        srv.close()
