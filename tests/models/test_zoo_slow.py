"""The full zoo build (slow: tens of minutes on 2 cores).  Run with MWI_SLOW=1."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mobile_webinfer.models.build import ensure_built
from mobile_webinfer.models.catalog import known_names

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not os.environ.get("MWI_SLOW"), reason="full zoo build: set MWI_SLOW=1")]


@pytest.mark.parametrize("name", known_names())
def test_zoo_model_builds_in_every_format(name: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    root = Path(os.environ.get("MWI_SLOW_MODELS_DIR") or tmp_path_factory.mktemp("zoo"))
    m = ensure_built(name, models_dir=root)
    assert sorted(m.formats) == sorted(["tflite", "tflite_fp16", "tflite_int8", "tfjs", "onnx"])
    for fmt in ("tflite", "tflite_fp16", "tflite_int8", "onnx"):
        assert m.data["verification"][fmt]["ok"] is True
    ref = m.data["reference_params"]
    if ref:
        assert abs(m.data["params"] - ref) <= 0.1 * ref
    assert not m.verify_files()
