"""Fixtures of the model tests: one tiny_cnn build shared by the module's tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models dir with tiny_cnn built in every format (built once per session)."""
    from mobile_webinfer.models.build import ensure_built

    root = tmp_path_factory.mktemp("models")
    ensure_built("tiny_cnn", models_dir=root)
    return root


@pytest.fixture(scope="session")
def tiny(tiny_models_dir: Path):
    from mobile_webinfer.models.manifest import load_manifest

    m = load_manifest("tiny_cnn", tiny_models_dir)
    assert m is not None
    return m
