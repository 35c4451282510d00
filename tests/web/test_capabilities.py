"""The capability matrix: what the probe page posts, its schema, and a real probe of headless
Chromium here (keys the issue lists: wasm SIMD / relaxed SIMD / threads / JSPI / memory64,
WebGL2 renderer, WebGPU adapter + features + limits, WebNN availability + device types,
hardwareConcurrency, deviceMemory)."""

from __future__ import annotations

import copy
import json

import pytest

from mobile_webinfer.errors import PageError
from mobile_webinfer.web.capabilities import InvalidCapabilities, parse_capabilities
from mobile_webinfer.web.server import PageServer

from .helpers import post

SAMPLE = {
    "schema_version": 1, "user_agent": "Mozilla/5.0 HeadlessChrome/156.0.0.0", "platform": "Linux",
    "hardware_concurrency": 2, "device_memory_gb": 8, "secure_context": True, "cross_origin_isolated": True,
    "shared_array_buffer": True,
    "wasm": {"simd": True, "relaxed_simd": True, "threads": True, "jspi": True, "memory64": True},
    "webgl2": {"available": True, "vendor": "Google Inc. (Google)", "software": True, "max_texture_size": 8192,
               "renderer": "ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero)), SwiftShader driver)"},
    "webgpu": {"available": True, "adapter": {"vendor": "google", "architecture": "swiftshader", "device": "",
                                              "description": "", "is_fallback_adapter": True, "software": True},
               "features": ["timestamp-query", "subgroups"], "limits": {"maxBufferSize": 268435456}},
    "webnn": {"available": True, "devices": {d: {"ok": False, "reason": "NotSupportedError: WebNN is not supported on this platform."}
                                             for d in ("cpu", "gpu", "npu")}},
}


def test_parse_sample():
    c = parse_capabilities(copy.deepcopy(SAMPLE))
    assert c.wasm.relaxed_simd and c.wasm_threads_usable and c.hardware_concurrency == 2
    assert c.webgpu.timestamp_query and not c.webgpu.shader_f16 and c.webgpu.adapter.software
    assert c.webgpu.features == ("subgroups", "timestamp-query") and c.webnn.device_types == ()
    j = c.to_json()
    json.dumps(j)
    assert j["webnn"]["devices"]["gpu"]["reason"].endswith("platform.") and j["wasm_threads_usable"] is True
    s = c.summary()
    assert "software" in s["webgpu"] and s["webnn"].startswith("no device") and s["threads"] == "yes"


@pytest.mark.parametrize("mutate,match", [
    (lambda d: d.pop("wasm"), "wasm must be an object"),
    (lambda d: d["wasm"].update(simd="yes"), "simd"),
    (lambda d: d.update(schema_version=2), "schema_version"),
    (lambda d: d["webnn"]["devices"].update(tpu={"ok": True}), "tpu"),
    (lambda d: d["webgpu"].update(adapter=None), "no adapter"),
    (lambda d: d["webgpu"].update(limits={"x": "big"}), "limits"),
    (lambda d: d.update(hardware_concurrency=-1), "hardware_concurrency"),
    (lambda d: d.update(error="boom"), "probe page failed"),
])
def test_parse_refuses_junk(mutate, match):
    d = copy.deepcopy(SAMPLE)
    mutate(d)
    with pytest.raises(InvalidCapabilities, match=match):
        parse_capabilities(d)


def test_probe_endpoint_checks_the_token():
    with PageServer() as srv:
        t = srv.open_probe()
        assert "/capabilities.html?probe=" in t.url()
        status, _, _ = post(srv.port, f"/api/probe/{t.probe_id}/result", {"token": "forged", **SAMPLE})
        assert status == 403
        status, _, _ = post(srv.port, "/api/probe/nope/result", {"token": t.token})
        assert status == 404
        status, _, _ = post(srv.port, f"/api/probe/{t.probe_id}/result", {"token": t.token, **SAMPLE})
        assert status == 200
        assert parse_capabilities(t.wait(1)).cross_origin_isolated
        assert post(srv.port, f"/api/probe/{t.probe_id}/result", {"token": t.token, **SAMPLE})[0] == 409
        t.close()
        t2 = srv.open_probe()
        with pytest.raises(PageError, match="no result"):
            t2.wait(0.2)
        t2.close()


@pytest.mark.browser
def test_probe_headless_chromium_here():
    from mobile_webinfer.targets.capabilities import probe_local_capabilities

    with PageServer() as srv:
        c = probe_local_capabilities(None, srv)
    j = c.to_json()
    for key in ("hardware_concurrency", "device_memory_gb", "cross_origin_isolated", "shared_array_buffer",
                "wasm", "webgl2", "webgpu", "webnn"):
        assert key in j
    assert set(j["wasm"]) == {"simd", "relaxed_simd", "threads", "jspi", "memory64"}
    assert c.wasm.simd and c.cross_origin_isolated and c.shared_array_buffer and c.wasm_threads_usable
    assert c.hardware_concurrency and c.hardware_concurrency >= 1
    assert c.webgl2.available and c.webgl2.renderer          # SwiftShader here
    if c.webgpu.available:
        assert c.webgpu.adapter is not None and c.webgpu.limits.get("maxBufferSize", 0) > 0
        assert isinstance(c.webgpu.shader_f16, bool) and isinstance(c.webgpu.timestamp_query, bool)
    else:
        assert c.webgpu.reason
    assert c.webnn.available   # the WebNN feature is on in local Chromium
    assert set(c.webnn.devices) == {"cpu", "gpu", "npu"}
    for d in c.webnn.devices.values():
        assert d.ok or d.reason   # a device type works, or the browser says why not
