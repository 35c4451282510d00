"""protocol.py: config building/validation, result schema, agreement."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from mobile_webinfer.errors import UsageError
from mobile_webinfer.web.protocol import (CellResult, InvalidResult, OutputRecord, agreement, config_for,
                                          error_for, float32_digest, loads_strict, validate_result)

from .helpers import REF, good_result, make_model, toy_config


@pytest.fixture()
def data(tmp_path):
    return make_model(tmp_path / "models")


def test_config_for_each_runtime(data):
    for rt, url in (("tfjs", "/models/toy/tfjs/model.json"), ("tflite", "/models/toy/model.tflite"),
                    ("ort", "/models/toy/model.onnx")):
        cfg = config_for(data, rt, "wasm", 2)
        j = cfg.to_json()
        assert j["model"]["url"] == url and j["threads"] == 2 and j["cell"] == ""
        assert j["model"]["inputs"] == [{"name": "x", "shape": [1, 12], "dtype": "float32",
                                         "url": "/models/toy/input_0.bin"}]
        assert j["model"]["io_names"] == {k: v for k, v in data["io_names"][cfg.model.format].items()}
        json.dumps(j)
    assert config_for(data, "ort", "webgpu").with_cell("abc").to_json()["cell"] == "abc"


def test_config_for_manifest_object(tmp_path, data):
    class M:  # the shape of models.ModelManifest
        dir = tmp_path / "models" / "toy"

    M.data = data
    assert config_for(M, "tflite", "wasm").model.url == "/models/toy/model.tflite"


@pytest.mark.parametrize("args,match", [
    (("tfjs", "cuda", 1), "no backend"), (("tflite", "webgl", 1), "no backend"), (("ort", "cpu", 1), "no backend"),
    (("torch", "wasm", 1), "unknown runtime"), (("tfjs", "wasm", 0), "threads"), (("tfjs", "wasm", True), "threads"),
])
def test_config_rejects_bad_requests(data, args, match):
    with pytest.raises(UsageError, match=match):
        config_for(data, *args)


def test_config_rejects_bad_numbers_and_manifests(data):
    with pytest.raises(UsageError, match="min_iterations"):
        config_for(data, "tfjs", "wasm", iterations=3, min_iterations=5)
    with pytest.raises(UsageError, match="time_budget_ms"):
        config_for(data, "tfjs", "wasm", time_budget_ms=float("nan"))
    with pytest.raises(UsageError, match="no onnx file"):
        config_for({**data, "files": {"tfjs": data["files"]["tfjs"]}}, "ort", "wasm")
    with pytest.raises(UsageError, match="leaves the model folder"):
        config_for({**data, "files": {"onnx": {"path": "../../etc/passwd"}}}, "ort", "wasm")
    with pytest.raises(UsageError, match="no sample input"):
        config_for({**data, "sample_inputs": []}, "ort", "wasm")
    with pytest.raises(UsageError, match="no usable name"):
        config_for({**data, "name": "../x"}, "ort", "wasm")
    with pytest.raises(UsageError, match="names"):
        config_for({**data, "io_names": {"onnx": {"inputs": ["a", "b"], "outputs": ["c"]}}}, "ort", "wasm")


def test_result_is_frozen_and_drops_token(data):
    cfg = toy_config(data).with_cell("c1")
    r = validate_result(good_result(cfg, "secret"), config=cfg)
    assert isinstance(r, CellResult) and r.ok and not r.software_gpu
    assert "token" not in r.raw and r.raw["cell"] == "c1"
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.status = "error"  # type: ignore[misc]
    assert r.outputs[0].topk[0] == (4, pytest.approx(0.4))


def test_sampled_output(data):
    cfg = toy_config(data, raw_output_max=2, sample_count=2).with_cell("c")
    res = good_result(cfg, "t")
    out = res["outputs"][0]
    del out["values"]
    out.update(sample=[float(REF[0, 0]), float(REF[0, 3])], stride=3)
    r = validate_result(res, config=cfg)
    o = r.outputs[0]
    assert o.values is None and list(o.sample_indices()) == [0, 3]
    a = agreement(o, REF)
    assert a.compared == 2 and a.max_abs_diff == 0 and a.top1_match and a.digest_match
    out["sample"] = out["sample"][:1]
    with pytest.raises(InvalidResult, match="sample has 1 entries"):
        validate_result(res, config=cfg)
    out["values"] = [0.1] * 5
    with pytest.raises(InvalidResult, match="not both"):
        validate_result(res, config=cfg)


def test_full_values_required_when_small(data):
    cfg = toy_config(data).with_cell("c")
    res = good_result(cfg, "t")
    out = res["outputs"][0]
    del out["values"]
    out.update(sample=[0.05, 0.15], stride=3)
    with pytest.raises(InvalidResult, match="needs full values"):
        validate_result(res, config=cfg)


def test_error_result_minimal_and_partial(data):
    cfg = toy_config(data).with_cell("c")
    base = {"cell": "c", "status": "error", "runtime": "tfjs", "backend_requested": "wasm",
            "error": {"kind": "model_load", "message": "404"}}
    r = validate_result(base, config=cfg)
    assert not r.ok and r.error.kind == "model_load" and r.latencies_ms == () and r.setup_ms is None
    r = validate_result({**base, "setup_ms": 5.0, "warmup_ms": [1.0]}, config=cfg)  # died during warmups
    assert r.warmup_ms == (1.0,)
    with pytest.raises(InvalidResult, match="no latencies"):
        validate_result({**base, "latencies_ms": [1.0]}, config=cfg)
    with pytest.raises(InvalidResult, match="no outputs"):
        validate_result({**base, "outputs": good_result(cfg, "t")["outputs"]}, config=cfg)
    exc = error_for(r)
    assert exc.kind == "model_load" and exc.result is r and "model_load: 404" in str(exc)


def test_gpu_backend_needs_gpu_info(data):
    cfg = toy_config(data, backend="webgl").with_cell("c")
    with pytest.raises(InvalidResult, match="gpu info"):
        validate_result(good_result(cfg, "t"), config=cfg)
    r = validate_result(good_result(cfg, "t", gpu={"vendor": "Google", "renderer": "SwiftShader", "software": True},
                                    threads=None), config=cfg)
    assert r.software_gpu and r.threads is None


def test_loads_strict():
    assert loads_strict(b'{"a": [1, 2.5e3]}') == {"a": [1, 2500.0]}
    for bad in (b'{"a": NaN}', b'{"a": -Infinity}', b'{"a": 1, "a": 2}', b"\xff", b"{", b"[" * 50000):
        with pytest.raises(InvalidResult):
            loads_strict(bad)


def test_float32_digest_matches_page_definition():
    a = np.array([1.0, -2.5, 3.25], dtype=np.float64)
    assert float32_digest(a) == hashlib.sha256(np.array([1.0, -2.5, 3.25], "<f4").tobytes()).hexdigest()


def test_agreement_detects_disagreement():
    cfg_out = OutputRecord(name="p", shape=(1, 5), dtype="float32", size=5, digest="0" * 64,
                           topk=((2, 0.9),), stats={}, values=(0.0, 0.0, 0.9, 0.05, 0.05))
    a = agreement(cfg_out, REF)
    assert not a.top1_match and a.max_abs_diff == pytest.approx(0.6, abs=1e-6) and not a.digest_match
    with pytest.raises(UsageError):
        agreement(cfg_out, np.zeros(7))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6),
                          st.just(0.0), st.just(-1.0), st.just(float("inf")), st.just(float("nan")),
                          st.text(max_size=3), st.booleans(), st.none()), min_size=5, max_size=5))
def test_latencies_accepted_iff_finite_positive(lat):
    cfg = _CFG
    res = good_result(cfg, "t", latencies_ms=lat)
    ok = all(isinstance(x, float) and math.isfinite(x) and x > 0 for x in lat)
    if ok:
        assert validate_result(res, config=cfg).latencies_ms == tuple(lat)
    else:
        with pytest.raises(InvalidResult):
            validate_result(res, config=cfg)


_CFG = toy_config({
    "name": "toy", "inputs": [{"name": "x", "shape": [1, 12], "dtype": "float32"}],
    "outputs": [{"name": "probs", "shape": [1, 5], "dtype": "float32"}],
    "files": {"tfjs": {"path": "tfjs/model.json"}},
    "sample_inputs": [{"name": "x", "path": "input_0.bin", "shape": [1, 12], "dtype": "float32"}],
}).with_cell("c")
