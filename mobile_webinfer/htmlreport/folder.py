"""Replacing a whole output folder (the report, a comparison) in one step."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from ..files import atomic_write_bytes, atomic_write_text, fsync_dir, mkdir_durably, replace_durably

REPORT_DIR = "report"


class PngFile(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def png(self) -> bytes: ...


def replace_dir(tmp: Path, final: Path) -> None:
    """Put the folder `tmp` in place of `final` (the old one, if any, is removed after the swap)."""
    old = final.with_name(f".{final.name}.old.{os.getpid()}")
    if final.exists():
        os.replace(final, old)
    replace_durably(tmp, final)
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)


def write_report_folder(run_dir: Path, images: Sequence[PngFile], text: str) -> Path:
    """`RUN_DIR/report/` with `index.html` and its PNGs, built beside it and swapped in whole;
    returns the page's path."""
    tmp = run_dir / f".{REPORT_DIR}.tmp.{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    mkdir_durably(tmp)
    try:
        for img in images:
            atomic_write_bytes(tmp / img.name, img.png)
        atomic_write_text(tmp / "index.html", text)
        fsync_dir(tmp)
        replace_dir(tmp, run_dir / REPORT_DIR)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return run_dir / REPORT_DIR / "index.html"
