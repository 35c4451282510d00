"""Models: the zoo's seeded architectures, their converted files and manifests.

Public API (TensorFlow is imported only when a model is actually built)::

    list_specs() -> list[ArchSpec]; get_spec(name) -> ArchSpec
    load_manifest(name, models_dir=None) -> ModelManifest | None
    ensure_built(name, *, models_dir=None, force=False, progress=None) -> ModelManifest
    add_user_model(file, name=None, ...) -> ModelManifest
"""

from __future__ import annotations

import os as _os

if not _os.environ.get("MWI_DEBUG"):  # before anything loads TensorFlow: its C++ start-up chatter off
    _os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from .archs import ArchSpec, InputSpec
from .build import ensure_built, needs_build
from .catalog import all_model_names, check_model_name, get_spec, list_specs, model_summaries
from .manifest import ModelManifest, load_manifest
from .user import add_user_model

__all__ = [
    "ArchSpec", "InputSpec", "ModelManifest", "add_user_model", "all_model_names", "check_model_name",
    "ensure_built", "get_spec", "list_specs", "load_manifest", "model_summaries", "needs_build",
]
