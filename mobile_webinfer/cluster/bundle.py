"""Models by content: the driver packs a built model's files, a node installs and checks them.

A bundle is the model's manifest plus the bytes of every file it names (each format's main
file and weights, the seeded sample inputs, the reference outputs).  A node that already
holds the same files (same sha256) uses its own copy; otherwise it writes the bundle into its
own models directory and checks every sha256 against the driver's manifest before use.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ModelError
from ..files import file_sha256
from ..models.manifest import ModelManifest, load_manifest, write_manifest


@dataclass(frozen=True)
class ModelBundle:
    name: str
    manifest: dict[str, Any]
    files: Mapping[str, bytes]  # relative path -> bytes

    @property
    def hashes(self) -> dict[str, str]:
        """Format -> sha256 of its main file (what cells record as `model_sha256`)."""
        return {fmt: str(e["sha256"]) for fmt, e in (self.manifest.get("files") or {}).items()}


def _parts(data: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    """(relative path, sha256 or None) of every file a manifest names."""
    for entry in (data.get("files") or {}).values():
        yield entry["path"], entry.get("sha256")
        for w in entry.get("weights") or []:
            yield w["path"], w.get("sha256")
    for s in list(data.get("sample_inputs") or []) + list(data.get("reference_outputs") or []):
        yield s["path"], s.get("sha256")


def _safe_rel(rel: str) -> str:
    p = Path(rel)
    if p.is_absolute() or ".." in p.parts:
        raise ModelError(f"model bundle names a path outside its folder: {rel!r}")
    return rel


def pack(mf: ModelManifest) -> ModelBundle:
    """The driver's built model as a bundle (files read from its models directory)."""
    files = {rel: (mf.dir / _safe_rel(rel)).read_bytes() for rel, _sha in _parts(mf.data)}
    return ModelBundle(mf.name, dict(mf.data), files)


def _matches(mf: ModelManifest | None, bundle: ModelBundle) -> bool:
    if mf is None:
        return False
    mine = {fmt: str(e.get("sha256")) for fmt, e in (mf.data.get("files") or {}).items()}
    return mine == bundle.hashes and not mf.verify_files(hashes=True)


def install(bundle: ModelBundle, models_dir: Path) -> tuple[ModelManifest, bool]:
    """The bundle's model in `models_dir` (written there unless the same files are already
    there); returns (manifest, written).  ModelError when a file's sha256 is not the manifest's."""
    from ..models.build import model_lock

    if _matches(load_manifest(bundle.name, models_dir), bundle):
        return load_manifest(bundle.name, models_dir), False  # type: ignore[return-value]
    target = models_dir / bundle.name
    target.mkdir(parents=True, exist_ok=True)
    with model_lock(bundle.name, models_dir):
        for rel, want in _parts(bundle.manifest):
            data = bundle.files.get(rel)
            if data is None:
                raise ModelError(f"model {bundle.name}: bundle lacks {rel}")
            dest = target / _safe_rel(rel)
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
            tmp.write_bytes(data)
            tmp.replace(dest)
            if want is not None and file_sha256(dest) != want:
                raise ModelError(f"model {bundle.name}: {rel} sha256 differs from the driver's manifest")
        write_manifest(target, dict(bundle.manifest))
    mf = load_manifest(bundle.name, models_dir)
    if mf is None or not _matches(mf, bundle):
        raise ModelError(f"model {bundle.name}: installed files do not match the driver's manifest")
    return mf, True
