"""Build tiny_cnn for real (Keras -> SavedModel -> tflite x3, TF.js, ONNX) and check the result."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from mobile_webinfer.errors import ModelError, UsageError
from mobile_webinfer.models import convert
from mobile_webinfer.models.build import ensure_built, needs_build, run_onnx, run_tflite
from mobile_webinfer.models.catalog import get_spec
from mobile_webinfer.models.inputs import make_inputs
from mobile_webinfer.models.manifest import file_sha256, load_manifest

ALL_FORMATS = ["tflite", "tflite_fp16", "tflite_int8", "tfjs", "onnx"]


def test_every_format_on_disk(tiny) -> None:
    assert sorted(tiny.formats) == sorted(ALL_FORMATS)
    assert tiny.file("tflite").name == "model.tflite"
    assert tiny.file("tflite_fp16").name == "model_fp16.tflite"
    assert tiny.file("tflite_int8").name == "model_int8.tflite"
    assert tiny.file("tfjs") == tiny.dir / "tfjs" / "model.json"
    assert tiny.file("onnx").name == "model.onnx"
    assert tiny.size_bytes("tflite") < 1_000_000
    # fp16 and int8 weights shrink the file
    assert tiny.size_bytes("tflite_int8") < tiny.size_bytes("tflite_fp16") < tiny.size_bytes("tflite")
    assert not tiny.verify_files(hashes=True)
    assert not [p for p in tiny.dir.parent.iterdir() if p.name.startswith(".tiny_cnn.")]  # no leftovers


def test_manifest_fields(tiny) -> None:
    d = tiny.data
    for key in ("schema_version", "name", "task", "architecture", "seed", "params", "reference_params", "flops",
                "inputs", "outputs", "files", "io_names", "sample_inputs", "reference_outputs", "verification",
                "converters", "runtime_support", "notes", "built_at", "build_seconds", "user_model"):
        assert key in d, key
    assert d["schema_version"] == 1 and d["name"] == "tiny_cnn" and d["task"] == "classification"
    assert d["seed"] == 0 and d["user_model"] is False
    assert 1_000 < d["params"] < 100_000
    assert d["flops"] > 2 * d["params"]  # convolutions reuse weights: FLOPs far above 2 x params
    assert d["inputs"] == [{"name": "input", "shape": [1, 32, 32, 3], "dtype": "float32"}]
    assert d["outputs"] == [{"name": "probabilities", "shape": [1, 10], "dtype": "float32"}]
    for mod in ("tensorflow", "keras", "tf2onnx", "onnx", "tensorflowjs"):
        assert d["converters"][mod], mod
    assert "tflite_int8" in d["runtime_support"]
    assert d["build_seconds"] > 0


def test_file_hashes_and_sizes(tiny) -> None:
    for fmt in ("tflite", "tflite_fp16", "tflite_int8", "onnx"):
        p = tiny.file(fmt)
        assert tiny.sha256(fmt) == file_sha256(p)
        assert tiny.size_bytes(fmt) == p.stat().st_size
    tj = tiny.data["files"]["tfjs"]
    assert tj["sha256"] == file_sha256(tiny.file("tfjs"))
    assert len(tj["weights"]) == 1  # one shard
    total = tiny.file("tfjs").stat().st_size
    for w in tj["weights"]:
        p = tiny.dir / w["path"]
        assert w["sha256"] == file_sha256(p) and w["bytes"] == p.stat().st_size
        total += w["bytes"]
    assert tj["bytes"] == total
    on_disk = {p.name for p in (tiny.dir / "tfjs").iterdir()}
    assert on_disk == {"model.json"} | {Path(w["path"]).name for w in tj["weights"]}


def test_sample_inputs_and_reference_outputs(tiny) -> None:
    spec = get_spec("tiny_cnn")
    want = make_inputs(spec.inputs, tiny.data["seed"])
    got = tiny.sample_inputs()
    assert len(got) == 1 and got[0].dtype == np.float32 and np.array_equal(got[0], want[0])
    s = tiny.data["sample_inputs"][0]
    assert s["path"] == "input_0.bin" and s["sha256"] == file_sha256(tiny.dir / "input_0.bin")
    assert (tiny.dir / "input_0.bin").stat().st_size == 32 * 32 * 3 * 4
    ref = tiny.reference_outputs()
    assert ref[0].shape == (1, 10) and abs(float(ref[0].sum()) - 1.0) < 1e-5  # softmax
    assert tiny.data["reference_outputs"][0]["path"] == "reference_output_0.bin"


def test_cross_format_agreement(tiny) -> None:
    """Run each file independently of the build's own checks and compare with the Keras reference."""
    x = tiny.sample_inputs()
    ref = tiny.reference_outputs()[0]
    peak = float(np.abs(ref).max())
    for fmt, tol in (("tflite", 1e-4), ("tflite_fp16", 2e-2), ("tflite_int8", 0.5)):
        out = run_tflite(tiny.file(fmt), tiny.io_names(fmt), x)[0]
        assert out.shape == ref.shape
        assert np.max(np.abs(out - ref)) <= tol * peak, fmt
    out = run_onnx(tiny.file("onnx"), tiny.io_names("onnx"), x)[0]
    assert np.max(np.abs(out - ref)) <= 1e-4 * peak
    assert int(np.argmax(out)) == int(np.argmax(ref))
    for fmt in ("tflite", "tflite_fp16", "tflite_int8", "onnx"):
        v = tiny.data["verification"][fmt]
        assert v["ok"] is True and 0 <= v["max_abs_diff"] <= v["tolerance_rel"] * peak


def test_tflite_op_versions_recorded(tiny) -> None:
    ops = {fmt: tiny.data["verification"][fmt]["op_versions"] for fmt in ("tflite", "tflite_fp16", "tflite_int8")}
    assert {"CONV_2D", "SOFTMAX", "FULLY_CONNECTED"} <= set(ops["tflite"])
    assert all(isinstance(v, int) and v >= 1 for v in ops["tflite"].values())
    # dynamic-range int8 needs hybrid kernels: a newer CONV_2D version than fp32
    assert ops["tflite_int8"]["CONV_2D"] > ops["tflite"]["CONV_2D"]
    assert "DEQUANTIZE" in ops["tflite_fp16"]  # fp16 weights are dequantized at load


def test_io_names_in_canonical_order(tiny) -> None:
    assert tiny.io_names("onnx") == {"inputs": ["input"], "outputs": ["probabilities"]}
    assert tiny.io_names("tflite")["inputs"] == ["serving_default_input:0"]
    assert len(tiny.io_names("tflite")["outputs"]) == 1
    mj = json.loads(tiny.file("tfjs").read_text())
    sig = mj["signature"]
    assert tiny.io_names("tfjs") == {"inputs": [sig["inputs"]["input"]["name"]],
                                     "outputs": [sig["outputs"]["probabilities"]["name"]]}


def test_tfjs_graph_is_wasm_safe(tiny) -> None:
    v = tiny.data["verification"]["tfjs"]
    assert "Einsum" not in v["ops"] and "Erf" not in v["ops"] and v["risky_ops"] == {}
    mj = json.loads(tiny.file("tfjs").read_text())
    ops = {n["op"] for n in mj["modelTopology"]["node"]}
    assert ops == set(v["ops"])
    weights = {w["name"]: w["shape"] for g in mj["weightsManifest"] for w in g["weights"]}
    for n in mj["modelTopology"]["node"]:  # every fused op's bias is rank 1 (the wasm backend needs it)
        if n["op"].startswith("_Fused") or n["op"].startswith("Fused"):
            bias = n["input"][2].split(":")[0]
            if bias in weights:
                assert len(weights[bias]) == 1, n["name"]


def test_tfjs_checked_in_node_when_available(tiny) -> None:
    from mobile_webinfer.models.tfjs_check import node_modules_dir

    v = tiny.data["verification"]["tfjs"]
    if shutil.which("node") is None or node_modules_dir() is None:
        assert v["checked"] is False and v["reason"]
        pytest.skip("node or pages/node_modules missing: TF.js not run")
    assert v["checked"] is True and v["ok"] is True
    assert set(v["backends"]) == {"cpu", "wasm"}
    peak = float(np.abs(tiny.reference_outputs()[0]).max())
    assert all(b["max_abs_diff"] <= 1e-4 * peak for b in v["backends"].values())


def test_idempotent_second_call_is_fast(tiny_models_dir: Path, tiny) -> None:
    mtimes = {p: p.stat().st_mtime_ns for p in tiny.dir.rglob("*") if p.is_file()}
    assert not needs_build("tiny_cnn", models_dir=tiny_models_dir)
    t0 = time.monotonic()
    again = ensure_built("tiny_cnn", models_dir=tiny_models_dir)
    assert time.monotonic() - t0 < 1.0
    assert again.data["built_at"] == tiny.data["built_at"]
    assert {p: p.stat().st_mtime_ns for p in tiny.dir.rglob("*") if p.is_file()} == mtimes


@pytest.fixture()
def own_build(tmp_path: Path, tiny_models_dir: Path) -> Path:
    """A private copy of the built tiny_cnn (tests that rebuild or damage it)."""
    root = tmp_path / "models"
    root.mkdir()
    shutil.copytree(tiny_models_dir / "tiny_cnn", root / "tiny_cnn")
    return root


def test_force_rebuild_is_deterministic(own_build: Path) -> None:
    before = load_manifest("tiny_cnn", own_build)
    shutil.copyfile(before.file("onnx"), own_build / "onnx_before.onnx")
    (own_build / ".tiny_cnn.build-killed" / "junk").mkdir(parents=True)  # left by a killed build
    time.sleep(1.1)  # built_at has one-second resolution
    after = ensure_built("tiny_cnn", models_dir=own_build, force=True)
    assert after.data["built_at"] != before.data["built_at"]
    # same seed -> same weights -> same files and same sample input (tf2onnx numbers its
    # folded constants in hash order, so ONNX bytes vary: its outputs must not)
    for fmt in ("tflite", "tflite_fp16", "tflite_int8"):
        assert after.sha256(fmt) == before.sha256(fmt), fmt
    x = after.sample_inputs()
    assert np.array_equal(run_onnx(after.file("onnx"), after.io_names("onnx"), x)[0],
                          run_onnx(own_build / "onnx_before.onnx", before.io_names("onnx"), x)[0])
    assert [w["sha256"] for w in after.data["files"]["tfjs"]["weights"]] == \
        [w["sha256"] for w in before.data["files"]["tfjs"]["weights"]]
    assert after.data["sample_inputs"] == before.data["sample_inputs"]
    assert not [p for p in own_build.iterdir() if p.name.startswith(".tiny_cnn.")]


def test_missing_file_triggers_rebuild(own_build: Path) -> None:
    (own_build / "tiny_cnn" / "model.onnx").unlink()
    assert needs_build("tiny_cnn", models_dir=own_build)
    with pytest.raises(ModelError, match="missing"):
        load_manifest("tiny_cnn", own_build).file("onnx")
    m = ensure_built("tiny_cnn", models_dir=own_build)
    assert m.file("onnx").is_file() and not needs_build("tiny_cnn", models_dir=own_build)


def test_failed_build_leaves_no_half_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_a, **_k):
        raise ModelError("simulated ONNX failure")

    monkeypatch.setattr(convert, "to_onnx", boom)
    with pytest.raises(ModelError, match="simulated"):
        ensure_built("tiny_cnn", models_dir=tmp_path)
    assert load_manifest("tiny_cnn", tmp_path) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == [".locks"]


def test_failed_rebuild_keeps_the_old_model(own_build: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = load_manifest("tiny_cnn", own_build)

    def boom(*_a, **_k):
        raise ModelError("simulated TF.js failure")

    monkeypatch.setattr(convert, "to_tfjs", boom)
    with pytest.raises(ModelError):
        ensure_built("tiny_cnn", models_dir=own_build, force=True)
    still = load_manifest("tiny_cnn", own_build)
    assert still is not None and still.data == before.data and not still.verify_files()


def test_format_subset_then_all(tmp_path: Path) -> None:
    m = ensure_built("tiny_cnn", models_dir=tmp_path, formats=["tflite"])
    assert m.formats == ["tflite"]
    assert sorted(p.name for p in m.dir.iterdir()) == ["input_0.bin", "manifest.json", "model.tflite",
                                                        "reference_output_0.bin"]
    assert needs_build("tiny_cnn", models_dir=tmp_path)  # default asks for every format
    assert not needs_build("tiny_cnn", models_dir=tmp_path, formats=["tflite"])
    with pytest.raises(UsageError, match="unknown format"):
        ensure_built("tiny_cnn", models_dir=tmp_path, formats=["tflite", "pt"])


def test_unknown_and_bad_names(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown model 'nope'.*tiny_cnn"):
        ensure_built("nope", models_dir=tmp_path)
    with pytest.raises(UsageError, match="bad model name"):
        ensure_built("../x", models_dir=tmp_path)


@pytest.mark.parametrize("key", ["arch_version", "pipeline_version", "seed"])
def test_stale_build_is_rebuilt(own_build: Path, key: str) -> None:
    mpath = own_build / "tiny_cnn" / "manifest.json"
    data = json.loads(mpath.read_text())
    data[key] = data[key] + 100
    mpath.write_text(json.dumps(data))
    assert needs_build("tiny_cnn", models_dir=own_build)


def test_newer_schema_is_refused(own_build: Path) -> None:
    mpath = own_build / "tiny_cnn" / "manifest.json"
    data = json.loads(mpath.read_text())
    data["schema_version"] = 99
    mpath.write_text(json.dumps(data))
    with pytest.raises(ModelError, match="newer"):
        load_manifest("tiny_cnn", own_build)


def test_env_models_dir_is_the_default(monkeypatch: pytest.MonkeyPatch, tiny_models_dir: Path) -> None:
    monkeypatch.setenv("MWI_MODELS_DIR", str(tiny_models_dir))
    m = load_manifest("tiny_cnn")
    assert m is not None and m.dir == tiny_models_dir / "tiny_cnn"
    assert os.path.samefile(ensure_built("tiny_cnn").dir, tiny_models_dir / "tiny_cnn")


def test_isolated_conversions_give_the_same_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny) -> None:
    """Big models convert in child processes; the result must not depend on it."""
    from mobile_webinfer.models import build as build_mod

    monkeypatch.setattr(build_mod, "ISOLATE_PARAMS", 0)
    m = ensure_built("tiny_cnn", models_dir=tmp_path, formats=["tflite", "tfjs"])
    assert m.sha256("tflite") == tiny.sha256("tflite")
    assert m.data["flops"] == tiny.data["flops"]
    assert m.data["verification"]["tfjs"]["ops"] == tiny.data["verification"]["tfjs"]["ops"]


def test_damaged_manifest_is_rebuilt(own_build: Path) -> None:
    (own_build / "tiny_cnn" / "manifest.json").write_text('{"half": ')
    assert needs_build("tiny_cnn", models_dir=own_build)
    m = ensure_built("tiny_cnn", models_dir=own_build, formats=["tflite"])
    assert m.formats == ["tflite"] and load_manifest("tiny_cnn", own_build) is not None
