"""`mwi models list/build/add` through the real CLI, and user-added models."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mobile_webinfer.errors import UsageError
from mobile_webinfer.models.build import ensure_built, run_tflite
from mobile_webinfer.models.manifest import file_sha256, load_manifest
from mobile_webinfer.models.user import add_user_model, detect_kind

REPO = Path(__file__).resolve().parents[2]
CONTRACT_NAMES = ["mobilenet_v2", "resnet50", "vgg16", "efficientnet_v2_b0", "ssd_mobilenet_v2", "yolov5s",
                  "movenet_thunder", "esrgan", "mobilebert", "tiny_cnn"]


def mwi(*args: str, models_dir: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, MWI_MODELS_DIR=str(models_dir))
    env.pop("MWI_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "mobile_webinfer", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture()
def models_copy(tmp_path: Path, tiny_models_dir: Path) -> Path:
    root = tmp_path / "models"
    root.mkdir()
    shutil.copytree(tiny_models_dir / "tiny_cnn", root / "tiny_cnn")
    return root


def test_list_json_contract(models_copy: Path) -> None:
    res = mwi("models", "list", "--json", models_dir=models_copy)
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    by = {r["name"]: r for r in rows}
    assert set(CONTRACT_NAMES) <= set(by)
    for r in rows:
        for key in ("name", "task", "params", "flops", "built", "files", "inputs"):
            assert key in r, (r["name"], key)
        assert isinstance(r["built"], bool)
        for inp in r["inputs"]:
            assert set(inp) == {"name", "shape", "dtype"}
    t = by["tiny_cnn"]
    assert t["built"] is True and t["params"] > 0 and t["flops"] > 0
    m = load_manifest("tiny_cnn", models_copy)
    assert set(t["files"]) == {"tflite", "tflite_fp16", "tflite_int8", "tfjs", "onnx"}
    for fmt, f in t["files"].items():
        assert set(f) == {"path", "bytes", "sha256"}
        assert f["sha256"] == m.sha256(fmt) and f["bytes"] == m.size_bytes(fmt)
    mb = by["mobilenet_v2"]
    assert mb["built"] is False and mb["files"] == {} and mb["params"] is None
    assert mb["inputs"] == [{"name": "input", "shape": [1, 224, 224, 3], "dtype": "float32"}]
    assert by["mobilebert"]["task"] and len(by["mobilebert"]["inputs"]) == 3


def test_list_table(models_copy: Path) -> None:
    res = mwi("models", "list", models_dir=models_copy)
    assert res.returncode == 0, res.stderr
    for name in CONTRACT_NAMES:
        assert name in res.stdout
    line = next(ln for ln in res.stdout.splitlines() if "tiny_cnn" in ln)
    assert "yes" in line and "KiB" in line


def test_list_marks_damaged_model_unbuilt(models_copy: Path) -> None:
    (models_copy / "tiny_cnn" / "model.tflite").unlink()
    rows = json.loads(mwi("models", "list", "--json", models_dir=models_copy).stdout)
    assert next(r for r in rows if r["name"] == "tiny_cnn")["built"] is False


def test_build_already_built_is_a_noop(models_copy: Path) -> None:
    before = (models_copy / "tiny_cnn" / "manifest.json").read_text()
    res = mwi("models", "build", "tiny_cnn", models_dir=models_copy)
    assert res.returncode == 0, res.stderr
    assert "already built" in res.stderr
    assert (models_copy / "tiny_cnn" / "manifest.json").read_text() == before


def test_build_force_and_formats(tmp_path: Path) -> None:
    res = mwi("models", "build", "tiny_cnn", "--formats", "tflite,onnx", models_dir=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "built in" in res.stderr
    assert load_manifest("tiny_cnn", tmp_path).formats == ["tflite", "onnx"]
    first = load_manifest("tiny_cnn", tmp_path).data["built_at"]
    res = mwi("models", "build", "tiny_cnn", "--formats", "tflite,onnx", "--force", models_dir=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "built in" in res.stderr
    assert load_manifest("tiny_cnn", tmp_path).data["built_at"] >= first


@pytest.mark.parametrize("args, needle", [
    (["models", "build", "nope"], "unknown model 'nope'"),
    (["models", "build"], "name the models to build, or --all"),
    (["models", "build", "tiny_cnn", "--all"], "not both"),
    (["models", "build", "tiny_cnn", "--formats", "pt"], "unknown format"),
    (["models", "add", "/no/such/file.tflite"], "no such file"),
])
def test_bad_input_is_one_line_error(tmp_path: Path, args: list[str], needle: str) -> None:
    res = mwi(*args, models_dir=tmp_path)
    assert res.returncode == 2
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("mwi: error:")]
    assert len(lines) == 1 and needle in lines[0], res.stderr
    assert "Traceback" not in res.stderr


def test_help_texts() -> None:
    for args in (["models"], ["models", "--help"], ["models", "list", "--help"], ["models", "build", "--help"],
                 ["models", "add", "--help"]):
        res = subprocess.run([sys.executable, "-m", "mobile_webinfer", *args], cwd=REPO, capture_output=True,
                             text=True, timeout=60)
        assert res.returncode == 0 and "Usage" in res.stdout
        if len(args) > 2:
            assert "Example: mwi models" in res.stdout


# ---- user models ---------------------------------------------------------------------------


def test_add_tflite_via_cli(tmp_path: Path, tiny) -> None:
    src = tmp_path / "My-Net.tflite"
    shutil.copyfile(tiny.file("tflite"), src)
    models = tmp_path / "models"
    res = mwi("models", "add", str(src), models_dir=models)
    assert res.returncode == 0, res.stderr
    m = load_manifest("my_net", models)
    assert m is not None and m.user_model and m.formats == ["tflite"]
    assert m.sha256("tflite") == file_sha256(src) == tiny.sha256("tflite")
    assert m.data["inputs"] == [{"name": "input", "shape": [1, 32, 32, 3], "dtype": "float32"}]
    assert m.data["outputs"] == [{"name": "probabilities", "shape": [1, 10], "dtype": "float32"}]
    assert m.io_names("tflite") == tiny.io_names("tflite")
    # elements of the file's constant tensors: Keras parameters less what BatchNorm folding removed
    assert 0.9 * tiny.data["params"] < m.data["params"] <= tiny.data["params"]
    x = m.sample_inputs()
    assert x[0].shape == (1, 32, 32, 3)
    ref = m.reference_outputs()
    assert np.allclose(ref[0], run_tflite(m.file("tflite"), m.io_names("tflite"), x)[0])
    rows = json.loads(mwi("models", "list", "--json", models_dir=models).stdout)
    row = next(r for r in rows if r["name"] == "my_net")
    assert row["built"] is True and row["user_model"] is True and set(row["files"]) == {"tflite"}
    # ensure_built returns a user model as it is
    assert ensure_built("my_net", models_dir=models).data == m.data
    # same name again needs --force
    res = mwi("models", "add", str(src), models_dir=models)
    assert res.returncode == 2 and "--force" in res.stderr
    res = mwi("models", "add", str(src), "--force", models_dir=models)
    assert res.returncode == 0, res.stderr


def test_add_onnx_and_tfjs(tmp_path: Path, tiny) -> None:
    models = tmp_path / "models"
    m = add_user_model(tiny.file("onnx"), name="tiny_onnx", models_dir=models)
    assert m.formats == ["onnx"] and m.io_names("onnx") == {"inputs": ["input"], "outputs": ["probabilities"]}
    assert 0.9 * tiny.data["params"] < m.data["params"] <= tiny.data["params"]
    assert m.data["inputs"] == tiny.data["inputs"]
    assert m.reference_outputs()[0].shape == (1, 10)
    t = add_user_model(tiny.file("tfjs"), name="tiny_tfjs", models_dir=models)
    assert t.formats == ["tfjs"] and (t.dir / "tfjs" / "model.json").is_file()
    assert not t.verify_files(hashes=True)
    assert t.io_names("tfjs") == tiny.io_names("tfjs")
    assert t.data["inputs"] == tiny.data["inputs"]
    assert t.size_bytes("tfjs") == tiny.size_bytes("tfjs")


def test_add_refuses_bad_files(tmp_path: Path, tiny) -> None:
    models = tmp_path / "models"
    with pytest.raises(UsageError, match="zoo model name"):
        add_user_model(tiny.file("tflite"), name="tiny_cnn", models_dir=models)
    with pytest.raises(UsageError, match="bad model name"):
        add_user_model(tiny.file("tflite"), name="Bad Name", models_dir=models)
    txt = tmp_path / "notes.txt"
    txt.write_text("hello")
    with pytest.raises(UsageError, match="unsupported model file"):
        detect_kind(txt)
    js = tmp_path / "model.json"
    js.write_text(json.dumps({"format": "layers-model", "modelTopology": {}, "weightsManifest": []}))
    with pytest.raises(UsageError, match="only graph models"):
        add_user_model(js, models_dir=models)
    evil = json.loads(tiny.file("tfjs").read_text())
    evil["weightsManifest"][0]["paths"] = ["../../etc/passwd"]
    (tmp_path / "evil").mkdir()
    (tmp_path / "evil" / "model.json").write_text(json.dumps(evil))
    with pytest.raises(UsageError, match="leaves the model folder"):
        add_user_model(tmp_path / "evil" / "model.json", models_dir=models)
    garbage = tmp_path / "garbage.tflite"
    garbage.write_bytes(b"\x00" * 64)
    with pytest.raises(Exception) as err:
        add_user_model(garbage, models_dir=models)
    assert "cannot load" in str(err.value)
    assert not [p for p in models.iterdir() if not p.name.startswith(".locks")] if models.exists() else True


def test_build_goes_on_after_a_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_models_dir: Path) -> None:
    from rich.console import Console

    from mobile_webinfer.errors import ModelError
    from mobile_webinfer.models import view

    root = tmp_path / "models"
    root.mkdir()
    shutil.copytree(tiny_models_dir / "tiny_cnn", root / "tiny_cnn")
    calls = []

    def fake_ensure(name, **_kw):
        calls.append(name)
        if name == "mobilenet_v2":
            raise ModelError("mobilenet_v2: simulated converter failure")
        return load_manifest(name, root)

    monkeypatch.setattr("mobile_webinfer.models.build.ensure_built", fake_ensure)
    console = Console(file=open(os.devnull, "w"), width=200)
    with pytest.raises(ModelError, match="1 of 2 models failed to build: mobilenet_v2"):
        view.build_with_progress(["mobilenet_v2", "tiny_cnn"], all_=False, force=False, formats=None,
                                 models_dir=root, console=console)
    assert calls == ["mobilenet_v2", "tiny_cnn"]


def test_corrupt_manifest_lists_as_unbuilt(models_copy: Path) -> None:
    (models_copy / "tiny_cnn" / "manifest.json").write_text("{not json")
    rows = json.loads(mwi("models", "list", "--json", models_dir=models_copy).stdout)
    assert next(r for r in rows if r["name"] == "tiny_cnn")["built"] is False
