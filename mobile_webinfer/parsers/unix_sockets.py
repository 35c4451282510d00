"""`cat /proc/net/unix`: the phone's unix sockets, to find browsers' DevTools sockets.

The kernel's format (Android prints the same), one socket a line; abstract names start with `@`:

    Num       RefCount Protocol Flags    Type St Inode Path
    0000000000000000: 00000002 00000000 00010000 0001 01 4869806 @chrome_devtools_remote
    0000000000000000: 00000002 00000000 00010000 0001 01  2826 /dev/socket/installd
    000000004cc263f2: 00000003 00000000 00000000 0001 03 88376

Flags 00010000 (__SO_ACCEPTCON) marks a listening socket.  Older kernels print 8-digit `Num`
fields; unnamed sockets have no path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import ParseError
from ._common import check_text, lines_of

_ACCEPTCON = 0x00010000
_HEADER_RE = re.compile(r"^Num\s+RefCount\s+Protocol\s+Flags\s+Type\s+St\s+Inode(?:\s+Path)?\s*$")
_ROW_RE = re.compile(r"^(?P<num>[0-9a-fA-F]+):\s+(?P<ref>[0-9a-fA-F]+)\s+(?P<proto>[0-9a-fA-F]+)\s+"
                     r"(?P<flags>[0-9a-fA-F]+)\s+(?P<type>[0-9a-fA-F]+)\s+(?P<st>[0-9a-fA-F]+)\s+(?P<inode>\d+)"
                     r"(?:\s(?P<path>.*))?$")
DEVTOOLS_SUFFIX = "devtools_remote"


@dataclass(frozen=True)
class UnixSocket:
    """One row of /proc/net/unix.  `name` is the path without the `@` of an abstract socket."""

    inode: int
    path: str | None
    flags: int
    type: int
    state: int

    @property
    def abstract(self) -> bool:
        return bool(self.path) and self.path.startswith("@")  # type: ignore[union-attr]

    @property
    def name(self) -> str | None:
        if not self.path:
            return None
        return self.path[1:] if self.abstract else self.path

    @property
    def listening(self) -> bool:
        return bool(self.flags & _ACCEPTCON)

    def to_json(self) -> dict[str, Any]:
        return {"inode": self.inode, "path": self.path, "abstract": self.abstract, "listening": self.listening}


def parse_proc_net_unix(text: str, *, source: str = "/proc/net/unix") -> tuple[UnixSocket, ...]:
    """Every socket row; ParseError when the header is missing or a row is not in the kernel's format."""
    check_text(text, source)
    lines = [ln for ln in lines_of(text) if ln.strip()]
    if not lines or not _HEADER_RE.match(lines[0].strip()):
        raise ParseError("not /proc/net/unix output (no 'Num RefCount Protocol Flags Type St Inode Path' header)",
                         source=source, snippet=lines[0] if lines else "", line=1)
    out = []
    for i, ln in enumerate(lines[1:], start=2):
        m = _ROW_RE.match(ln.strip())
        if not m:
            raise ParseError("unreadable /proc/net/unix row", source=source, snippet=ln, line=i)
        path = (m.group("path") or "").strip() or None
        out.append(UnixSocket(int(m.group("inode")), path, int(m.group("flags"), 16), int(m.group("type"), 16),
                              int(m.group("st"), 16)))
    return tuple(out)


def devtools_socket_names(sockets: Iterable[UnixSocket]) -> tuple[str, ...]:
    """Abstract socket names that end in `devtools_remote` (or Chromium's `devtools_remote_<pid>`),
    listening ones, each once, in the order the kernel listed them."""
    seen: dict[str, None] = {}
    for s in sockets:
        name = s.name
        if not s.abstract or not name or not s.listening:
            continue
        base = name.rsplit("_", 1)[0] if name.rsplit("_", 1)[-1].isdigit() else name
        if base.endswith(DEVTOOLS_SUFFIX):
            seen.setdefault(name, None)
    return tuple(seen)
