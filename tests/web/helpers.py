"""Shared helpers for tests/web: a tiny served model, raw HTTP, valid page results."""

from __future__ import annotations

import hashlib
import json
import socket
from pathlib import Path
from typing import Any

import numpy as np

from mobile_webinfer.web.protocol import CellConfig, config_for
from mobile_webinfer.vocab import BROWSER_RUNTIMES
from mobile_webinfer.web.vendor import runtime_files

REF = np.array([[0.05, 0.1, 0.3, 0.15, 0.4]], dtype=np.float32)


def make_model(models_dir: Path, name: str = "toy") -> dict[str, Any]:
    """A fake built model (manifest + files): enough for the server, not for a browser."""
    d = models_dir / name
    (d / "tfjs").mkdir(parents=True)
    (d / "model.tflite").write_bytes(b"TFL3" + bytes(60))
    (d / "model.onnx").write_bytes(b"onnx" + bytes(60))
    (d / "tfjs" / "model.json").write_text('{"modelTopology": {}}')
    (d / "tfjs" / "group1-shard1of1.bin").write_bytes(bytes(range(256)) * 64)
    np.arange(12, dtype="<f4").tofile(d / "input_0.bin")
    REF.astype("<f4").tofile(d / "reference_output_0.bin")
    data = {
        "name": name,
        "inputs": [{"name": "x", "shape": [1, 12], "dtype": "float32"}],
        "outputs": [{"name": "probs", "shape": [1, 5], "dtype": "float32"}],
        "files": {"tflite": {"path": "model.tflite"}, "tfjs": {"path": "tfjs/model.json"},
                  "onnx": {"path": "model.onnx"}},
        "io_names": {"tflite": {"inputs": ["serving_default_x:0"], "outputs": ["Identity:0"]},
                     "onnx": {"inputs": ["x"], "outputs": ["probs"]},
                     "tfjs": {"inputs": ["x:0"], "outputs": ["Identity:0"]}},
        "sample_inputs": [{"name": "x", "path": "input_0.bin", "shape": [1, 12], "dtype": "float32"}],
        "reference_outputs": [{"name": "probs", "path": "reference_output_0.bin", "shape": [1, 5],
                               "dtype": "float32"}],
    }
    (d / "manifest.json").write_text(json.dumps(data))
    return data


def make_pages(pages_dir: Path) -> Path:
    """A pages folder with a harness and empty stand-ins for every vendored script."""
    pages_dir.mkdir(parents=True, exist_ok=True)
    (pages_dir / "harness.html").write_text("<!doctype html><title>h</title>")
    (pages_dir / "harness.js").write_text("// js")
    (pages_dir / "package.json").write_text("{}")
    for rt in BROWSER_RUNTIMES:
        for f in runtime_files(rt):
            p = pages_dir / "vendor" / f
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text("// vendored")
    (pages_dir / "vendor" / "x.wasm").write_bytes(b"\0asm\1\0\0\0")
    (pages_dir / "vendor" / "x.mjs").write_text("export {}")
    return pages_dir


def toy_config(data: dict[str, Any], runtime: str = "tfjs", backend: str = "wasm", **kw: Any) -> CellConfig:
    kw.setdefault("warmups", 2)
    kw.setdefault("iterations", 5)
    kw.setdefault("min_iterations", 3)
    return config_for(data, runtime, backend, 1, **kw)


def good_result(cfg: CellConfig, token: str, values: np.ndarray = REF, **over: Any) -> dict[str, Any]:
    """A result the page could honestly post for `cfg` (override fields with **over)."""
    flat = values.reshape(-1).astype(np.float32)
    order = sorted(range(flat.size), key=lambda i: (-flat[i], i))
    out = {
        "name": "probs", "shape": [1, 5], "dtype": "float32", "size": 5,
        "digest": hashlib.sha256(flat.astype("<f4").tobytes()).hexdigest(),
        "topk": [[i, float(flat[i])] for i in order[:min(cfg.topk, flat.size)]],
        "values": [float(x) for x in flat], "stride": 1,
        "stats": {"sum": float(flat.sum()), "mean": float(flat.mean()), "min": float(flat.min()),
                  "max": float(flat.max())},
    }
    r = {
        "token": token, "cell": cfg.cell, "status": "ok", "error": None, "runtime": cfg.runtime,
        "backend_requested": cfg.backend, "backend": cfg.backend, "threads_requested": cfg.threads,
        "threads": 1, "simd": True, "cross_origin_isolated": True, "user_agent": "HeadlessChrome/156",
        "hardware_concurrency": 2, "versions": {"tfjs-core": "4.22.0"}, "gpu": None,
        "setup_ms": 12.5, "first_inference_ms": 3.25, "warmup_ms": [1.0] * cfg.warmups,
        "latencies_ms": [0.5] * cfg.iterations, "js_heap_mb": {"peak_mb": 7.5, "source": "performance.memory"},
        "outputs": [out], "frames": {"source": "in-page rAF", "count": 3, "long_frames": 0},
    }
    r.update(over)
    return r


def raw_request(port: int, data: bytes, timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read one response (Content-Length framed): (status, headers, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        head, _, body = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
        want = int(headers.get("content-length", "0"))
        while len(body) < want:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
        return status, headers, body


def get(port: int, path: str, *, host: str = "127.0.0.1", extra: str = "") -> tuple[int, dict[str, str], bytes]:
    req = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{extra}\r\n"
    return raw_request(port, req.encode("latin-1"))


def post(port: int, path: str, body: bytes | str | Any, *, host: str = "127.0.0.1",
         ctype: str = "application/json", extra: str = "", length: int | None = None) -> tuple[int, dict[str, str], bytes]:
    if not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    n = len(body) if length is None else length
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Type: {ctype}\r\n"
            f"Content-Length: {n}\r\n{extra}\r\n")
    return raw_request(port, head.encode("latin-1") + body)
