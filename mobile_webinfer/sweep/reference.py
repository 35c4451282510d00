"""Reference outputs for output agreement, kept in the run directory (`outputs/*.npz`).

Order of preference: this target's own native outputs for the model, else host-native
TFLite on the same file and input (phones' benchmark_model writes no outputs), else the
outputs the model build recorded from Keras.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DiskFullError, MwiError
from ..files import disk_full, replace_durably, safe_name
from ..vocab import Cell


def _save(path: Path, outputs: list[np.ndarray]) -> None:
    """Written whole or not at all; a full disk is a one-line DiskFullError (no temp file left)."""
    tmp = path.with_suffix(".tmp.npz")
    arrays: dict[str, Any] = {f"out{i}": o for i, o in enumerate(outputs)}
    try:
        np.savez(tmp, **arrays)
        replace_durably(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        full = disk_full(exc, path)
        if full is None:
            raise
        raise full from None


def _load(path: Path) -> list[np.ndarray]:
    with np.load(path) as data:
        return [data[f"out{i}"] for i in range(len(data.files))]


class References:
    """Reference outputs of one run, shared by the target workers."""

    def __init__(self, outputs_dir: Path):
        self.dir = outputs_dir
        self._lock = threading.Lock()

    def _path(self, target: str, model: str) -> Path:
        return self.dir / f"{safe_name(target)}__{model}.npz"

    def keep_native(self, cell: Cell, outputs: list[np.ndarray]) -> None:
        path = self._path(cell.target, cell.model)
        if not path.exists():
            _save(path, outputs)

    def for_cell(self, cell: Cell, manifest: Any) -> tuple[list[np.ndarray], str] | None:
        path = self._path(cell.target, cell.model)
        if path.exists():
            return _load(path), "native"
        if cell.target != "local":
            host = self.dir / f"host__{cell.model}.npz"
            with self._lock:
                if not host.exists():
                    try:
                        _save(host, _host_outputs(manifest))
                    except DiskFullError:
                        raise
                    except MwiError:
                        pass
            if host.exists():
                return _load(host), "host-native"
        try:
            return manifest.reference_outputs(), "keras-reference"
        except MwiError:
            return None


def _host_outputs(manifest: Any) -> list[np.ndarray]:
    from ..native.host import run_isolated

    io = manifest.data.get("io_names", {}).get("tflite", {})
    res = run_isolated(manifest.file("tflite"),
                       [(manifest.dir / s["path"], s["dtype"], s["shape"]) for s in manifest.data["sample_inputs"]],
                       threads=1, warmups=0, iterations=1, min_iterations=1,
                       output_names=io.get("outputs"), input_names=io.get("inputs"))
    return list(res.outputs)
