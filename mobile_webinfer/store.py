"""Results on disk: a run directory with a manifest and append-only JSON Lines.

    out/runs/<run-id>/
        manifest.json          what was asked, where it ran, versions, model hashes
        results.jsonl          one record per finished cell (local target)
        results.<target>.jsonl one shard per phone (many phones run in parallel)
        samples.jsonl          probe time series, tagged with the cell key
        outputs/               native reference outputs (.npz) for agreement

Records are flushed and fsynced as written, so a crash loses at most the cell in flight.
A torn last line (a crash mid-write) is cut off before the next append.  Readers refuse a
newer schema.  Derived files (CSV, Parquet) are written to a temp file and renamed.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import json
import os
import secrets
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .errors import DiskFullError, StoreError
from .files import (
    atomic_write_json,
    fsync_dir,
    json_default,
    mkdir_durably,
    now_iso,
    safe_name,
)

SCHEMA_VERSION = 2  # 2: typed cell records (records.py); 1 still reads

#: errnos that mean "no room left": the run stops with a one-line DiskFullError
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def resume_command(run_dir: Path | str) -> str:
    """The command that finishes a run later (quoted for a POSIX shell)."""
    import shlex

    return f"mwi sweep --resume {shlex.quote(str(run_dir))}"


@contextlib.contextmanager
def disk_full_guard(run_dir: Path | str, path: Path | str) -> Iterator[None]:
    """Turn ENOSPC / EDQUOT while writing `path` into a DiskFullError naming the run and `--resume`."""
    try:
        yield
    except DiskFullError as exc:  # from an atomic write (files.py): add the run and how to finish it
        if exc.run_dir:
            raise
        raise DiskFullError(f"{exc.one_line().split('; nothing half-written')[0]}; every record written so far "
                            f"is kept in {run_dir}; free some space, then finish the run with: "
                            f"{resume_command(run_dir)}", run_dir=str(run_dir), path=exc.path or str(path)) from None
    except OSError as exc:
        if exc.errno not in _NO_SPACE:
            raise
        raise DiskFullError(f"disk full while writing {path} ({exc.strerror or 'no space left on device'}); "
                            f"every record written so far is kept in {run_dir}; free some space, then finish "
                            f"the run with: {resume_command(run_dir)}", run_dir=str(run_dir), path=str(path)) from None


def new_run_id(label: str = "local") -> str:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{safe_name(label)[:24]}-{secrets.token_hex(2)}"


class JsonlWriter:
    """Append-only JSON Lines with fsync per record and torn-tail repair on open."""

    TAIL = 8 << 20  # a record is far smaller than this; only the tail is read to repair

    def __init__(self, path: Path, *, run_dir: Path | None = None):
        self.path = path
        self.run_dir = run_dir if run_dir is not None else path.parent
        self._lock = threading.Lock()
        self._repaired = False

    def repair(self) -> int:
        """Cut a partial last line (no trailing newline or not JSON).  Returns bytes removed."""
        if not self.path.exists():
            return 0
        size = self.path.stat().st_size
        if size == 0:
            return 0
        start = max(0, size - self.TAIL)
        with open(self.path, "rb") as f:
            f.seek(start)
            data = f.read()
        keep = len(data)
        if not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
        else:
            last_start = data.rfind(b"\n", 0, len(data) - 1) + 1
            try:
                json.loads(data[last_start:])
            except ValueError:
                keep = last_start
        if keep < len(data):
            with open(self.path, "r+b") as f:
                f.truncate(start + keep)
                f.flush()
                os.fsync(f.fileno())
        return len(data) - keep

    def append(self, record: dict) -> None:
        line = json.dumps(record, default=json_default, allow_nan=False, separators=(",", ":"))
        data = (line + "\n").encode("utf-8")
        with self._lock, disk_full_guard(self.run_dir, self.path):
            if not self._repaired:  # a torn tail can only come from a crash before this writer existed
                self.repair()
                self._repaired = True
            created = not self.path.exists()
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                start = os.fstat(fd).st_size
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view):]
                    os.fsync(fd)
                except OSError:
                    # a failed write (disk full) must not leave half a record behind: cut it off
                    with contextlib.suppress(OSError):
                        os.ftruncate(fd, start)
                        os.fsync(fd)
                    raise
            finally:
                os.close(fd)
            if created:  # a new shard / samples file survives a power cut only once its directory is synced
                fsync_dir(self.path.parent)


def read_jsonl(path: Path) -> Iterator[dict]:
    """Records of a JSON Lines file; a torn last line is skipped, a bad middle line is an error."""
    if not path.exists():
        return
    lines = path.read_text(encoding="utf-8").split("\n")
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError as exc:
            if i >= len(lines) - 2:  # the last non-empty line: torn by a crash
                return
            raise StoreError(f"{path} line {i + 1}: not JSON ({exc})") from None
        v = rec.get("schema_version", 1)
        if isinstance(v, int) and v > SCHEMA_VERSION:
            raise StoreError(f"{path} line {i + 1}: schema_version {v} is newer than this mwi reads "
                             f"({SCHEMA_VERSION}); upgrade mobile-webinfer")
        yield rec


class RunStore:
    """One run directory.  Create with `RunStore.create`, reopen with `RunStore.open`."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self._writers: dict[str, JsonlWriter] = {}
        self._manifest_lock = threading.Lock()
        self.failures: dict[str, str] = {}

    # -- lifecycle ---------------------------------------------------------------------
    @classmethod
    def create(cls, out_root: Path, manifest: dict, *, label: str = "local") -> RunStore:
        run_id = new_run_id(label)
        run_dir = Path(out_root) / "runs" / run_id
        data = {"schema_version": SCHEMA_VERSION, "run_id": run_id, "created_at": now_iso(), **manifest}
        try:
            if run_dir.exists():
                raise StoreError(f"run directory {run_dir} exists already")
            mkdir_durably(run_dir)
            atomic_write_json(run_dir / "manifest.json", data)
        except OSError as exc:
            if exc.errno not in _NO_SPACE:
                raise
            with contextlib.suppress(OSError):
                run_dir.rmdir()          # only when empty: never a run directory without its manifest
            raise DiskFullError(f"disk full while creating the run directory {run_dir} "
                                f"({exc.strerror or 'no space left on device'}); nothing was measured yet; "
                                f"free some space under {Path(out_root)} and run again",
                                run_dir=str(run_dir), path=str(run_dir / "manifest.json")) from None
        return cls(run_dir)

    @classmethod
    def open(cls, run_dir: Path) -> RunStore:
        run_dir = Path(run_dir)
        if not (run_dir / "manifest.json").is_file():
            raise StoreError(f"{run_dir} is not a run directory (no manifest.json)")
        store = cls(run_dir)
        m = store.manifest()
        v = m.get("schema_version")
        if not isinstance(v, int) or v > SCHEMA_VERSION:
            raise StoreError(f"{run_dir}: manifest schema_version {v!r} is not one this mwi reads "
                             f"(<= {SCHEMA_VERSION})")
        return store

    # -- manifest ----------------------------------------------------------------------
    def manifest(self) -> dict:
        try:
            return json.loads((self.run_dir / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise StoreError(f"{self.run_dir}/manifest.json unreadable: {exc}") from None

    def update_manifest(self, fn) -> dict:
        """Read-modify-write the manifest atomically; `fn(dict)` edits it in place."""
        with self._manifest_lock:
            m = self.manifest()
            fn(m)
            m["updated_at"] = now_iso()
            path = self.run_dir / "manifest.json"
            with disk_full_guard(self.run_dir, path):  # the old manifest stays whole (temp file + rename)
                atomic_write_json(path, m)
            return m

    # -- records -----------------------------------------------------------------------
    def _shard(self, target: str) -> Path:
        name = "results.jsonl" if target == "local" else f"results.{safe_name(target)}.jsonl"
        return self.run_dir / name

    def _writer(self, path: Path) -> JsonlWriter:
        key = str(path)
        if key not in self._writers:
            self._writers[key] = JsonlWriter(path, run_dir=self.run_dir)
        return self._writers[key]

    def append_result(self, record: dict) -> None:
        rec = {"schema_version": SCHEMA_VERSION, "kind": "cell", "recorded_at": now_iso(), **record}
        self._writer(self._shard(str(record.get("cell", {}).get("target", "local")))).append(rec)

    def append_samples(self, rows: Iterable[dict]) -> None:
        w = self._writer(self.run_dir / "samples.jsonl")
        for row in rows:
            w.append({"schema_version": SCHEMA_VERSION, **row})

    def results(self) -> list[dict]:
        """Every cell record of every shard; for a key recorded twice (a retried cell) the last wins."""
        by_key: dict[str, dict] = {}
        for shard in sorted(self.run_dir.glob("results*.jsonl")):
            for rec in read_jsonl(shard):
                if rec.get("kind", "cell") != "cell":
                    continue
                by_key[rec["key"]] = rec
        return list(by_key.values())

    def samples(self) -> list[dict]:
        return list(read_jsonl(self.run_dir / "samples.jsonl"))

    def latest(self) -> dict[str, dict[str, Any]]:
        """The last record of each cell key."""
        return {rec["key"]: rec for rec in self.results()}

    def _failure_budget(self) -> int:
        """The run's --max-infra-failures (3 where the manifest does not say)."""
        try:
            spec = self.manifest().get("spec")
        except StoreError:
            return 3
        n = spec.get("max_infra_failures") if isinstance(spec, dict) else None
        return n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else 3

    def done_keys(self, *, retry_failed: bool = False) -> set[str]:
        """Keys a resumed run does not measure again, judged by each key's latest record.  Not done:
        a quarantined phone's cells (`skipped-device-lost`) and the infrastructure failures in a row
        that tripped its quarantine; with `retry_failed`, every infrastructure failure (`infra: true`:
        the phone lost, adb timed out, a gate fault, a low battery not charging).  A measurement error
        (page error, backend fell back, unsupported) or a skip by policy (time ceiling, too hot) is an
        answer about the cell, never re-run by either."""
        latest: dict[str, dict] = {}
        streak: dict[Any, list[str]] = {}   # target -> its infrastructure failures in a row, in order
        tripped: set[str] = set()
        every = (rec for shard in sorted(self.run_dir.glob("results*.jsonl")) for rec in read_jsonl(shard)
                 if rec.get("kind", "cell") == "cell")  # every record in order, not only each key's latest
        for rec in every:
            key = rec["key"]
            latest[key] = rec
            cell = rec.get("cell")
            target = cell.get("target") if isinstance(cell, dict) else None
            if rec.get("error_kind") == "skipped-device-lost":
                tripped.update(streak.pop(target, []))
            elif rec.get("infra") and rec.get("status") != "ok":
                streak.setdefault(target, []).append(key)
            else:
                streak.pop(target, None)
        budget = self._failure_budget()
        for keys_left in streak.values():  # a phone whose last records are a full budget of failures: the
            if len(keys_left) >= budget:   # quarantine had no cell left to record skipped-device-lost
                tripped.update(keys_left)
        keys = set()
        for key, rec in latest.items():
            if rec.get("error_kind") == "skipped-device-lost":  # a quarantined phone's cells: resume runs them
                continue
            if rec.get("infra") and rec.get("status") != "ok" and (retry_failed or key in tripped):
                continue
            keys.add(key)
        return keys

    @property
    def outputs_dir(self) -> Path:
        d = self.run_dir / "outputs"
        if not d.is_dir():
            with disk_full_guard(self.run_dir, d):
                mkdir_durably(d)
        return d
