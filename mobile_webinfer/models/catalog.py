"""The model catalog: the zoo's architectures (archs/) plus models users added with `mwi models add`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..errors import ModelError, UsageError
from ..paths import models_dir as default_models_dir
from .archs import Arch, ArchSpec, available_modules, load_arch
from .manifest import MANIFEST, ModelManifest, load_manifest, read_manifest_file

MODEL_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_ARCHS: dict[str, Arch] = {}


def _arch(module: str) -> Arch:
    if module not in _ARCHS:
        _ARCHS[module] = load_arch(module)
    return _ARCHS[module]


def list_specs() -> list[ArchSpec]:
    """Every architecture of the zoo whose module exists, in catalog order."""
    return [_arch(m).spec for m in available_modules()]


def known_names() -> list[str]:
    return [s.name for s in list_specs()]


def get_arch(name: str) -> Arch:
    """The architecture ``name``; UsageError listing the known names when unknown."""
    if name not in available_modules():
        raise UsageError(f"unknown model {name!r}; known: {', '.join(known_names())}")
    return _arch(name)


def get_spec(name: str) -> ArchSpec:
    """The ArchSpec of ``name``; UsageError listing the known names when unknown."""
    return get_arch(name).spec


def validate_model_name(name: str) -> str:
    if not MODEL_NAME_RE.match(name):
        raise UsageError(f"bad model name {name!r}: use lowercase letters, digits and _ (start with a letter)")
    return name


def user_models(models_dir: Path | None = None) -> list[ModelManifest]:
    """Models registered with `mwi models add` (manifests with user_model true), by name."""
    root = Path(models_dir or default_models_dir())
    out: list[ModelManifest] = []
    if not root.is_dir():
        return out
    for path in sorted(root.glob(f"*/{MANIFEST}")):
        if path.parent.name.startswith("."):
            continue
        try:
            m = read_manifest_file(path)
        except ModelError:
            continue
        if m.user_model:
            out.append(m)
    return out


def all_model_names(models_dir: Path | None = None) -> list[str]:
    """Zoo names then user-added names."""
    names = known_names()
    return names + [m.name for m in user_models(models_dir) if m.name not in names]


def check_model_name(name: str, models_dir: Path | None = None) -> str:
    """``name`` if it is a zoo model or a user-added one; UsageError listing all names otherwise."""
    if name in available_modules():
        return name
    if MODEL_NAME_RE.match(name):
        try:
            m = load_manifest(name, models_dir)
        except ModelError:
            m = None
        if m is not None and m.user_model:
            return name
    if "/" in name or "." in name or Path(name).expanduser().exists():  # a file, not a name
        raise UsageError(f"{name!r} is a file path, not a model name: add it first with `mwi models add {name}`, "
                         f"then use the name it prints")
    raise UsageError(f"unknown model {name!r}; known: {', '.join(all_model_names(models_dir))}; a model file "
                     f"of your own: `mwi models add FILE`")


def _files_summary(m: ModelManifest | None) -> dict[str, Any]:
    if m is None:
        return {}
    return {fmt: {"path": e["path"], "bytes": e["bytes"], "sha256": e["sha256"]}
            for fmt, e in (m.data.get("files") or {}).items()}


def model_summaries(models_dir: Path | None = None) -> list[dict[str, Any]]:
    """One dict per model for `mwi models list --json` (contract: name, task, params, flops, built,
    files, inputs), plus reference_params, build_seconds, user_model."""
    rows = []
    for spec in list_specs():
        try:
            m = load_manifest(spec.name, models_dir)
        except ModelError:
            m = None
        built = m is not None and not m.user_model and not m.verify_files()
        data = m.data if (m is not None and built) else {}
        rows.append({
            "name": spec.name,
            "task": spec.task,
            "params": data.get("params"),
            "flops": data.get("flops"),
            "built": built,
            "files": _files_summary(m) if built else {},
            "inputs": data.get("inputs") or [i.to_dict() for i in spec.inputs],
            "outputs": data.get("outputs") or [],
            "reference_params": spec.reference_params,
            "build_seconds": data.get("build_seconds"),
            "user_model": False,
        })
    zoo = {r["name"] for r in rows}
    for m in user_models(models_dir):
        if m.name in zoo:
            continue
        rows.append({
            "name": m.name,
            "task": m.data.get("task"),
            "params": m.data.get("params"),
            "flops": m.data.get("flops"),
            "built": not m.verify_files(),
            "files": _files_summary(m),
            "inputs": m.inputs,
            "outputs": m.outputs,
            "reference_params": None,
            "build_seconds": None,
            "user_model": True,
        })
    return rows
