"""Root pytest configuration.

Tests never touch the user's model cache or results: one temporary models directory is
shared by the whole session (built models are reused across tests).  Shared fixtures of
an area are plugins owned by that area.
"""

import os
import shutil
import tempfile

pytest_plugins = ["tests.fakephone.pytest_fixtures"]

_TMP_MODELS = None


def pytest_configure(config):
    global _TMP_MODELS
    if not os.environ.get("MWI_MODELS_DIR"):
        _TMP_MODELS = tempfile.mkdtemp(prefix="mwi-test-models-")
        os.environ["MWI_MODELS_DIR"] = _TMP_MODELS


def pytest_unconfigure(config):
    if _TMP_MODELS:
        shutil.rmtree(_TMP_MODELS, ignore_errors=True)
