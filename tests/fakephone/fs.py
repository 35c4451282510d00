"""The fake phone's writable storage: device paths mapped into a host temp dir."""

from __future__ import annotations

import os
import posixpath
import shutil
import stat
import tempfile
from pathlib import Path

WRITABLE = ("/data/local/tmp", "/sdcard", "/storage/emulated/0")
READ_ONLY_DIRS = ("/", "/data", "/data/local", "/storage", "/storage/emulated", "/system",
                  "/system/bin", "/vendor", "/proc", "/sys", "/dev")


class FsError(Exception):
    """A file operation failed; ``str()`` is the toybox-style reason (e.g. 'No such file or directory')."""


class FakeFs:
    """Files under /data/local/tmp and /sdcard live in a temp dir; everything else is read-only."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="fakephone-fs-"))
        for top in ("data/local/tmp", "sdcard"):
            (self.root / top).mkdir(parents=True, exist_ok=True)

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    @staticmethod
    def normalize(path: str, cwd: str = "/") -> str:
        if not path:
            raise FsError("No such file or directory")
        full = posixpath.normpath(posixpath.join(cwd, path))
        if full.startswith("//"):
            full = full[1:]
        if full == "/storage/emulated/0" or full.startswith("/storage/emulated/0/"):
            full = "/sdcard" + full[len("/storage/emulated/0"):]
        return full

    def host_path(self, path: str, *, write: bool = False) -> Path:
        """Host path for a device path; FsError for paths outside the writable areas when writing."""
        full = self.normalize(path)
        inside = any(full == w or full.startswith(w + "/") for w in WRITABLE)
        if not inside:
            if write:
                raise FsError("Read-only file system" if full.startswith(("/system", "/vendor"))
                              else "Permission denied")
            if full in READ_ONLY_DIRS:
                return Path("/nonexistent-fakephone-dir") if full not in ("/",) else self.root
            raise FsError("No such file or directory")
        return self.root / full.lstrip("/")

    def is_virtual_dir(self, path: str) -> bool:
        full = self.normalize(path)
        return full in READ_ONLY_DIRS or full in ("/data/local/tmp", "/sdcard")

    def stat(self, path: str) -> os.stat_result:
        full = self.normalize(path)
        if full in READ_ONLY_DIRS:
            return os.stat(self.root)
        try:
            return os.stat(self.host_path(full))
        except FileNotFoundError:
            raise FsError("No such file or directory") from None

    def read(self, path: str) -> bytes:
        p = self.host_path(path)
        if p.is_dir():
            raise FsError("Is a directory")
        try:
            return p.read_bytes()
        except FileNotFoundError:
            raise FsError("No such file or directory") from None

    def write(self, path: str, data: bytes, mode: int | None = None, append: bool = False,
              mkdirs: bool = False) -> None:
        p = self.host_path(path, write=True)
        if mkdirs:
            p.parent.mkdir(parents=True, exist_ok=True)
        if not p.parent.is_dir():
            raise FsError("No such file or directory")
        if p.is_dir():
            raise FsError("Is a directory")
        with open(p, "ab" if append else "wb") as fh:
            fh.write(data)
        if mode is not None:
            os.chmod(p, stat.S_IMODE(mode))

    def listdir(self, path: str) -> list[str]:
        full = self.normalize(path)
        if full == "/":
            return ["data", "proc", "sdcard", "storage", "sys", "system", "vendor"]
        p = self.host_path(full)
        if not p.exists():
            if full in READ_ONLY_DIRS:
                raise FsError("Permission denied")
            raise FsError("No such file or directory")
        if not p.is_dir():
            return [posixpath.basename(full)]
        return sorted(os.listdir(p))

    def mkdir(self, path: str, parents: bool = False) -> None:
        p = self.host_path(path, write=True)
        try:
            p.mkdir(parents=parents, exist_ok=parents)
        except FileExistsError:
            raise FsError("File exists") from None
        except FileNotFoundError:
            raise FsError("No such file or directory") from None

    def remove(self, path: str, recursive: bool = False) -> None:
        full = self.normalize(path)
        if full in WRITABLE or full == "/sdcard":
            raise FsError("Permission denied")
        p = self.host_path(full, write=True)
        if p.is_dir() and not p.is_symlink():
            if not recursive:
                raise FsError("Is a directory")
            shutil.rmtree(p)
        elif p.exists() or p.is_symlink():
            p.unlink()
        else:
            raise FsError("No such file or directory")

    def chmod(self, path: str, spec: str) -> None:
        p = self.host_path(path, write=True)
        if not p.exists():
            raise FsError("No such file or directory")
        current = stat.S_IMODE(os.stat(p).st_mode)
        if spec.isdigit() and all(c in "01234567" for c in spec):
            new = int(spec, 8)
        elif spec in ("+x", "a+x", "u+x", "ugo+x"):
            new = current | (0o111 if spec != "u+x" else 0o100)
        elif spec in ("-x", "a-x"):
            new = current & ~0o111
        else:
            raise FsError(f"bad mode '{spec}'")
        os.chmod(p, new)
