"""The ADB transport wire format (device side): 24-byte message headers and their payloads.

A message is ``command, arg0, arg1, data_length, data_check, magic`` as six little-endian
uint32, followed by ``data_length`` bytes.  ``magic == command ^ 0xffffffff``.  Protocol
versions >= 0x01000001 skip the payload checksum; we still compute it on what we send so
an older host would accept it too.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

A_SYNC = 0x434E5953
A_CNXN = 0x4E584E43
A_AUTH = 0x48545541
A_OPEN = 0x4E45504F
A_OKAY = 0x59414B4F
A_CLSE = 0x45534C43
A_WRTE = 0x45545257
A_STLS = 0x534C5453

AUTH_TOKEN = 1
AUTH_SIGNATURE = 2
AUTH_RSAPUBLICKEY = 3

A_VERSION_MIN = 0x01000000
A_VERSION_SKIP_CHECKSUM = 0x01000001
A_VERSION = 0x01000001
MAX_PAYLOAD = 256 * 1024
MAX_PAYLOAD_V1 = 4 * 1024

NAMES = {A_SYNC: "SYNC", A_CNXN: "CNXN", A_AUTH: "AUTH", A_OPEN: "OPEN", A_OKAY: "OKAY",
         A_CLSE: "CLSE", A_WRTE: "WRTE", A_STLS: "STLS"}

_HEADER = struct.Struct("<6I")
HEADER_SIZE = _HEADER.size


class ProtocolError(Exception):
    """The peer sent bytes that are not a valid ADB message."""


@dataclass(frozen=True)
class Message:
    """One ADB transport message."""

    command: int
    arg0: int
    arg1: int
    data: bytes = b""

    @property
    def name(self) -> str:
        return NAMES.get(self.command, hex(self.command))

    def pack(self) -> bytes:
        """Header plus payload, checksum filled in."""
        check = sum(self.data) & 0xFFFFFFFF
        header = _HEADER.pack(self.command, self.arg0 & 0xFFFFFFFF, self.arg1 & 0xFFFFFFFF,
                              len(self.data), check, self.command ^ 0xFFFFFFFF)
        return header + self.data


def recv_exact(sock: socket.socket, n: int) -> bytes:
    """Read exactly ``n`` bytes or raise EOFError when the peer closes first."""
    chunks = []
    while n:
        chunk = sock.recv(min(n, 1 << 20))
        if not chunk:
            raise EOFError("connection closed")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_message(sock: socket.socket, *, max_payload: int, check_data: bool) -> Message:
    """Read one message; validate magic, size and (for old versions) the checksum."""
    command, arg0, arg1, length, check, magic = _HEADER.unpack(recv_exact(sock, HEADER_SIZE))
    if magic != command ^ 0xFFFFFFFF:
        raise ProtocolError(f"bad magic {magic:#x} for command {command:#x}")
    if command not in NAMES:
        raise ProtocolError(f"unknown command {command:#x}")
    if length > max(max_payload, MAX_PAYLOAD) * 4:
        raise ProtocolError(f"payload of {length} bytes is too large")
    data = recv_exact(sock, length) if length else b""
    if check_data and length and (sum(data) & 0xFFFFFFFF) != check:
        raise ProtocolError("payload checksum mismatch")
    return Message(command, arg0, arg1, data)


def device_banner(props: dict[str, str], features: list[str]) -> bytes:
    """The CNXN payload adbd sends: ``device::ro.product.name=..;...;features=..``."""
    parts = [f"{key}={props.get(key, '')}" for key in
             ("ro.product.name", "ro.product.model", "ro.product.device")]
    parts.append("features=" + ",".join(features))
    return ("device::" + ";".join(parts)).encode()


# ---- shell protocol v2 packets ----------------------------------------------------------
SHELL_STDIN = 0
SHELL_STDOUT = 1
SHELL_STDERR = 2
SHELL_EXIT = 3
SHELL_CLOSE_STDIN = 4
SHELL_WINDOW_SIZE = 5


def shell_packet(kind: int, data: bytes) -> bytes:
    """One shell-v2 packet: id byte, little-endian uint32 length, data."""
    return struct.pack("<BI", kind, len(data)) + data
