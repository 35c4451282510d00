"""The harness page in real headless Chromium with tiny_cnn: one runtime per framework,
agreement with the native TFLite output, and failures reported as errors (never numbers)."""

from __future__ import annotations

import os
import shutil

import pytest

from mobile_webinfer.errors import PageError
from mobile_webinfer.web.protocol import PageBackendFallback, PageReportedError, agreement, config_for
from mobile_webinfer.web.server import PageServer

pytestmark = pytest.mark.browser

FAST = dict(warmups=2, iterations=15, min_iterations=5, time_budget_ms=5000)


@pytest.fixture(scope="module")
def tiny():
    from mobile_webinfer.models.build import ensure_built

    return ensure_built("tiny_cnn")


@pytest.fixture(scope="module")
def native_out(tiny):
    """tiny_cnn's output from host TFLite (ai-edge-litert) on the same sample input."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(str(tiny.file("tflite")), num_threads=1)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], tiny.sample_inputs()[0])
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"]).copy()


@pytest.fixture(scope="module")
def vendored():
    from mobile_webinfer.paths import PAGES_DIR
    from mobile_webinfer.web.vendor import ensure_vendor

    ensure_vendor(PAGES_DIR)


@pytest.fixture(scope="module")
def server(tiny, vendored):
    with PageServer(models_dir=tiny.dir.parent) as srv:
        yield srv


@pytest.fixture(scope="module")
def browser():
    from mobile_webinfer.browsers.local_chromium import LocalChromium

    with LocalChromium(webgl=False, webgpu=False) as b:
        yield b
    assert not b.user_data_dir.exists()


def run_cell(server, browser, config, timeout=60):
    ticket = server.open_cell(config)
    page = browser.new_page()
    try:
        page.goto(ticket.url(), wait_until="commit")
        return ticket, ticket.wait(timeout)
    finally:
        page.close()
        ticket.close()


@pytest.mark.parametrize("runtime", ["tfjs", "tflite", "ort"])
def test_wasm_cell_agrees_with_native(server, browser, tiny, native_out, runtime):
    ticket, r = run_cell(server, browser, config_for(tiny, runtime, "wasm", 1, **FAST))
    assert r.ok and r.backend == "wasm" and r.runtime == runtime
    assert r.threads == 1 and r.cross_origin_isolated is True and r.simd is True
    assert r.setup_ms > 0 and r.first_inference_ms > 0 and len(r.warmup_ms) == 2
    assert 5 <= len(r.latencies_ms) <= 15 and all(x > 0 for x in r.latencies_ms)
    assert "HeadlessChrome" in r.user_agent and r.hardware_concurrency >= 1
    assert r.frames["source"] == "in-page rAF" and r.gpu is None and r.hidden_during_run is False
    prefix = {"tfjs": "tfjs-backend-wasm", "tflite": "tflite_web_api", "ort": "ort-wasm"}[runtime]
    assert r.raw["wasm_files"] and all(f.startswith(prefix) for f in r.raw["wasm_files"])  # only its runtime
    pkg = {"tfjs": "@tensorflow/tfjs", "tflite": "@tensorflow/tfjs-tflite", "ort": "onnxruntime-web"}[runtime]
    assert r.versions[pkg]
    out = r.outputs[0]
    assert out.shape == tuple(tiny.outputs[0]["shape"]) and out.values is not None and out.stable
    for ref in (native_out, tiny.reference_outputs()[0]):
        a = agreement(out, ref)
        assert a.top1_match and a.max_abs_diff < 1e-4, a
    stages = [e["stage"] for e in sorted(ticket.events(), key=lambda e: e["seq"])]
    assert stages[:6] == ["config", "scripts", "loaded", "first", "warmup", "timed"]


def test_tfjs_cpu_backend(server, browser, tiny, native_out):
    _, r = run_cell(server, browser, config_for(tiny, "tfjs", "cpu", 1, **FAST))
    assert r.backend == "cpu" and r.threads == 1
    assert agreement(r.outputs[0], native_out).max_abs_diff < 1e-4


@pytest.mark.parametrize("runtime", ["tfjs", "ort"])
def test_webgpu_without_webgpu_is_a_fallback_error(server, browser, tiny, runtime):
    with pytest.raises(PageBackendFallback) as ei:
        run_cell(server, browser, config_for(tiny, runtime, "webgpu", 1, **FAST))
    r = ei.value.result
    assert r is not None and r.status == "error" and r.error.kind == "backend_fallback"
    assert r.latencies_ms == () and r.outputs == ()   # an error, never numbers


def test_broken_model_is_a_load_error(tmp_path, tiny, vendored, browser):
    models = tmp_path / "models"
    shutil.copytree(tiny.dir, models / "tiny_cnn")
    (models / "tiny_cnn" / tiny.data["files"]["onnx"]["path"]).write_bytes(b"not an onnx model" * 10)
    with PageServer(models_dir=models) as srv:
        with pytest.raises(PageReportedError) as ei:
            run_cell(srv, browser, config_for(tiny, "ort", "wasm", 1, **FAST))
    r = ei.value.result
    assert ei.value.kind == "model_load" and "during setup" in r.error.message
    assert r.setup_ms is None and r.latencies_ms == () and r.raw["partial"]["timed_done"] == 0


def test_wrong_token_page_stays_silent(server, browser, tiny):
    ticket = server.open_cell(config_for(tiny, "tfjs", "wasm", 1, **FAST))
    page = browser.new_page()
    try:
        page.goto(ticket.url().replace(ticket.token, "forged"), wait_until="load")
        with pytest.raises(PageError, match="token"):
            ticket.wait(2)
        assert ticket.result is None
    finally:
        page.close()
        ticket.close()


def test_browser_pids(browser, server):
    page = browser.new_page()
    try:
        page.goto(f"{server.base_url}/harness.html", wait_until="load")
        pids = browser.browser_pids()
        cmdlines = {p: open(f"/proc/{p}/cmdline", "rb").read() for p in pids if os.path.exists(f"/proc/{p}")}
    finally:
        page.close()
    assert len(pids) >= 3
    assert any(b"--type=renderer" in c for c in cmdlines.values())
    assert any(b"--type=gpu-process" in c or b"--type=utility" in c for c in cmdlines.values())
    marker = str(browser.user_data_dir).encode()
    assert any(b"--type=" not in c and marker in c for c in cmdlines.values())   # the browser process
    assert all(marker in c for c in cmdlines.values() if b"--type=" in c)
    assert os.getpid() not in pids


@pytest.fixture(scope="module")
def gpu_browser():
    from mobile_webinfer.browsers.local_chromium import LocalChromium

    with LocalChromium(webgl=True, webgpu=True) as b:
        yield b


@pytest.mark.parametrize("runtime,backend", [("tfjs", "webgl"), ("tfjs", "webgpu")])
def test_software_gpu_backends(server, gpu_browser, tiny, native_out, runtime, backend):
    """WebGL / WebGPU through SwiftShader: the code path works and is labelled software."""
    _, r = run_cell(server, gpu_browser, config_for(tiny, runtime, backend, 1, warmups=1, iterations=3,
                                                     min_iterations=2), timeout=90)
    assert r.backend == backend and r.threads is None
    assert r.gpu is not None and r.gpu["software"] is True and r.software_gpu
    assert agreement(r.outputs[0], native_out).max_abs_diff < 1e-4


def test_vendor_is_idempotent(vendored):
    from mobile_webinfer.paths import PAGES_DIR
    from mobile_webinfer.web.vendor import ensure_vendor, vendored_versions

    rep = ensure_vendor(PAGES_DIR)
    assert not rep.installed and rep.copied == 0 and rep.removed == 0
    assert vendored_versions(PAGES_DIR)["onnxruntime-web"] == "1.30.0"


def test_time_budget_stops_the_timed_loop(server, browser, tiny):
    cfg = config_for(tiny, "tfjs", "cpu", 1, warmups=0, iterations=100_000, min_iterations=3, time_budget_ms=300)
    _, r = run_cell(server, browser, cfg)
    assert 3 <= len(r.latencies_ms) < 100_000 and r.warmup_ms == ()
    # the loop stops at the first check past the budget: at most one inference (+ yields) later
    assert sum(r.latencies_ms) < 300 + 10 * max(r.latencies_ms) + 200
