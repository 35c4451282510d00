"""Seeded sample inputs, stored as raw little-endian bytes the page and native runner both read."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import ModelError
from .archs import InputSpec


def make_input(spec: InputSpec, seed: int, index: int = 0) -> np.ndarray:
    """One seeded input: floats uniform in [lo, hi), integers in [lo, hi) (token ids, 0/1 masks)."""
    rng = np.random.default_rng([seed, index])
    lo, hi = spec.value_range
    dtype = np.dtype(spec.dtype)
    if dtype.kind == "f":
        return rng.uniform(lo, hi, size=spec.shape).astype(dtype)
    info = np.iinfo(dtype)
    ilo, ihi = max(int(np.ceil(lo)), info.min), min(int(np.ceil(hi)), info.max + 1)
    if ihi <= ilo:
        raise ModelError(f"input {spec.name}: no integer in value_range {spec.value_range}")
    return rng.integers(ilo, ihi, size=spec.shape, dtype=np.int64).astype(dtype)


def make_inputs(specs: Sequence[InputSpec], seed: int) -> list[np.ndarray]:
    """Seeded inputs for every input of a model, in canonical order."""
    return [make_input(s, seed, i) for i, s in enumerate(specs)]


def write_bin(arr: np.ndarray, path: Path) -> None:
    """Write ``arr`` as raw little-endian C-order bytes."""
    a = np.ascontiguousarray(arr)
    path.write_bytes(a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes())


def read_bin(path: Path, shape: Sequence[int], dtype: str) -> np.ndarray:
    """Read a raw little-endian tensor written by :func:`write_bin`; checks the size."""
    dt = np.dtype(dtype).newbyteorder("<")
    data = Path(path).read_bytes()
    want = int(np.prod(shape)) * dt.itemsize
    if len(data) != want:
        raise ModelError(f"{path}: {len(data)} bytes, expected {want} for shape {list(shape)} {dtype}")
    return np.frombuffer(data, dtype=dt).reshape(tuple(shape)).astype(np.dtype(dtype))
