"""Disk full (issue 12 item 9): ENOSPC while writing a run is one line with `--resume`, nothing torn."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from mobile_webinfer import files as files_mod
from mobile_webinfer import store as store_mod
from mobile_webinfer.errors import DiskFullError, StoreError
from mobile_webinfer.store import JsonlWriter, RunStore, read_jsonl


def _cell(i: int, pad: int = 0) -> dict:
    return {"key": f"k{i}", "status": "ok", "cell": {"target": "local"}, "pad": "x" * pad}


class _FailingWrites:
    """os.write that writes `partial` bytes of the next call, then raises ENOSPC (a disk filling mid-record)."""

    def __init__(self, partial: int):
        self.partial = partial
        self.real = os.write

    def __call__(self, fd: int, data: bytes | memoryview) -> int:
        if self.partial > 0:
            n = self.real(fd, bytes(data[: self.partial]))
            self.partial = 0
            return n
        raise OSError(errno.ENOSPC, "No space left on device")


def test_enospc_mid_record_is_one_line_with_resume_and_leaves_no_torn_line(tmp_path, monkeypatch):
    store = RunStore.create(tmp_path / "out", {"what": "test"})
    store.append_result(_cell(1))
    shard = store.run_dir / "results.jsonl"
    before = shard.read_bytes()
    monkeypatch.setattr(store_mod.os, "write", _FailingWrites(partial=17))
    with pytest.raises(DiskFullError) as ei:
        store.append_result(_cell(2, pad=500))
    monkeypatch.undo()
    line = ei.value.one_line()
    assert isinstance(ei.value, StoreError)
    assert f"mwi sweep --resume {store.run_dir}" in line and str(shard) in line
    assert "Traceback" not in line and "\n" not in str(ei.value)
    assert ei.value.run_dir == str(store.run_dir)
    assert shard.read_bytes() == before                      # the partial record was cut off
    assert [r["key"] for r in read_jsonl(shard)] == ["k1"]
    store.append_result(_cell(3))                            # once there is room again, appends go on
    assert [r["key"] for r in RunStore.open(store.run_dir).results()] == ["k1", "k3"]


def test_enospc_on_samples_and_fsync(tmp_path, monkeypatch):
    store = RunStore.create(tmp_path / "out", {})

    def no_room(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_mod.os, "fsync", no_room)    # some filesystems report ENOSPC only at fsync
    with pytest.raises(DiskFullError, match="--resume"):
        store.append_samples([{"t_s": 0.1, "probe": "x"}])
    monkeypatch.undo()
    assert (store.run_dir / "samples.jsonl").read_bytes() == b""


def test_enospc_on_manifest_keeps_the_old_manifest_whole(tmp_path, monkeypatch):
    store = RunStore.create(tmp_path / "out", {"what": "before"})
    before = (store.run_dir / "manifest.json").read_bytes()

    class Full:
        def __init__(self, *a: object, **k: object):
            raise OSError(errno.ENOSPC, "No space left on device")

    real_open = open

    def fake_open(file, mode="r", *a, **k):  # the temp file of the atomic write cannot be written
        if "w" in mode and ".manifest.json" in str(file):
            f = real_open(file, mode, *a, **k)
            f.close()
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_open(file, mode, *a, **k)

    monkeypatch.setattr("builtins.open", fake_open)
    with pytest.raises(DiskFullError) as ei:
        store.update_manifest(lambda m: m.update(what="after"))
    monkeypatch.undo()
    assert f"mwi sweep --resume {store.run_dir}" in ei.value.one_line()
    assert (store.run_dir / "manifest.json").read_bytes() == before
    assert [p.name for p in store.run_dir.iterdir()] == ["manifest.json"]   # no temp file left


def test_enospc_when_creating_a_run_leaves_no_manifestless_directory(tmp_path, monkeypatch):
    def full(*a: object, **k: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_mod, "atomic_write_json", full)
    with pytest.raises(DiskFullError, match="nothing was measured yet"):
        RunStore.create(tmp_path / "out", {})
    assert list((tmp_path / "out" / "runs").iterdir()) == []


def test_other_os_errors_are_not_called_disk_full(tmp_path, monkeypatch):
    store = RunStore.create(tmp_path / "out", {})

    def denied(fd: int, data: bytes) -> int:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(store_mod.os, "write", denied)
    with pytest.raises(OSError) as ei:
        store.append_result(_cell(1))
    assert not isinstance(ei.value, DiskFullError)


def test_new_files_get_their_directory_fsynced(tmp_path, monkeypatch):
    synced: list[str] = []
    real = files_mod.fsync_dir

    def spy(path: Path | str) -> None:
        synced.append(str(path))
        real(path)

    monkeypatch.setattr(store_mod, "fsync_dir", spy)
    monkeypatch.setattr(files_mod, "fsync_dir", spy)
    store = RunStore.create(tmp_path / "out", {})
    assert str(store.run_dir.parent) in synced             # the new run directory's entry
    assert str(store.run_dir) in synced                    # manifest.json (rename)
    synced.clear()
    store.append_result({"key": "a", "cell": {"target": "R58M 1"}})
    store.append_samples([{"t_s": 0}])
    assert synced.count(str(store.run_dir)) == 2            # each new file once
    synced.clear()
    store.append_result({"key": "b", "cell": {"target": "R58M 1"}})
    assert synced == []                                    # an append to an existing file needs none
    assert store.outputs_dir.is_dir()
    assert synced == [str(store.run_dir)]


@pytest.fixture
def tiny_fs(tmp_path):
    """A real 256 KiB tmpfs (root only); skipped where mounting is not allowed."""
    mnt = tmp_path / f"tiny-{uuid.uuid4().hex[:6]}"
    mnt.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)], capture_output=True,
                         check=False)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_real_full_filesystem(tiny_fs):
    store = RunStore.create(tiny_fs / "out", {"what": "tiny"})
    store.append_result(_cell(1, pad=100))
    shard = store.run_dir / "results.jsonl"
    before = shard.read_bytes()
    fd = os.open(tiny_fs / "filler", os.O_WRONLY | os.O_CREAT, 0o644)
    try:                                                  # take every free block
        for _ in range(1000):
            os.write(fd, b"\0" * 4096)
        pytest.fail("a 256 KiB filesystem took 4 MiB")
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    with pytest.raises(DiskFullError) as ei:
        for i in range(2, 50):
            store.append_result(_cell(i, pad=20000))        # > one page: needs new blocks
    assert "--resume" in ei.value.one_line()
    after = shard.read_bytes()
    assert after.startswith(before) and after.endswith(b"\n")
    for line in after.splitlines():
        json.loads(line)                                   # every line whole
    with pytest.raises(DiskFullError):
        store.update_manifest(lambda m: m.update(pad="y" * 200000))
    assert json.loads((store.run_dir / "manifest.json").read_text())["what"] == "tiny"


def test_jsonl_writer_default_run_dir_is_its_folder(tmp_path):
    w = JsonlWriter(tmp_path / "x.jsonl")
    assert w.run_dir == tmp_path
