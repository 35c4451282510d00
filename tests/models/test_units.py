"""Pure parts of the model plumbing: specs, inputs, bin files, TF.js json fixes, comparisons."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mobile_webinfer.errors import ModelError, UsageError
from mobile_webinfer.models import convert
from mobile_webinfer.models.archs import ARCH_MODULES, ArchSpec, InputSpec, load_arch
from mobile_webinfer.models.build import compare_outputs, model_lock
from mobile_webinfer.models.catalog import check_model_name, get_spec, list_specs
from mobile_webinfer.models.inputs import make_input, make_inputs, read_bin, write_bin

CONTRACT_NAMES = ["mobilenet_v2", "resnet50", "vgg16", "efficientnet_v2_b0", "ssd_mobilenet_v2", "yolov5s",
                  "movenet_thunder", "esrgan", "mobilebert", "tiny_cnn"]


def test_registry_lists_every_contract_name() -> None:
    assert set(CONTRACT_NAMES) <= set(ARCH_MODULES)
    names = [s.name for s in list_specs()]
    assert "tiny_cnn" in names and "mobilenet_v2" in names
    assert len(names) == len(set(names))


def test_get_spec_unknown_lists_known_names() -> None:
    with pytest.raises(UsageError) as err:
        get_spec("no_such_model")
    assert "tiny_cnn" in str(err.value) and "mobilenet_v2" in str(err.value)
    with pytest.raises(UsageError):
        check_model_name("../etc")


def test_get_spec_fields() -> None:
    s = get_spec("mobilenet_v2")
    assert s.task == "classification"
    assert s.inputs == (InputSpec("input", (1, 224, 224, 3), "float32"),)
    assert s.reference_params == 3_538_984


@pytest.mark.parametrize("kwargs", [
    {"name": "bad name", "shape": (1, 2)},
    {"name": "x", "shape": (1, -1)},
    {"name": "x", "shape": ()},
    {"name": "x", "shape": (1, 2), "dtype": "float64"},
    {"name": "x", "shape": (1, 2), "value_range": (1.0, 1.0)},
])
def test_input_spec_rejects_bad_values(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        InputSpec(**kwargs)


def test_arch_spec_rejects_bad_values() -> None:
    inp = (InputSpec("a", (1, 2)),)
    with pytest.raises(ValueError):
        ArchSpec(name="Bad-Name", task="t", inputs=inp)
    with pytest.raises(ValueError):
        ArchSpec(name="ok", task="t", inputs=())
    with pytest.raises(ValueError):
        ArchSpec(name="ok", task="t", inputs=(InputSpec("a", (1,)), InputSpec("a", (1,))))
    with pytest.raises(ValueError):
        ArchSpec(name="ok", task="t", inputs=inp, outputs=("o", "o"))


def test_load_arch_checks_interface() -> None:
    arch = load_arch("tiny_cnn")
    assert arch.spec.name == "tiny_cnn" and callable(arch.build)


def test_inputs_are_seeded_and_in_range() -> None:
    f = InputSpec("x", (2, 3, 4), "float32", (0.0, 1.0))
    a, b = make_input(f, 3, 0), make_input(f, 3, 0)
    assert a.dtype == np.float32 and a.shape == (2, 3, 4)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, make_input(f, 4, 0))
    assert not np.array_equal(a, make_input(f, 3, 1))
    assert a.min() >= 0.0 and a.max() < 1.0
    ids = make_input(InputSpec("ids", (1, 128), "int32", (0, 30522)), 0)
    mask = make_input(InputSpec("mask", (1, 128), "int32", (0, 2)), 0, 1)
    assert ids.dtype == np.int32 and ids.min() >= 0 and ids.max() < 30522 and len(np.unique(ids)) > 50
    assert set(np.unique(mask)) == {0, 1}
    two = make_inputs([f, InputSpec("m", (4,), "int32", (0, 2))], 0)
    assert len(two) == 2 and two[1].dtype == np.int32


def test_bin_roundtrip_and_size_check(tmp_path: Path) -> None:
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 7
    write_bin(a, tmp_path / "a.bin")
    assert (tmp_path / "a.bin").read_bytes() == a.astype("<f4").tobytes()
    assert np.array_equal(read_bin(tmp_path / "a.bin", (2, 3, 4), "float32"), a)
    with pytest.raises(ModelError, match="expected"):
        read_bin(tmp_path / "a.bin", (2, 3, 5), "float32")
    i = np.array([[1, 2**20, -3]], dtype=np.int32)
    write_bin(i, tmp_path / "i.bin")
    assert (tmp_path / "i.bin").read_bytes() == i.astype("<i4").tobytes()


def _fused_model_json(bias_shape: list[int], op: str = "_FusedConv2D", other_reader: bool = False) -> dict:
    nodes = [
        {"name": "x", "op": "Placeholder"},
        {"name": "w", "op": "Const"},
        {"name": "b", "op": "Const"},
        {"name": "conv", "op": op, "input": ["x", "w", "b"]},
    ]
    if other_reader:
        nodes.append({"name": "add", "op": "AddV2", "input": ["conv", "b"]})
    return {"modelTopology": {"node": nodes},
            "weightsManifest": [{"paths": ["g.bin"], "weights": [
                {"name": "w", "shape": [3, 3, 3, 8], "dtype": "float32"},
                {"name": "b", "shape": bias_shape, "dtype": "float32"}]}]}


def test_flatten_fused_biases_rank4_to_rank1() -> None:
    mj = _fused_model_json([1, 1, 1, 8])
    assert convert.flatten_fused_biases(mj) == ["b"]
    assert mj["weightsManifest"][0]["weights"][1]["shape"] == [8]
    assert mj["weightsManifest"][0]["weights"][0]["shape"] == [3, 3, 3, 8]  # the kernel is untouched


def test_flatten_fused_biases_leaves_other_weights() -> None:
    for mj in (_fused_model_json([8]), _fused_model_json([1, 1, 1, 8], other_reader=True),
               _fused_model_json([1, 1, 2, 8]), _fused_model_json([1, 1, 1, 8], op="Conv2D")):
        before = json.dumps(mj)
        assert convert.flatten_fused_biases(mj) == []
        assert json.dumps(mj) == before


def test_tfjs_ops_and_io_names() -> None:
    mj = _fused_model_json([8])
    mj["modelTopology"]["library"] = {"function": [{"nodeDef": [{"op": "Einsum"}]}]}
    mj["signature"] = {"inputs": {"a": {"name": "a:0"}, "b": {"name": "b_1:0"}},
                       "outputs": {"y": {"name": "Identity_1:0"}, "z": {"name": "Identity:0"}}}
    assert convert.tfjs_ops(mj) == ["Const", "Einsum", "Placeholder", "_FusedConv2D"]
    io = convert.tfjs_io_names(mj, ["b", "a"], ["z", "y"])
    assert io["inputs"] == ["b_1:0", "a:0"] and io["outputs"] == ["Identity:0", "Identity_1:0"]
    with pytest.raises(ModelError, match="signature lacks"):
        convert.tfjs_io_names(mj, ["c"], ["z"])


def test_output_names() -> None:
    spec = ArchSpec(name="m", task="t", inputs=(InputSpec("a", (1,)),))
    assert convert.output_names(spec, 2) == ["output_0", "output_1"]
    named = ArchSpec(name="m", task="t", inputs=(InputSpec("a", (1,)),), outputs=("boxes", "scores"))
    assert convert.output_names(named, 2) == ["boxes", "scores"]
    with pytest.raises(ModelError):
        convert.output_names(named, 3)


def test_compare_outputs_tolerance_and_shape() -> None:
    ref = [np.array([[0.5, 0.25, 0.25]], np.float32)]
    ok = compare_outputs("m", "tflite", ref, [ref[0] + 2e-5], ["p"])  # allowed: 1e-4 x peak 0.5
    assert ok["ok"] and ok["max_abs_diff"] == pytest.approx(2e-5, rel=1e-2)
    with pytest.raises(ModelError, match="differs from Keras"):
        compare_outputs("m", "tflite", ref, [ref[0] + 1e-3], ["p"])
    assert compare_outputs("m", "tflite_fp16", ref, [ref[0] + 1e-3], ["p"])["ok"]
    with pytest.raises(ModelError, match="shape"):
        compare_outputs("m", "onnx", ref, [ref[0].reshape(3, 1)], ["p"])
    with pytest.raises(ModelError):
        compare_outputs("m", "onnx", ref, [np.full_like(ref[0], np.nan)], ["p"])
    big = [np.array([1000.0, -2000.0], np.float32)]  # tolerance scales with the output's magnitude
    assert compare_outputs("m", "onnx", big, [big[0] + 0.1], ["p"])["ok"]
    small = [np.array([1e-3, 2e-3], np.float32)]  # ...both ways: softmax-sized outputs are held tight
    with pytest.raises(ModelError):
        compare_outputs("m", "onnx", small, [small[0] + 1e-6], ["p"])


def test_model_lock_excludes_other_processes(tmp_path: Path) -> None:
    code = ("import fcntl,sys\nf=open(sys.argv[1],'a+')\n"
            "try:\n fcntl.flock(f, fcntl.LOCK_EX|fcntl.LOCK_NB); print('free')\n"
            "except BlockingIOError:\n print('held')\n")
    lock = tmp_path / ".locks" / "tiny_cnn.lock"
    with model_lock("tiny_cnn", tmp_path):
        out = subprocess.run([sys.executable, "-c", code, str(lock)], capture_output=True, text=True, check=True)
        assert out.stdout.strip() == "held"
    out = subprocess.run([sys.executable, "-c", code, str(lock)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "free"


def test_unfuse_activations_splits_tanh_only() -> None:
    import base64

    def enc(*ops: str) -> dict:
        return {"list": {"s": [base64.b64encode(o.encode()).decode() for o in ops]}}

    mj = {"modelTopology": {"node": [
        {"name": "x", "op": "Placeholder"},
        {"name": "mm", "op": "_FusedMatMul", "input": ["x", "w", "b"],
         "attr": {"fused_ops": enc("BiasAdd", "Tanh"), "T": {"type": "DT_FLOAT"}}},
        {"name": "cv", "op": "_FusedConv2D", "input": ["x", "k", "c"], "attr": {"fused_ops": enc("BiasAdd", "Relu")}},
        {"name": "out", "op": "Identity", "input": ["mm"]},
    ]}}
    fixes = convert.unfuse_activations(mj)
    assert fixes == ["mm: Tanh split out of _FusedMatMul"]
    nodes = {n["name"]: n for n in mj["modelTopology"]["node"]}
    assert nodes["mm"]["op"] == "Tanh" and nodes["mm"]["input"] == ["mm/mwi_preact"]
    pre = nodes["mm/mwi_preact"]
    assert pre["op"] == "_FusedMatMul" and pre["attr"]["fused_ops"] == enc("BiasAdd")
    assert nodes["out"]["input"] == ["mm"]  # consumers untouched
    assert nodes["cv"]["attr"]["fused_ops"] == enc("BiasAdd", "Relu")  # relu fuses on every backend
    assert convert.unfuse_activations(mj) == []  # idempotent


def test_tfjs_check_plan_scales_with_flops() -> None:
    from mobile_webinfer.models.tfjs_check import plan

    assert plan(4e6) == (("cpu", "wasm"), pytest.approx(300.02))
    backends, timeout = plan(550e9)  # ESRGAN-sized: the JS cpu backend would take many minutes
    assert backends == ("wasm",) and 300 < timeout <= 3600
    assert plan(None)[0] == ("cpu", "wasm")


def test_rekey_tfjs_signature() -> None:
    def entry(t: str) -> dict:
        return {"name": t, "dtype": "DT_FLOAT"}

    mj = {"signature": {"inputs": {"a:0": entry("a:0"), "b": entry("b:0")},
                        "outputs": {"Identity:0": entry("Identity:0"), "Identity_1:0": entry("Identity_1:0")}}}
    keys = {"a:0": "a", "b:0": "b", "Identity:0": "aa", "Identity_1:0": "zz"}
    fixes = convert.rekey_tfjs_signature(mj, keys, ["b", "a"], ["zz", "aa"])
    assert list(mj["signature"]["inputs"]) == ["b", "a"] and list(mj["signature"]["outputs"]) == ["zz", "aa"]
    assert mj["signature"]["outputs"]["zz"]["name"] == "Identity_1:0"
    assert "signature input a:0 -> a" in fixes and len(fixes) == 3
    bad = {"signature": {"inputs": {"a": entry("a:0")}, "outputs": {"Identity:0": entry("Identity:0")}}}
    with pytest.raises(ModelError, match="cannot tell"):
        convert.rekey_tfjs_signature(bad, {}, ["a"], ["out"])
    bad = {"signature": {"inputs": {"a": entry("a:0")}, "outputs": {"out": entry("Identity:0")}}}
    with pytest.raises(ModelError, match="lacks"):
        convert.rekey_tfjs_signature(bad, {}, ["a"], ["out", "other"])


def test_duplicate_weights_are_refused() -> None:
    import keras

    from mobile_webinfer.models.build import check_distinct_weights

    keras.utils.set_random_seed(0)
    shared = keras.initializers.TruncatedNormal(stddev=0.02)  # one unseeded instance reused
    x = keras.Input((128,), batch_size=1)
    y = keras.layers.Dense(128, kernel_initializer=shared)(x)
    y = keras.layers.Dense(128, kernel_initializer=shared)(y)
    with pytest.raises(ModelError, match="exact copies"):
        check_distinct_weights(keras.Model(x, y), "dup")
    x = keras.Input((128,), batch_size=1)
    y = keras.layers.Dense(128)(x)
    y = keras.layers.Dense(128)(y)
    check_distinct_weights(keras.Model(x, y), "fresh")  # fresh initializers per layer: fine


def test_isolated_call_runs_in_a_child_and_passes_errors() -> None:
    import os

    from mobile_webinfer.models.build import _caller

    assert _caller(False)(os.getpid) == os.getpid()
    child = _caller(True)(os.getpid)
    assert isinstance(child, int) and child != os.getpid()
    with pytest.raises(ModelError, match="differs"):
        _caller(True)(compare_outputs, "m", "onnx", [np.zeros(2, np.float32)], [np.ones(2, np.float32)], ["p"])
    with pytest.raises(ModelError, match=r"died \(exit 3"):  # a child killed mid-way (e.g. OOM) is an error
        _caller(True)(os._exit, 3)
