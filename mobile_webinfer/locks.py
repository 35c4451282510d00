"""OS file locks of the base layer: one process per run directory, one per phone.

    with run_lock(run_dir), device_lock("R58M12345"):
        ...                     # a second `mwi sweep` on either stops at once (LockBusy)

A lock is `fcntl.flock` on a file under `<cache>/locks/`; the holder writes its pid into the
file, so a second process fails at once with a one-line error that names the holder.  The
kernel drops the lock when the holder exits, however it exits (SIGKILL, crash), so a stale
file never blocks anyone: only a live holder does.  Lock files are left in place (removing
one while another process waits on it would let two processes hold "the same" lock).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import LockBusy, StoreError
from .files import safe_name
from .paths import cache_dir

#: how long a contender waits for a fresh holder to finish writing its pid into the file
_PID_READ_WAIT_S = 0.3


@dataclass(frozen=True)
class HeldLock:
    """A lock this process holds: what it guards and the file it lives in."""

    what: str
    path: Path
    pid: int


def locks_dir() -> Path:
    """`<cache>/locks` (MWI_CACHE / XDG_CACHE_HOME move it with the cache)."""
    return cache_dir() / "locks"


def _key(kind: str, name: str) -> str:
    """A file name for `name` that is safe and unique (two names never share a lock by accident)."""
    digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return f"{kind}-{safe_name(name, empty=kind)[:48]}-{digest}.lock"


def run_lock_path(run_dir: Path | str) -> Path:
    """The lock file that guards one run directory (keyed by its absolute, resolved path)."""
    return locks_dir() / _key("run", str(Path(run_dir).expanduser().resolve()))


def device_lock_path(serial: str) -> Path:
    """The lock file that guards one phone (keyed by its adb serial)."""
    if not serial or "\0" in serial:
        raise StoreError(f"bad serial for a device lock: {serial!r}")
    return locks_dir() / _key("device", serial)


def read_holder(path: Path | str) -> int | None:
    """The pid written in a lock file, or None (no file, empty, not a number)."""
    try:
        text = Path(path).read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None
    first = text.split()[0] if text else ""
    return int(first) if first.isdigit() else None


@contextlib.contextmanager
def hold_lock(path: Path | str, what: str) -> Iterator[HeldLock]:
    """Hold an exclusive flock on `path` for the `with` body; LockBusy at once when taken.

    `what` names the thing guarded in the error ("run directory out/runs/x", "phone R58M12345").
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise StoreError(f"cannot create the lock file {path} for {what}: {exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise StoreError(f"cannot lock {path} for {what}: {exc.strerror or exc}") from None
            holder = _wait_for_holder_pid(path)
            who = f"pid {holder}" if holder is not None else "a process whose pid is not written yet"
            raise LockBusy(f"{what} is in use by another mwi process ({who}); wait for it to finish or "
                           f"stop it, then run again (lock file {path})",
                           holder_pid=holder, lock_path=str(path)) from None
        pid = os.getpid()
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{pid}\n".encode("ascii"), 0)
        os.fsync(fd)
        try:
            yield HeldLock(what, path, pid)
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)      # the pid of a process that no longer holds it would mislead
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _wait_for_holder_pid(path: Path) -> int | None:
    """The holder's pid; a holder that just took the lock may not have written it yet."""
    t_end = time.monotonic() + _PID_READ_WAIT_S
    while True:
        pid = read_holder(path)
        if pid is not None or time.monotonic() >= t_end:
            return pid
        time.sleep(0.02)


def run_lock(run_dir: Path | str) -> contextlib.AbstractContextManager[HeldLock]:
    """One process per run directory (`mwi sweep`, `mwi sweep --resume RUN_DIR`)."""
    return hold_lock(run_lock_path(run_dir), f"run directory {run_dir}")


def device_lock(serial: str) -> contextlib.AbstractContextManager[HeldLock]:
    """One process per phone (its sweep worker, its restore journal)."""
    return hold_lock(device_lock_path(serial), f"phone {serial}")
