"""Capture files: the `# key: value` header block and UTF-16 (PowerShell) encodings.

A capture file (as in tests/fixtures/) looks like::

    # source: github.com/...
    # device: Xiaomi 13T Pro
    # ---
    Current Battery Service state:
      AC powered: false
"""

from __future__ import annotations

import codecs

from ..errors import ParseError


def strip_capture_header(text: str) -> str:
    """Drop a leading header block (lines starting `# ` ended by a line `# ---`).

    Text without such a block is returned unchanged, so raw phone output passes through.
    Line endings after the header are kept as they were (CRLF captures stay CRLF).
    """
    body = text[1:] if text.startswith("\ufeff") else text
    if not body.startswith("# "):
        return text
    pos = 0
    while pos < len(body):
        end = body.find("\n", pos)
        line_end = len(body) if end < 0 else end
        line = body[pos:line_end].rstrip("\r")
        nxt = len(body) if end < 0 else end + 1
        if line.rstrip() == "# ---":
            return body[nxt:]
        if not line.startswith("#"):
            return text  # a '#' block that never closed: not a capture header
        pos = nxt
    return text


def capture_header(text: str) -> dict[str, str]:
    """The `# key: value` pairs of a capture header (repeated keys joined with newlines)."""
    if strip_capture_header(text) is text:
        return {}
    out: dict[str, str] = {}
    for raw in text.lstrip("\ufeff").splitlines():
        line = raw.rstrip("\r")
        if line.rstrip() == "# ---":
            break
        key, sep, value = line[2:].partition(":")
        if sep:
            k = key.strip()
            out[k] = f"{out[k]}\n{value.strip()}" if k in out else value.strip()
    return out


def decode_capture_bytes(data: bytes, *, source: str = "") -> str:
    """Decode what a phone (or a Windows redirect of it) wrote: UTF-8, UTF-8 with BOM, UTF-16LE/BE.

    UTF-16 is recognised by its BOM, or without one by NUL bytes in every other position
    (a PowerShell `>` redirect of `adb shell getprop` is UTF-16LE with BOM and CRLF).
    """
    if not isinstance(data, (bytes, bytearray)):
        raise ParseError(f"expected bytes, got {type(data).__name__}", source=source)
    data = bytes(data)
    try:
        if data.startswith(codecs.BOM_UTF8):
            return data[len(codecs.BOM_UTF8):].decode("utf-8")
        if data.startswith(codecs.BOM_UTF16_LE):
            return data[2:].decode("utf-16-le")
        if data.startswith(codecs.BOM_UTF16_BE):
            return data[2:].decode("utf-16-be")
        sample = data[:4096]
        if len(sample) >= 4:
            odd_nuls = sample[1::2].count(0)
            even_nuls = sample[0::2].count(0)
            half = len(sample) // 2
            if half and odd_nuls >= 0.9 * half and even_nuls < 0.1 * half:
                return data[: len(data) - len(data) % 2].decode("utf-16-le")
            if half and even_nuls >= 0.9 * half and odd_nuls < 0.1 * half:
                return data[: len(data) - len(data) % 2].decode("utf-16-be")
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(f"undecodable bytes at offset {exc.start} (expected UTF-8 or UTF-16 text)",
                         source=source, snippet=data[max(0, exc.start - 20): exc.start + 20].hex()) from None
