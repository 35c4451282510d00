"""Build hook: the wheel carries what `mwi` serves and reads (pages with their vendored JS runtimes,
device profiles, examples) as package data under ``mobile_webinfer/_data/`` (mobile_webinfer/paths.py
finds it there through importlib.resources).  Everything else is in pyproject.toml.

The runtimes come from ``pages/vendor/`` exactly as ``python -m mobile_webinfer.web.vendor`` left it
(the npm lock stays their source): every file that ``pages/vendor/vendor.json`` lists must be there
with its listed sha256, and nothing else from ``vendor/`` is taken.  ``pages/node_modules`` never is.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
DATA = "_data"
VENDOR_HINT = "run `python -m mobile_webinfer.web.vendor` in the checkout first"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _page_files(pages: Path) -> list[Path]:
    """The pages' own files (not node_modules, not vendor), then the vendored runtime files, checked."""
    own = [p for p in sorted(pages.rglob("*"))
           if p.is_file() and p.relative_to(pages).parts[0] not in ("node_modules", "vendor")
           and "__pycache__" not in p.parts]
    index = pages / "vendor" / "vendor.json"
    if not index.is_file():
        raise SystemExit(f"error: {index} is missing: {VENDOR_HINT}")
    listed = json.loads(index.read_text())["files"]
    vendored = [index]
    for rel, meta in sorted(listed.items()):
        path = pages / "vendor" / rel
        if not path.is_file():
            raise SystemExit(f"error: {path} is listed in vendor.json but missing: {VENDOR_HINT}")
        if _sha256(path) != meta["sha256"]:
            raise SystemExit(f"error: {path} does not match its sha256 in vendor.json: {VENDOR_HINT}")
        vendored.append(path)
    return own + vendored


class BuildPyWithData(build_py):
    """build_py that also copies pages/, device_profiles/ and examples/ into mobile_webinfer/_data/."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # `pip install -e .` (the bootstrap): the checkout's own pages/ etc. are used (paths.py)
        dest_root = Path(self.build_lib) / "mobile_webinfer" / DATA
        if dest_root.exists():
            shutil.rmtree(dest_root)
        copies: list[tuple[Path, Path]] = []
        pages = HERE / "pages"
        copies += [(p, dest_root / "pages" / p.relative_to(pages)) for p in _page_files(pages)]
        for name in ("device_profiles", "examples"):
            src = HERE / name
            copies += [(p, dest_root / name / p.relative_to(src)) for p in sorted(src.rglob("*")) if p.is_file()]
        for src, dst in copies:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
        total = sum(src.stat().st_size for src, _ in copies)
        print(f"mobile_webinfer/{DATA}: {len(copies)} files, {total / 1e6:.1f} MB (pages, vendored runtimes, "
              f"device profiles, examples)")


setup(cmdclass={"build_py": BuildPyWithData})
