"""Fake-phone profiles (``profiles/*.toml``) and the capture files they point at."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROFILES_DIR = Path(__file__).parent / "profiles"
FIXTURES_DIR = Path(__file__).resolve().parent.parent / "fixtures"


@dataclass(frozen=True)
class BrowserSpec:
    """A browser package installed on the fake phone."""

    package: str
    name: str
    version: str
    version_code: int
    activity: str
    devtools_socket: str

    @property
    def component(self) -> str:
        return f"{self.package}/{self.activity}"


@dataclass(frozen=True)
class Profile:
    """Everything that makes one fake phone differ from another."""

    name: str
    values: dict[str, Any]
    browsers: tuple[BrowserSpec, ...] = field(default=())

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def browser(self, package: str) -> BrowserSpec | None:
        return next((b for b in self.browsers if b.package == package), None)


def available_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILES_DIR.glob("*.toml"))


def load_profile(name: str) -> Profile:
    """Load ``profiles/NAME.toml``; ValueError naming the choices when it does not exist."""
    if not name.isidentifier():
        raise ValueError(f"bad profile name {name!r}")
    path = PROFILES_DIR / f"{name}.toml"
    if not path.is_file():
        raise ValueError(f"unknown profile {name!r}; choose one of {', '.join(available_profiles())}")
    data = tomllib.loads(path.read_text())
    browsers = tuple(BrowserSpec(**b) for b in data.pop("browsers", []))
    return Profile(name=data.get("name", name), values=data, browsers=browsers)


def read_capture(rel: str) -> str:
    """The raw output of a capture in tests/fixtures, header (``# ...`` up to ``# ---``) removed,
    CRLF turned into LF (a phone's shell-v2 output has plain LF)."""
    text = (FIXTURES_DIR / rel).read_text(encoding="utf-8")
    lines = text.split("\n")
    if lines and lines[0].startswith("# "):
        for i, line in enumerate(lines):
            if line.rstrip("\r") == "# ---":
                lines = lines[i + 1:]
                break
    return "\n".join(lines).replace("\r\n", "\n")
