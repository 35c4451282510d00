"""`adb shell getprop`: `[key]: [value]` lines; values can span lines; CRLF from Windows hosts.

::

    [ro.product.model]: [SM-S936B]
    [persist.sys.boot.reason.history]: [reboot,ota,1691858645
    reboot,ota,1691857091]

A PowerShell `>` redirect writes UTF-16LE with a BOM: decode such bytes with
`parse_getprop_bytes` (or `capture.decode_capture_bytes`) first.
"""

from __future__ import annotations

import re

from ..errors import ParseError
from ._common import check_text, lines_of
from .capture import decode_capture_bytes, strip_capture_header

_START_RE = re.compile(r"^\[([^\[\]]+)\]:\s?\[(.*)$")
_KEY_RE = re.compile(r"^[^\s\[\]]+$")


def parse_getprop(text: str, source: str = "") -> dict[str, str]:
    """Parse getprop output into {key: value}; multi-line values keep their inner newlines."""
    text = check_text(text, source)
    props: dict[str, str] = {}
    key: str | None = None
    buf: list[str] = []
    start_line = 0
    for lineno, raw in enumerate(lines_of(text), start=1):
        if key is not None:
            if raw.endswith("]"):
                buf.append(raw[:-1])
                props[key] = "\n".join(buf)
                key = None
            else:
                buf.append(raw)
            continue
        if not raw.strip():
            continue
        line = raw.rstrip()
        m = _START_RE.match(line)
        if not m or not _KEY_RE.match(m.group(1)):
            raise ParseError("expected a getprop line '[key]: [value]'", source=source, snippet=line, line=lineno)
        rest = m.group(2)
        if rest.endswith("]"):
            props[m.group(1)] = rest[:-1]
        else:
            key, buf, start_line = m.group(1), [rest], lineno
    if key is not None:
        raise ParseError(f"value of [{key}] is not closed by ']'", source=source, snippet=buf[0][:80],
                         line=start_line)
    if not props:
        raise ParseError("no getprop '[key]: [value]' lines found", source=source)
    return props


def parse_getprop_bytes(data: bytes, source: str = "") -> dict[str, str]:
    """Decode (UTF-8 / UTF-16 with or without BOM), drop a capture header, then parse."""
    return parse_getprop(strip_capture_header(decode_capture_bytes(data, source=source)), source=source)
