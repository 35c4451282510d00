"""The per-model manifest (``<models_dir>/<name>/manifest.json``): files, hashes, io, checks."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError
from ..files import file_sha256
from ..paths import models_dir as default_models_dir

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"




def file_entry(root: Path, rel: str) -> dict[str, Any]:
    """{"path", "bytes", "sha256"} of one file under ``root``."""
    p = root / rel
    return {"path": rel, "bytes": p.stat().st_size, "sha256": file_sha256(p)}


@dataclass(frozen=True)
class ModelManifest:
    """A built (or user-added) model: its folder and its manifest data."""

    name: str
    dir: Path
    data: dict[str, Any]

    @property
    def formats(self) -> list[str]:
        return list((self.data.get("files") or {}).keys())

    @property
    def inputs(self) -> list[dict[str, Any]]:
        return list(self.data.get("inputs") or [])

    @property
    def outputs(self) -> list[dict[str, Any]]:
        return list(self.data.get("outputs") or [])

    @property
    def user_model(self) -> bool:
        return bool(self.data.get("user_model"))

    def _entry(self, fmt: str) -> dict[str, Any]:
        entry = (self.data.get("files") or {}).get(fmt)
        if not entry:
            have = ", ".join(self.formats) or "none"
            raise ModelError(f"model {self.name} has no {fmt} file (has: {have})")
        return entry

    def file(self, fmt: str) -> Path:
        """Path of the format's main file (``tfjs`` -> model.json); ModelError if missing."""
        path = self.dir / self._entry(fmt)["path"]
        if not path.is_file():
            raise ModelError(f"model {self.name}: {fmt} file {path} is missing; rebuild with `mwi models build "
                             f"{self.name} --force`")
        return path

    def size_bytes(self, fmt: str) -> int:
        """Bytes of the format (for tfjs: model.json plus every weight file)."""
        return int(self._entry(fmt)["bytes"])

    def sha256(self, fmt: str) -> str:
        return str(self._entry(fmt)["sha256"])

    def io_names(self, fmt: str) -> dict[str, list[str]]:
        """Per-format tensor names, in canonical input/output order."""
        names = (self.data.get("io_names") or {}).get(fmt)
        if not names:
            raise ModelError(f"model {self.name} has no io names for {fmt}")
        return names

    def sample_inputs(self) -> list[np.ndarray]:
        """The seeded sample inputs, canonical order."""
        from .inputs import read_bin

        return [read_bin(self.dir / s["path"], s["shape"], s["dtype"]) for s in self.data.get("sample_inputs", [])]

    def reference_outputs(self) -> list[np.ndarray]:
        """Reference outputs (Keras, or the user's file) for the sample inputs, canonical order."""
        from .inputs import read_bin

        return [read_bin(self.dir / r["path"], r["shape"], r["dtype"])
                for r in self.data.get("reference_outputs", [])]

    def verify_files(self, *, hashes: bool = False) -> list[str]:
        """Problems with the files on disk (missing, size or, with ``hashes``, sha256 differs)."""
        problems = []
        for fmt, entry in (self.data.get("files") or {}).items():
            # tfjs: "bytes" counts model.json and its weights; each weight has its own size.
            parts = [(entry, fmt != "tfjs")] + [(w, True) for w in entry.get("weights") or []]
            for part, check_size in parts:
                p = self.dir / part["path"]
                if not p.is_file():
                    problems.append(f"{fmt}: {part['path']} missing")
                elif check_size and p.stat().st_size != part["bytes"]:
                    problems.append(f"{fmt}: {part['path']} has {p.stat().st_size} bytes, manifest says "
                                    f"{part['bytes']}")
                elif hashes and file_sha256(p) != part["sha256"]:
                    problems.append(f"{fmt}: {part['path']} sha256 differs from the manifest")
        for s in list(self.data.get("sample_inputs", [])) + list(self.data.get("reference_outputs", [])):
            if not (self.dir / s["path"]).is_file():
                problems.append(f"{s['path']} missing")
        return problems


class NewerManifestError(ModelError):
    """A manifest written by a newer mwi (its schema_version is higher than this one reads)."""


def manifest_path(name: str, models_dir: Path | None = None) -> Path:
    return Path(models_dir or default_models_dir()) / name / MANIFEST


def read_manifest_file(path: Path) -> ModelManifest:
    """Read one manifest.json; ModelError when unreadable or from a newer schema."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: unreadable manifest ({exc})") from exc
    if not isinstance(data, dict) or "name" not in data:
        raise ModelError(f"{path}: not a model manifest")
    ver = data.get("schema_version")
    if not isinstance(ver, int) or ver < 1:
        raise ModelError(f"{path}: manifest has no valid schema_version ({ver!r})")
    if ver > SCHEMA_VERSION:
        raise NewerManifestError(f"{path}: manifest schema_version {ver} is newer than this mwi reads "
                                 f"({SCHEMA_VERSION})")
    return ModelManifest(name=str(data["name"]), dir=path.parent, data=data)


def load_manifest(name: str, models_dir: Path | None = None) -> ModelManifest | None:
    """The manifest of a built model, or None when the model is not built."""
    path = manifest_path(name, models_dir)
    if not path.is_file():
        return None
    return read_manifest_file(path)


def load_manifest_for_build(name: str, models_dir: Path | None = None) -> ModelManifest | None:
    """Like load_manifest, but a damaged manifest counts as not built (the build replaces it);
    a newer schema still raises."""
    try:
        return load_manifest(name, models_dir)
    except NewerManifestError:
        raise
    except ModelError:
        return None


def write_manifest(model_dir: Path, data: dict[str, Any]) -> None:
    """Write manifest.json atomically (temp file + rename)."""
    fd, tmp = tempfile.mkstemp(prefix=".manifest-", suffix=".json", dir=model_dir)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1, sort_keys=False)
            f.write("\n")
        os.replace(tmp, model_dir / MANIFEST)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
