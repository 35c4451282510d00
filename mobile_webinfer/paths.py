"""Where things live: the repo's pages, device profiles, the model cache, results."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
PAGES_DIR = Path(os.environ.get("MWI_PAGES_DIR", REPO_ROOT / "pages"))
PROFILES_DIR = Path(os.environ.get("MWI_PROFILES_DIR", REPO_ROOT / "device_profiles"))


def cache_dir() -> Path:
    """User cache root (models, benchmark_model binaries).  MWI_CACHE overrides."""
    env = os.environ.get("MWI_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "mobile-webinfer"


def models_dir() -> Path:
    """Built models: one folder per model with manifest.json.  MWI_MODELS_DIR overrides."""
    env = os.environ.get("MWI_MODELS_DIR")
    return Path(env).expanduser() if env else cache_dir() / "models"


def default_out_root() -> Path:
    return Path(os.environ.get("MWI_OUT", "out"))
