"""Where things live: the pages, device profiles and examples (a checkout or the installed wheel),
the model cache, results.

This module is the one place that decides.  For each data folder, in order:

1. the environment override (``MWI_PAGES_DIR``, ``MWI_PROFILES_DIR``, ``MWI_EXAMPLES_DIR``);
2. the git checkout this package sits in (``<repo>/pages`` beside ``<repo>/mobile_webinfer``);
3. the package data an installed wheel carries (``mobile_webinfer/_data/<name>``, found through
   ``importlib.resources``; ``setup.py`` copies it there at build time).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
#: the folder inside the package that a wheel's data lives in (setup.py writes it)
DATA_PACKAGE_DIR = "_data"

#: data folder -> (environment override, a file that proves the folder is the real one)
_DATA: dict[str, tuple[str, str]] = {
    "pages": ("MWI_PAGES_DIR", "harness.html"),
    "device_profiles": ("MWI_PROFILES_DIR", "default.toml"),
    "examples": ("MWI_EXAMPLES_DIR", "sweep.toml"),
}


def _packaged(name: str) -> Path | None:
    try:
        root = resources.files("mobile_webinfer").joinpath(DATA_PACKAGE_DIR, name)
    except (ModuleNotFoundError, TypeError):  # pragma: no cover - only in a broken install
        return None
    path = Path(str(root))
    return path if path.is_dir() else None


def data_source(name: str) -> tuple[Path, str]:
    """(folder, where it came from: "env" | "checkout" | "wheel") for pages / device_profiles / examples."""
    env_name, marker = _DATA[name]
    env = os.environ.get(env_name)
    if env:
        return Path(env).expanduser(), "env"
    checkout = REPO_ROOT / name
    if (checkout / marker).is_file():
        return checkout, "checkout"
    packaged = _packaged(name)
    if packaged is not None:
        return packaged, "wheel"
    return checkout, "checkout"  # missing: errors name where a checkout would have it


PAGES_DIR, PAGES_SOURCE = data_source("pages")
PROFILES_DIR, _ = data_source("device_profiles")
EXAMPLES_DIR, _ = data_source("examples")


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
