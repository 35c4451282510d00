"""protocol.py for the litert runtime, webnn backend, partial delegation and the thread policy
(no browser): configs, and what a page may post."""

from __future__ import annotations

import pytest

from mobile_webinfer.errors import UsageError
from mobile_webinfer.vocab import (
    BROWSER_RUNTIMES,
    GPU_BACKENDS,
    RUNTIME_BACKENDS,
    RUNTIME_FORMAT,
)
from mobile_webinfer.web.protocol import (
    Delegation,
    InvalidResult,
    PageBackendFallback,
    PageReportedError,
    config_for,
    error_for,
    validate_result,
)
from mobile_webinfer.web.vendor import runtime_files

from .helpers import good_result, make_model, toy_config

GPU = {"api": "webgpu", "vendor": "google", "renderer": "swiftshader", "software": True}


@pytest.fixture()
def data(tmp_path):
    return make_model(tmp_path / "models")


def cell(cfg):
    return cfg.with_cell("c1")


def test_vocabulary_names_the_new_runtime_and_backend():
    assert "litert" in BROWSER_RUNTIMES and "tflite" in BROWSER_RUNTIMES   # the study's runtime stays
    assert RUNTIME_BACKENDS["litert"] == ("wasm", "webgpu", "webnn")
    assert "webnn" in RUNTIME_BACKENDS["ort"] and RUNTIME_FORMAT["litert"] == "tflite"
    assert "webnn" not in GPU_BACKENDS


def test_litert_config_loads_the_tflite_file(data):
    cfg = config_for(data, "litert", "webgpu", 1)
    j = cfg.to_json()
    assert j["model"]["url"] == "/models/toy/model.tflite" and j["runtime"] == "litert"
    assert j["webnn_device"] == "cpu" and j["thread_policy"] == "as-is"
    assert config_for(data, "ort", "webnn", 1, webnn_device="npu").to_json()["webnn_device"] == "npu"
    assert config_for(data, "tfjs", "wasm", 2, thread_policy="exact").thread_policy == "exact"
    with pytest.raises(UsageError, match="webnn_device"):
        config_for(data, "ort", "webnn", 1, webnn_device="tpu")
    with pytest.raises(UsageError, match="thread_policy"):
        config_for(data, "tfjs", "wasm", 1, thread_policy="all")
    with pytest.raises(UsageError, match="no backend"):
        config_for(data, "litert", "webgl", 1)


def test_vendor_files_for_litert_and_ort_webnn():
    lit = runtime_files("litert")
    assert {"litert/index.js", "litert-wasm-utils/index.js"} <= set(lit)
    assert any(f.startswith("litert/litert_wasm_jspi_internal") for f in lit)  # webgpu / webnn load the JSPI build
    assert "ort/ort.webgpu.min.js" in runtime_files("ort")  # ort's webnn EP ships in the webgpu bundle


def test_litert_wasm_result_with_build(data):
    cfg = cell(toy_config(data, "litert", "wasm"))
    r = validate_result(good_result(cfg, "t", wasm_build="threaded"), config=cfg)
    assert r.ok and r.wasm_build == "threaded" and r.delegation is None and not r.partial
    with pytest.raises(InvalidResult, match="wasm_build"):
        validate_result(good_result(cfg, "t", wasm_build="turbo"), config=cfg)


def test_partial_gpu_is_accepted_only_as_partial(data):
    cfg = cell(toy_config(data, "litert", "webgpu"))
    deleg = {"delegated_nodes": 60, "total_nodes": 66, "partitions": 3, "source": "litert log"}
    r = validate_result(good_result(cfg, "t", backend="webgpu-partial", gpu=GPU, fully_accelerated=False,
                                    delegation=deleg), config=cfg)
    assert r.ok and r.partial and r.backend == "webgpu-partial" and r.fully_accelerated is False
    assert r.delegation == Delegation(60, 66, 3, "litert log") and r.delegation.partial
    # never published as GPU: not fully accelerated on the plain backend name is refused
    with pytest.raises(InvalidResult, match="partial"):
        validate_result(good_result(cfg, "t", gpu=GPU, fully_accelerated=False), config=cfg)
    with pytest.raises(InvalidResult, match="fully_accelerated is true"):
        validate_result(good_result(cfg, "t", backend="webgpu-partial", gpu=GPU, fully_accelerated=True), config=cfg)
    with pytest.raises(InvalidResult, match="gpu info"):
        validate_result(good_result(cfg, "t", backend="webgpu-partial", fully_accelerated=False), config=cfg)
    # a whole-model fallback to wasm is never ok
    with pytest.raises(InvalidResult, match="fallback must be an error"):
        validate_result(good_result(cfg, "t", backend="wasm", gpu=GPU), config=cfg)
    wasm_cfg = cell(toy_config(data, "litert", "wasm"))
    with pytest.raises(InvalidResult, match="fallback must be an error"):
        validate_result(good_result(wasm_cfg, "t", backend="wasm-partial"), config=wasm_cfg)


def test_delegation_counts_are_checked(data):
    cfg = cell(toy_config(data, "ort", "webnn"))
    r = validate_result(good_result(cfg, "t", delegation={"delegated_nodes": None, "total_nodes": None,
                                                          "partitions": None, "source": "not reported"}), config=cfg)
    assert r.delegation is not None and r.delegation.partial is None
    for bad in ({"delegated_nodes": 7, "total_nodes": 5, "partitions": 1}, {"delegated_nodes": -1},
                {"delegated_nodes": True}):
        with pytest.raises(InvalidResult, match="delegat"):
            validate_result(good_result(cfg, "t", delegation=bad), config=cfg)


def test_unsupported_is_an_error_kind(data):
    cfg = cell(toy_config(data, "litert", "webnn"))
    reason = ("navigator.ml.createContext({deviceType: 'cpu'}) failed: NotSupportedError: "
              "WebNN is not supported on this platform.")
    payload = good_result(cfg, "t", status="error", error={"kind": "unsupported", "message": reason},
                          backend=None, latencies_ms=[], outputs=[], warmup_ms=[], setup_ms=None,
                          first_inference_ms=None, frames=None)
    r = validate_result(payload, config=cfg)
    exc = error_for(r)
    assert isinstance(exc, PageReportedError) and not isinstance(exc, PageBackendFallback)
    assert exc.kind == "unsupported" and "not supported on this platform" in str(exc)


def test_concurrency_override_is_recorded(data):
    cfg = cell(toy_config(data, "tfjs", "wasm"))
    r = validate_result(good_result(cfg, "t", concurrency_override={"policy": "exact", "real": 2, "reported": 4}),
                        config=cfg)
    assert r.concurrency_override is not None and r.concurrency_override.reported == 4
    with pytest.raises(InvalidResult, match="concurrency_override"):
        validate_result(good_result(cfg, "t", concurrency_override={"policy": "exact", "real": 0}), config=cfg)
