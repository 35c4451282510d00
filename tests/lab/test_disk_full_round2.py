"""Disk full, round two (issue 22): ENOSPC while writing outputs/*.npz, profiles/ or the restore
journal is one line (a DiskFullError), never a raw OSError, and nothing half-written is left.
A real full filesystem: a 64 KiB tmpfs (needs root and mount; skipped where neither is there)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid
from pathlib import Path

import numpy as np
import pytest

from mobile_webinfer.errors import DiskFullError
from mobile_webinfer.files import atomic_write_text
from mobile_webinfer.store import RunStore, disk_full_guard
from mobile_webinfer.sweep.reference import References
from mobile_webinfer.vocab import Cell


@pytest.fixture
def full_fs(tmp_path):
    """A tiny tmpfs filled to the last byte."""
    mnt = tmp_path / f"full-{uuid.uuid4().hex[:6]}"
    mnt.mkdir()
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {p.stderr.strip()}")
    try:
        (mnt / "restore").mkdir()
        (mnt / "outputs").mkdir()
        with contextlib.suppress(OSError), open(mnt / "filler", "wb") as f:
            while True:
                f.write(b"\0" * 4096)
                f.flush()
                os.fsync(f.fileno())
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _one_line(exc: DiskFullError, path_part: str) -> str:
    line = exc.one_line()
    assert "disk full while writing" in line and path_part in line and "\n" not in str(exc)
    return line


def test_reference_outputs_npz_on_a_full_disk(full_fs):
    refs = References(full_fs / "outputs")
    cell = Cell("127.0.0.1:5555", "native", "tiny_cnn", "tflite-native", "cpu", 1, 0)
    with pytest.raises(DiskFullError) as ei:
        refs.keep_native(cell, [np.ones((64, 64, 8), np.float32)])
    _one_line(ei.value, "tiny_cnn.npz")
    assert sorted(p.name for p in (full_fs / "outputs").iterdir()) == []  # no torn or temp file


def test_profile_export_on_a_full_disk_names_the_run_and_resume(full_fs, tmp_path):
    store = RunStore.create(tmp_path / "out", {"what": "test"})
    dest = full_fs / "x.benchmark_model.txt"
    with pytest.raises(DiskFullError) as ei:  # op_profiles writes the export with atomic_write_text
        atomic_write_text(dest, "Operator-wise Profiling Info\n" * 4000)
    bare = ei.value
    assert not bare.run_dir
    with pytest.raises(DiskFullError) as ei, disk_full_guard(store.run_dir, dest):  # as the sweep ends with it
        raise bare
    line = _one_line(ei.value, str(dest))
    assert f"mwi sweep --resume {store.run_dir}" in line and ei.value.run_dir == str(store.run_dir)
    assert not dest.exists() and not list(full_fs.glob(".x.*"))


def test_restore_journal_on_a_full_disk_changes_nothing_on_the_phone(full_fs, fake_phone, monkeypatch):
    from mobile_webinfer.targets.android import AndroidTarget

    phone = fake_phone("pixel")
    before = phone.control.settings()
    monkeypatch.setenv("MWI_CACHE", str(full_fs))
    t = AndroidTarget(phone.serial)
    t.connect()
    with pytest.raises(DiskFullError) as ei, t.conditions():
        pytest.fail("conditioned a phone whose journal could not be written")
    _one_line(ei.value, str(Path(full_fs) / "restore"))
    assert phone.control.settings() == before  # the journal comes first: nothing was changed
    assert not any(c.startswith("settings put") for c in phone.commands)
