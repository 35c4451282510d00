"""A 'phone' that never accepts the host's key: enough ADB to make the real adb server say
`unauthorized` (CNXN answered with AUTH TOKEN, every signature refused, the public key ignored).

Only the connection handshake of AOSP's protocol.txt; nothing after it is served.
"""

from __future__ import annotations

import os
import socket
import struct
import threading

A_CNXN = 0x4E584E43
A_AUTH = 0x48545541
AUTH_TOKEN, AUTH_SIGNATURE, AUTH_RSAPUBLICKEY = 1, 2, 3


def _message(cmd: int, arg0: int, arg1: int, data: bytes = b"") -> bytes:
    return struct.pack("<6I", cmd, arg0, arg1, len(data), sum(data) & 0xFFFFFFFF, cmd ^ 0xFFFFFFFF) + data


def _read_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


class UnauthorizedPhone:
    """Listens on 127.0.0.1:PORT; `serial` is what `adb connect` shows."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(4)
        self.port = self._sock.getsockname()[1]
        self.serial = f"127.0.0.1:{self.port}"
        self._conns: list[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            while True:
                cmd, arg0, _arg1, length, _check, _magic = struct.unpack("<6I", _read_exact(conn, 24))
                if length:
                    _read_exact(conn, length)
                if cmd == A_CNXN or (cmd == A_AUTH and arg0 == AUTH_SIGNATURE):
                    conn.sendall(_message(A_AUTH, AUTH_TOKEN, 0, os.urandom(20)))
                # AUTH_RSAPUBLICKEY: the user would be asked on the phone; nobody answers.
        except (EOFError, OSError):
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self._closed = True
        self._sock.close()
        for c in self._conns:
            try:
                c.close()
            except OSError:
                pass
