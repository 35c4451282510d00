"""Fixtures shared by the fake phone's own tests."""

from __future__ import annotations

import pytest

from ._model import build_tiny_tflite


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, pytestconfig):
    """Built once with TensorFlow (~10 s), then reused from pytest's cache dir when it exists."""
    import hashlib
    import inspect

    from . import _model

    key = hashlib.sha256(inspect.getsource(_model).encode()).hexdigest()[:16]
    cache = getattr(pytestconfig, "cache", None)
    folder = cache.mkdir("fakephone_tiny_model") if cache is not None else tmp_path_factory.mktemp("model")
    path = folder / f"tiny-{key}.tflite"
    if not path.exists():
        build_tiny_tflite(path)
    return path
