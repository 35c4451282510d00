"""File helpers of the base layer: hashes, atomic writes, safe names, timestamps.

Every module that writes a file others read (manifests, run files, caches, model folders)
uses these, so a crash never leaves a half-written file under the final name, and a file
created or renamed is durable once the call returns (its directory is fsynced too).
"""

from __future__ import annotations

import datetime as _dt
import errno
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from .errors import DiskFullError

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(text: str, *, empty: str = "target") -> str:
    """A file-name-safe form of a serial, target or probe name (never empty, no leading dot)."""
    return _SAFE.sub("_", text).strip("._") or empty


def now_iso() -> str:
    """UTC wall-clock time with milliseconds, as stored in records and manifests."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds")


def file_sha256(path: Path | str, chunk: int = 1 << 20) -> str:
    """sha256 of a file, read in chunks (model files reach hundreds of MB)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def fsync_dir(path: Path | str) -> None:
    """Make a create / rename inside `path` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(str(path), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def mkdir_durably(path: Path | str) -> Path:
    """Create a directory (and parents) so that it survives a power cut: each new level's parent is fsynced."""
    path = Path(path)
    missing = []
    p = path
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    path.mkdir(parents=True, exist_ok=True)
    for d in reversed(missing):
        fsync_dir(d.parent)
    return path


def replace_durably(tmp: Path | str, final: Path | str) -> None:
    """Rename `tmp` over `final` and fsync the directory that holds it."""
    os.replace(tmp, final)
    fsync_dir(Path(final).parent)


#: errnos that mean "no room left" (ENOSPC, EDQUOT, EFBIG)
NO_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def disk_full(exc: BaseException, path: Path | str) -> DiskFullError | None:
    """The one-line DiskFullError for an OSError that means the disk is full (None for any other)."""
    if not isinstance(exc, OSError) or exc.errno not in NO_SPACE_ERRNOS:
        return None
    return DiskFullError(f"disk full while writing {path} ({exc.strerror or 'no space left on device'}); "
                         f"nothing half-written was kept; free some space and run again", path=str(path))


def atomic_write_bytes(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Write `data` to a temp file beside `path`, fsync it, (chmod it,) rename it over `path`.
    A full disk is a one-line DiskFullError (the temp file removed, `path` left as it was)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        replace_durably(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        full = disk_full(exc, path)
        if full is not None:
            raise full from None
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def json_default(obj: Any) -> Any:
    """`json.dumps(default=...)` for records: `to_json()` objects, paths, numpy scalars and arrays."""
    if hasattr(obj, "to_json"):
        return obj.to_json()
    if isinstance(obj, Path):
        return str(obj)
    try:
        import numpy as np
    except ImportError:  # pragma: no cover
        np = None  # type: ignore[assignment]
    if np is not None:
        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False, default=json_default) + "\n")
