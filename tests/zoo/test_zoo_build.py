"""Slow: build each zoo model in every format and check the cross-format agreement.

Runs only with MWI_SLOW=1 (minutes per model on 2 cores; vgg16 and esrgan take longest).
The TF.js cpu / wasm check runs in Node when pages/node_modules (or MWI_NODE_MODULES) has TF.js.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mobile_webinfer.models.convert import FORMATS
from mobile_webinfer.models.manifest import load_manifest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("MWI_SLOW") != "1", reason="slow zoo build; set MWI_SLOW=1"),
]

ZOO = ("ssd_mobilenet_v2", "yolov5s", "movenet_thunder", "mobilebert", "efficientnet_v2_b0", "resnet50",
       "esrgan", "vgg16")

# Multiply-adds x 2 at our input sizes, from the published figures (a wide band: profilers differ
# in what they count).
FLOPS_BAND = {
    "resnet50": (7.0e9, 8.5e9),  # 3.9 G MACs at 224
    "vgg16": (29e9, 32e9),  # 15.5 G MACs at 224
    "yolov5s": (3.8e9, 4.5e9),  # 16.5 GFLOPs at 640 -> /4 at 320
    "esrgan": (5.0e11, 6.5e11),  # ~290 G MACs at 128x128 -> 512x512
}


# VGG16's ONNX conversion needs more than 16 GB of RAM (see its SPEC.runtime_support): skipped here.
SKIP_FORMATS = {"vgg16": {"onnx"}}


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    env = os.environ.get("MWI_ZOO_TEST_DIR")  # reuse builds across runs when given
    return Path(env) if env else tmp_path_factory.mktemp("zoo")


@pytest.mark.parametrize("name", ZOO)
def test_builds_in_every_format_and_agrees(name: str, models_dir: Path) -> None:
    formats = [f for f in FORMATS if f not in SKIP_FORMATS.get(name, set())]
    # One fresh process per model: building several big models in one process accumulates TF
    # memory (this folder's run of all eight in one pytest process was OOM-killed at 13 GB).
    code = ("import sys; from pathlib import Path; from mobile_webinfer.models.build import ensure_built; "
            "ensure_built(sys.argv[1], models_dir=Path(sys.argv[2]), formats=sys.argv[3].split(','))")
    proc = subprocess.run([sys.executable, "-c", code, name, str(models_dir), ",".join(formats)],
                          capture_output=True, text=True, timeout=3600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    m = load_manifest(name, models_dir)
    assert m is not None
    data = m.data
    assert set(formats) <= set(data["files"])
    for fmt in formats:
        assert m.file(fmt).is_file() and m.size_bytes(fmt) > 0
        ver = data["verification"][fmt]
        assert ver.get("ok") in (True, None), (fmt, ver)
    for fmt in {"tflite", "tflite_fp16", "tflite_int8", "onnx"} & set(formats):
        assert data["verification"][fmt]["ok"] is True
    tfjs = data["verification"]["tfjs"]
    assert not tfjs.get("risky_ops"), tfjs.get("risky_ops")
    assert not {"Einsum", "Erf", "Softplus"} & set(tfjs["ops"])
    if tfjs.get("checked"):
        assert "wasm" in tfjs["backends"]
        assert all(b["ok"] for b in tfjs["backends"].values()), tfjs["backends"]
    assert data["params"] > 0 and data["seed"] == 0
    # fp32 weights take ~4 bytes per parameter; much less means weights were shared or lost
    # (mobilebert v1 repeated one kernel per shape and its files came out half the size).
    assert m.size_bytes("tflite") >= 0.9 * 4 * data["params"]
    lo_hi = FLOPS_BAND.get(name)
    if lo_hi and data.get("flops"):
        assert lo_hi[0] <= data["flops"] <= lo_hi[1]
