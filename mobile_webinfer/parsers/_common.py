"""Small helpers shared by the parsers (not public API)."""

from __future__ import annotations

import math
import re

from ..errors import ParseError

INT64_MAX = 9223372036854775807

_FLOAT_RE = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")


def lines_of(text: str) -> list[str]:
    """Split on any newline convention (LF, CRLF, lone CR) and drop a BOM."""
    if text.startswith("\ufeff"):
        text = text[1:]
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def check_text(text: object, source: str) -> str:
    """Refuse non-text input with a ParseError (parsers take str)."""
    if isinstance(text, bytes):
        raise ParseError("expected text, got bytes (decode it first, e.g. with decode_capture_bytes)",
                         source=source)
    if not isinstance(text, str):
        raise ParseError(f"expected text, got {type(text).__name__}", source=source)
    if "\x00" in text:
        raise ParseError("text contains NUL bytes (UTF-16 not decoded?)", source=source,
                         snippet=text[:60])
    return text


def to_float(value: str, *, source: str = "", what: str = "number", line: int | None = None) -> float:
    """Parse a decimal or scientific-notation number (`2.71985e+06`), finite only."""
    v = value.strip()
    if not _FLOAT_RE.match(v):
        raise ParseError(f"expected a number for {what}", source=source, snippet=value, line=line)
    f = float(v)
    if not math.isfinite(f):
        raise ParseError(f"number out of range for {what}", source=source, snippet=value, line=line)
    return f


def first_content_line(text: str) -> str:
    for ln in lines_of(text):
        if ln.strip():
            return ln.strip()
    return ""
