"""LiteRT.js (runtime litert) and WebNN cells in real headless Chromium with tiny_cnn: agreement
with native TFLite, the wasm build reported, WebGPU on the software adapter, partial delegation
labelled (never published as GPU), WebNN run or `unsupported` with the browser's reason, and the
TF.js thread policy."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mobile_webinfer.web.protocol import (
    PageBackendFallback,
    PageReportedError,
    agreement,
    config_for,
)
from mobile_webinfer.web.server import PageServer

pytestmark = pytest.mark.browser

FAST = {"warmups": 1, "iterations": 8, "min_iterations": 3, "time_budget_ms": 4000}


@pytest.fixture(scope="module")
def tiny():
    from mobile_webinfer.models.build import ensure_built

    return ensure_built("tiny_cnn")


@pytest.fixture(scope="module")
def native_out(tiny):
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(str(tiny.file("tflite")), num_threads=1)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], tiny.sample_inputs()[0])
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"]).copy()


@pytest.fixture(scope="module")
def server(tiny):
    from mobile_webinfer.paths import PAGES_DIR
    from mobile_webinfer.web.vendor import ensure_vendor

    ensure_vendor(PAGES_DIR)
    with PageServer(models_dir=tiny.dir.parent) as srv:
        yield srv


@pytest.fixture(scope="module")
def browser():
    """One Chromium with software WebGL / WebGPU and the WebNN feature (as GPU cells get)."""
    from mobile_webinfer.browsers.local_chromium import LocalChromium

    with LocalChromium(webgl=True, webgpu=True) as b:
        yield b


def run_cell(server, browser, config, timeout=120):
    ticket = server.open_cell(config)
    page = browser.new_page()
    try:
        page.goto(ticket.url(), wait_until="commit")
        return ticket.wait(timeout)
    finally:
        page.close()
        ticket.close()


@pytest.mark.parametrize("threads,build", [(1, "simd"), (2, "threaded")])
def test_litert_wasm_agrees_with_native(server, browser, tiny, native_out, threads, build):
    r = run_cell(server, browser, config_for(tiny, "litert", "wasm", threads, **FAST))
    assert r.ok and r.runtime == "litert" and r.backend == "wasm" and r.cross_origin_isolated
    assert r.wasm_build == build and r.raw["wasm_files"] == [f"litert_wasm{'_threaded' if threads > 1 else ''}_internal.wasm"]
    # the threaded build's XNNPACK gets the threads asked, capped at its pthread pool (= cores)
    assert r.threads == min(threads, r.hardware_concurrency)
    assert r.versions["@litertjs/core"] == "2.5.3"
    for ref in (native_out, tiny.reference_outputs()[0]):
        a = agreement(r.outputs[0], ref)
        assert a.top1_match and a.max_abs_diff < 1e-4, a
    assert r.outputs[0].stable and r.delegation is None


def test_litert_webgpu_on_the_software_adapter(server, browser, tiny, native_out):
    try:
        r = run_cell(server, browser, config_for(tiny, "litert", "webgpu", 1, **FAST))
    except PageBackendFallback as exc:   # no usable adapter here: the cell says why, with no numbers
        assert exc.result is not None and exc.result.latencies_ms == () and exc.result.error.message
        pytest.skip(f"no WebGPU here: {exc}")
    assert r.backend == "webgpu" and r.fully_accelerated is True and r.wasm_build == "jspi"
    assert r.software_gpu and r.gpu["software"] is True   # -> the sweep's `software-gpu` flag
    assert r.threads is None and r.delegation is not None and r.delegation.partitions == 1
    assert agreement(r.outputs[0], native_out).max_abs_diff < 1e-4


@pytest.fixture(scope="module")
def partial_models(tmp_path_factory):
    """A model with ops LiteRT.js WebGPU leaves to wasm (ARG_MAX, CAST), served like a built model."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    class M(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1, 16], tf.float32)])
        def __call__(self, x):
            y = tf.nn.relu(x * 2.0 + 1.0)
            y = y + tf.cast(tf.argmax(y, axis=1), tf.float32)[:, None] * 0.001
            return tf.nn.softmax(y * 0.1)

    m = M()
    conv = tf.lite.TFLiteConverter.from_concrete_functions([m.__call__.get_concrete_function()], m)
    root = tmp_path_factory.mktemp("models")
    d = root / "topk"
    d.mkdir()
    (d / "model.tflite").write_bytes(conv.convert())
    x = np.linspace(-1, 1, 16, dtype="<f4").reshape(1, 16)
    x.tofile(d / "input_0.bin")
    it = Interpreter(str(d / "model.tflite"))
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    ref = it.get_tensor(it.get_output_details()[0]["index"]).copy()
    data = {"name": "topk", "inputs": [{"name": "x", "shape": [1, 16], "dtype": "float32"}],
            "outputs": [{"name": "y", "shape": [1, 16], "dtype": "float32"}],
            "files": {"tflite": {"path": "model.tflite"}},
            "sample_inputs": [{"name": "x", "path": "input_0.bin", "shape": [1, 16], "dtype": "float32"}]}
    (d / "manifest.json").write_text(json.dumps(data))
    return root, data, ref


def test_model_not_fully_accelerated_is_never_published_as_gpu(partial_models, browser):
    root, data, ref = partial_models
    with PageServer(models_dir=root) as srv:
        cfg = config_for(data, "litert", "webgpu", 1, **FAST)
        try:
            r = run_cell(srv, browser, cfg)
        except PageReportedError as exc:
            # a whole-model fallback to wasm (browser without JSPI) or no adapter: an error
            assert exc.kind in ("backend_fallback", "unsupported_op"), exc
            assert exc.result is not None and exc.result.latencies_ms == ()
            return
    assert r.backend == "webgpu-partial" and r.partial and r.fully_accelerated is False
    assert r.wasm_build == "jspi" and agreement(r.outputs[0], ref).max_abs_diff < 1e-4
    assert r.delegation is not None and r.delegation.partitions is None   # LiteRT.js gives no counts


@pytest.mark.parametrize("runtime", ["litert", "ort"])
def test_webnn_runs_or_says_unsupported(server, browser, tiny, native_out, runtime):
    try:
        r = run_cell(server, browser, config_for(tiny, runtime, "webnn", 1, **FAST))
    except PageReportedError as exc:
        assert exc.kind == "unsupported", exc
        res = exc.result
        assert res is not None and res.latencies_ms == () and res.outputs == ()
        # the browser's own words (Debian Chromium 156 here: "WebNN is not supported on this platform")
        assert "createContext" in res.error.message or "navigator.ml" in res.error.message
        return
    assert r.backend in ("webnn", "webnn-partial") and r.delegation is not None
    assert agreement(r.outputs[0], native_out).max_abs_diff < 1e-3


def test_tfjs_thread_policy_exact(server, browser, tiny):
    """TF.js wasm uses at most half the cores it is told about; "exact" tells it enough."""
    as_is = run_cell(server, browser, config_for(tiny, "tfjs", "wasm", 2, **FAST))
    exact = run_cell(server, browser, config_for(tiny, "tfjs", "wasm", 2, thread_policy="exact", **FAST))
    hc = exact.hardware_concurrency
    assert as_is.threads == min(2, max(1, hc // 2)) and as_is.concurrency_override is None
    assert exact.threads == 2
    if hc < 4:
        ov = exact.concurrency_override
        assert ov is not None and ov.real == hc and ov.reported == 4 and ov.policy == "exact"
