"""shell.py's shell-v2 framing and exit marker, over a scripted connection (no adb server)."""

from __future__ import annotations

import socket
import struct
import time

import pytest

from mobile_webinfer.adb.shell import AdbSession
from mobile_webinfer.errors import CommandTimeout, TransientDeviceError
from mobile_webinfer.retry import deadline


def v2(kind: int, data: bytes) -> bytes:
    return bytes([kind]) + struct.pack("<I", len(data)) + data


class ScriptedSocket:
    """recv() hands out the scripted chunks; None means 'hang' (times out); end of script is EOF."""

    def __init__(self, chunks):
        self.chunks = list(chunks)
        self.sent = b""
        self.timeout = None

    def settimeout(self, t):
        self.timeout = t

    def sendall(self, data):
        self.sent += data

    def recv(self, n):
        if not self.chunks:
            return b""
        chunk = self.chunks[0]
        if chunk is None:
            time.sleep(self.timeout or 0)
            raise socket.timeout("timed out")
        out, rest = chunk[:n], chunk[n:]
        if rest:
            self.chunks[0] = rest
        else:
            self.chunks.pop(0)
        return out


class ScriptedConn:
    def __init__(self, sock):
        self.conn = sock
        self.commands = []
        self.closed = False

    def send_command(self, cmd):
        self.commands.append(cmd)

    def check_okay(self):
        pass

    def close(self):
        self.closed = True


class ScriptedClient:
    def __init__(self, features, chunks):
        self.features = features
        self.conn = ScriptedConn(ScriptedSocket(chunks))

    def device(self, serial):
        client = self

        class Dev:
            def get_features(self):
                return client.features

            def open_transport(self, timeout=None):
                return client.conn
        return Dev()


def session_with(features: str, chunks) -> tuple[AdbSession, ScriptedClient]:
    s = AdbSession("127.0.0.1", 1)
    client = ScriptedClient(features, chunks)
    s._client = lambda timeout: client  # type: ignore[method-assign]
    return s, client


def test_v2_stdout_stderr_exit_code_in_split_packets():
    data = v2(1, b"hello ") + v2(2, b"warn\n") + v2(1, b"world\n") + v2(3, b"\x02")
    chunks = [data[i:i + 3] for i in range(0, len(data), 3)]           # the kernel splits as it likes
    s, client = session_with("shell_v2,cmd,stat_v2", chunks)
    res = s.shell("S1", ["echo", "a b"])
    assert (res.stdout, res.stderr, res.exit_code, res.command) == ("hello world\n", "warn\n", 2, "echo 'a b'")
    assert client.conn.commands == ["shell,v2:echo 'a b'"]
    assert client.conn.conn.sent == bytes([4, 0, 0, 0, 0])             # stdin closed at once
    assert client.conn.closed


def test_v2_stream_ending_without_exit_packet_is_transient_not_success():
    s, _ = session_with("shell_v2", [v2(1, b"partial output")])
    with pytest.raises(TransientDeviceError) as ei:
        s.shell("S1", ["dumpsys", "battery"])
    assert ei.value.command == "dumpsys battery" and ei.value.serial == "S1"


def test_v2_truncated_header_is_transient():
    s, _ = session_with("shell_v2", [v2(1, b"ok")[:3]])
    with pytest.raises(TransientDeviceError):
        s.shell("S1", ["getprop"])


def test_v2_hang_times_out_at_the_deadline():
    s, _ = session_with("shell_v2", [v2(1, b"some"), None])
    t0 = time.monotonic()
    with pytest.raises(CommandTimeout) as ei:
        with deadline(0.5):
            s.shell("S1", ["dumpsys", "thermalservice"], timeout=30)
    assert time.monotonic() - t0 < 3.0
    assert "dumpsys thermalservice" in ei.value.one_line()


def test_v2_trickling_output_cannot_outlive_the_timeout():
    """A device that keeps sending bytes never resets the clock: the total time is bounded."""
    s, _ = session_with("shell_v2", [v2(1, b"x")] * 100000)
    orig = ScriptedSocket.recv

    def slow_recv(self, n):
        time.sleep(0.01)
        return orig(self, n)
    ScriptedSocket.recv = slow_recv  # type: ignore[method-assign]
    try:
        t0 = time.monotonic()
        with pytest.raises(CommandTimeout):
            s.shell("S1", ["logcat"], timeout=0.5)
        assert time.monotonic() - t0 < 3.0
    finally:
        ScriptedSocket.recv = orig  # type: ignore[method-assign]


def test_marker_path_without_shell_v2():
    s, client = session_with("cmd,stat_v2", [])
    holder = {}

    def reply(cmd):
        holder["cmd"] = cmd
        marker = cmd.split("; echo ", 1)[1].split("$?")[0]
        client.conn.conn.chunks = [b"line1\r\nline2\r\n", marker.encode() + b"3\r\n"]
    client.conn.send_command = lambda cmd: (client.conn.commands.append(cmd), reply(cmd))  # type: ignore
    res = s.shell("S1", ["ls", "/x y"])
    assert holder["cmd"].startswith("shell:ls '/x y'; echo __MWI_EXIT_")
    assert (res.stdout, res.exit_code) == ("line1\nline2\n", 3)


def test_marker_missing_is_a_failure_not_success():
    s, _ = session_with("cmd", [b"output but the connection died\n"])
    with pytest.raises(TransientDeviceError, match="exit marker"):
        s.shell("S1", ["getprop"])


def test_features_cached_per_serial():
    s, client = session_with("shell_v2", [v2(3, b"\x00"), v2(3, b"\x00")])
    calls = []
    orig = client.device

    def counting(serial):
        d = orig(serial)
        g = d.get_features

        def gf():
            calls.append(serial)
            return g()
        d.get_features = gf
        return d
    client.device = counting  # type: ignore[method-assign]
    s.shell("S1", ["true"])
    client.conn.conn.chunks = [v2(3, b"\x00")]
    s.shell("S1", ["true"])
    assert calls == ["S1"]
