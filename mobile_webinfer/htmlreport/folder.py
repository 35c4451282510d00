"""Replacing a whole output folder (the report, a comparison) in one step."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..files import replace_durably


def replace_dir(tmp: Path, final: Path) -> None:
    """Put the folder `tmp` in place of `final` (the old one, if any, is removed after the swap)."""
    old = final.with_name(f".{final.name}.old.{os.getpid()}")
    if final.exists():
        os.replace(final, old)
    replace_durably(tmp, final)
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)
