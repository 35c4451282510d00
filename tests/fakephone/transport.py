"""Device side of the ADB transport over TCP: connections, streams, flow control, reverse.

One :class:`DeviceListener` accepts TCP connections from adb servers (``adb connect``).
Each :class:`Connection` answers CNXN (no AUTH), then multiplexes streams: the host OPENs a
service, we answer OKAY (or CLSE to refuse) and run the service on its own thread.  Every
WRTE we send waits for the peer's OKAY before the next one (the protocol's flow control);
every WRTE we receive is acknowledged at once and queued.  Reverse forwards listen on
127.0.0.1:PORT of this computer and OPEN ``tcp:HOSTPORT`` back through the transport.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
from typing import Callable, Protocol

from . import adbproto as P

log = logging.getLogger("fakephone.transport")


class StreamClosed(Exception):
    """The peer closed the stream (or the transport went away)."""


class ServiceRefused(Exception):
    """The requested service does not exist on this device: the OPEN is answered by CLSE."""


class ServiceHost(Protocol):
    """What the transport needs from the phone."""

    def banner(self) -> bytes: ...
    def accepting(self) -> bool: ...
    def authorized(self) -> bool: ...
    def resolve_service(self, conn: "Connection", name: str) -> Callable[["Stream"], None]: ...


class Stream:
    """One ADB stream: a full-duplex byte pipe between a device service and the host."""

    def __init__(self, conn: "Connection", local_id: int, remote_id: int) -> None:
        self.conn = conn
        self.local_id = local_id
        self.remote_id = remote_id
        self._inbox: "queue.Queue[bytes | None]" = queue.Queue()
        self._buffer = bytearray()
        self._eof = False
        self._can_send = threading.Event()
        if remote_id:
            self._can_send.set()
        self._opened = threading.Event()  # device-opened streams: peer answered OKAY or CLSE
        self.closed = threading.Event()
        self._lock = threading.Lock()

    # -- events from the transport reader ----------------------------------------------
    def _on_okay(self, remote_id: int) -> None:
        if not self.remote_id:
            self.remote_id = remote_id
            self._opened.set()
        self._can_send.set()

    def _on_data(self, data: bytes) -> None:
        self._inbox.put(data)

    def _on_close(self) -> None:
        self.closed.set()
        self._opened.set()
        self._can_send.set()
        self._inbox.put(None)

    # -- service side ------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        """Send ``data`` as WRTE messages of at most max_payload, each after the peer's OKAY."""
        view = memoryview(data)
        size = self.conn.max_payload
        while view:
            chunk, view = view[:size], view[size:]
            while not self._can_send.wait(0.5):
                if self.closed.is_set() or self.conn.closed.is_set():
                    break
            if self.closed.is_set():
                raise StreamClosed("stream closed by peer")
            with self._lock:
                self._can_send.clear()
                self.conn.send(P.Message(P.A_WRTE, self.local_id, self.remote_id, bytes(chunk)))

    def read(self, timeout: float | None = None) -> bytes:
        """Next chunk from the peer; b"" at end of stream.  ``queue.Empty`` on timeout."""
        if self._buffer:
            data = bytes(self._buffer)
            self._buffer.clear()
            return data
        if self._eof:
            return b""
        item = self._inbox.get(timeout=timeout)
        if item is None:
            self._eof = True
            return b""
        return item

    def read_exact(self, n: int) -> bytes:
        """Exactly ``n`` bytes; StreamClosed when the stream ends first."""
        while len(self._buffer) < n:
            if self._eof:
                raise StreamClosed("stream ended")
            item = self._inbox.get()
            if item is None:
                self._eof = True
                continue
            self._buffer += item
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    def close(self) -> None:
        """Send CLSE once and forget the stream."""
        if self.closed.is_set():
            self.conn.forget(self)
            return
        self.closed.set()
        self._can_send.set()
        self._inbox.put(None)
        if self.remote_id:
            self.conn.send(P.Message(P.A_CLSE, self.local_id, self.remote_id), quiet=True)
        self.conn.forget(self)

    def wait_closed(self, timeout: float | None = None) -> bool:
        return self.closed.wait(timeout)


class Connection:
    """One TCP connection from an adb server (one transport)."""

    def __init__(self, sock: socket.socket, host: ServiceHost, listener: "DeviceListener") -> None:
        self.sock = sock
        self.host = host
        self.listener = listener
        self.version = P.A_VERSION
        self.max_payload = P.MAX_PAYLOAD_V1
        self.online = False
        self.closed = threading.Event()
        self._send_lock = threading.Lock()
        self._streams: dict[int, Stream] = {}
        self._streams_lock = threading.Lock()
        self._next_id = 1
        self.reverses: dict[str, "ReverseForward"] = {}
        self.reverse_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="fakephone-conn", daemon=True)

    def start(self) -> None:
        self._thread.start()

    # -- sending -----------------------------------------------------------------------
    def send(self, msg: P.Message, *, quiet: bool = False) -> None:
        data = msg.pack()
        try:
            with self._send_lock:
                self.sock.sendall(data)
        except OSError as exc:
            self.abort()
            if not quiet:
                raise StreamClosed(f"transport lost: {exc}") from exc

    def new_stream(self, remote_id: int) -> Stream:
        with self._streams_lock:
            local_id = self._next_id
            self._next_id += 1
            stream = Stream(self, local_id, remote_id)
            self._streams[local_id] = stream
        return stream

    def forget(self, stream: Stream) -> None:
        with self._streams_lock:
            self._streams.pop(stream.local_id, None)

    def open_to_host(self, destination: str, timeout: float = 10.0) -> Stream:
        """OPEN a stream from the device to the host (used by reverse forwards)."""
        stream = self.new_stream(0)
        self.send(P.Message(P.A_OPEN, stream.local_id, 0, destination.encode() + b"\0"))
        if not stream._opened.wait(timeout) or stream.closed.is_set():
            self.forget(stream)
            raise StreamClosed(f"host refused {destination}")
        return stream

    def abort(self) -> None:
        """Drop the TCP connection at once (no CLSE): what a pulled cable looks like."""
        if self.closed.is_set():
            return
        self.closed.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass
        with self._streams_lock:
            streams = list(self._streams.values())
            self._streams.clear()
        for stream in streams:
            stream._on_close()
        with self.reverse_lock:
            reverses = list(self.reverses.values())
            self.reverses.clear()
        for rev in reverses:
            rev.stop()
        self.listener._forget(self)

    def go_online(self) -> None:
        """Answer a CNXN that was held while the phone was offline."""
        if not self.closed.is_set() and not self.online and self._cnxn_seen:
            self._reply_cnxn()

    # -- receiving ---------------------------------------------------------------------
    _cnxn_seen = False

    def _reply_cnxn(self) -> None:
        self.online = True
        self.send(P.Message(P.A_CNXN, self.version, P.MAX_PAYLOAD, self.host.banner()), quiet=True)

    def _send_auth_token(self) -> None:
        import os
        self.send(P.Message(P.A_AUTH, P.AUTH_TOKEN, 0, os.urandom(20)), quiet=True)

    def _run(self) -> None:
        try:
            while not self.closed.is_set():
                msg = P.read_message(self.sock, max_payload=P.MAX_PAYLOAD,
                                     check_data=self.version < P.A_VERSION_SKIP_CHECKSUM)
                self._handle(msg)
        except (EOFError, OSError, P.ProtocolError) as exc:
            log.debug("connection ended: %s", exc)
        finally:
            self.abort()

    def _handle(self, msg: P.Message) -> None:
        cmd = msg.command
        if cmd == P.A_CNXN:
            self.version = max(P.A_VERSION_MIN, min(msg.arg0, P.A_VERSION))
            self.max_payload = max(P.MAX_PAYLOAD_V1, min(msg.arg1, P.MAX_PAYLOAD))
            self._cnxn_seen = True
            if self.online:  # a second CNXN resets the transport
                with self._streams_lock:
                    streams = list(self._streams.values())
                    self._streams.clear()
                for s in streams:
                    s._on_close()
            if not self.host.accepting():
                return  # offline: hold the connection unanswered
            if self.host.authorized():
                self._reply_cnxn()
            else:
                self._send_auth_token()
            return
        if cmd == P.A_AUTH and not self.online:
            # signatures are never accepted and public keys wait for a user who never taps
            # "Allow": the adb server lists the phone as "unauthorized"
            if msg.arg0 == P.AUTH_SIGNATURE:
                self._send_auth_token()
            return
        if not self.online:
            return  # STLS/anything before we are online: ignore
        if cmd == P.A_OPEN:
            name = msg.data.rstrip(b"\0").decode("utf-8", "replace")
            self._open_service(msg.arg0, name)
        elif cmd == P.A_OKAY:
            stream = self._streams.get(msg.arg1)
            if stream is not None:
                stream._on_okay(msg.arg0)
        elif cmd == P.A_WRTE:
            stream = self._streams.get(msg.arg1)
            if stream is None:
                self.send(P.Message(P.A_CLSE, 0, msg.arg0), quiet=True)
                return
            stream._on_data(msg.data)
            self.send(P.Message(P.A_OKAY, msg.arg1, msg.arg0), quiet=True)
        elif cmd == P.A_CLSE:
            with self._streams_lock:
                stream = self._streams.pop(msg.arg1, None)
            if stream is not None:
                stream._on_close()

    def _open_service(self, remote_id: int, name: str) -> None:
        try:
            service = self.host.resolve_service(self, name)
        except ServiceRefused as exc:
            log.debug("refused %r: %s", name, exc)
            self.send(P.Message(P.A_CLSE, 0, remote_id), quiet=True)
            return
        stream = self.new_stream(remote_id)
        self.send(P.Message(P.A_OKAY, stream.local_id, remote_id), quiet=True)

        def run() -> None:
            try:
                service(stream)
            except StreamClosed:
                pass
            except Exception:  # a bug in the fake: make it visible, then close the stream
                log.exception("service %r crashed", name)
            finally:
                stream.close()

        threading.Thread(target=run, name=f"svc {name[:40]}", daemon=True).start()


class ReverseForward:
    """``adb reverse tcp:DEV tcp:HOST``: listen on 127.0.0.1:DEV, pipe each client to the host."""

    def __init__(self, conn: Connection, device_port: int, host_spec: str) -> None:
        self.conn = conn
        self.host_spec = host_spec
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", device_port))  # OSError when the port is taken
        self.sock.listen(16)
        self.device_port = self.sock.getsockname()[1]
        self._stopped = threading.Event()
        self._clients: set[socket.socket] = set()
        threading.Thread(target=self._accept, name=f"reverse {self.device_port}", daemon=True).start()

    @property
    def device_spec(self) -> str:
        return f"tcp:{self.device_port}"

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            self._clients.add(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        faults = getattr(self.conn.host, "faults", None)
        if faults is not None and getattr(faults, "reverse_dead", False):  # listed, but leads nowhere
            client.close()
            self._clients.discard(client)
            return
        try:
            stream = self.conn.open_to_host(self.host_spec)
        except StreamClosed:
            client.close()
            self._clients.discard(client)
            return
        pipe(stream, client)
        self._clients.discard(client)

    def stop(self) -> None:
        self._stopped.set()
        _close_listening(self.sock)
        for client in list(self._clients):
            try:
                client.shutdown(socket.SHUT_RDWR)
                client.close()
            except OSError:
                pass


def _close_listening(sock: socket.socket) -> None:
    """Close a listening socket so that a thread blocked in accept() wakes up (Linux needs shutdown)."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


def pipe(stream: Stream, sock: socket.socket) -> None:
    """Copy bytes both ways between an ADB stream and a TCP socket until either side ends."""

    def sock_to_stream() -> None:
        try:
            while True:
                data = sock.recv(64 * 1024)
                if not data:
                    break
                stream.write(data)
        except (OSError, StreamClosed):
            pass
        finally:
            stream.close()

    t = threading.Thread(target=sock_to_stream, daemon=True)
    t.start()
    try:
        while True:
            data = stream.read()
            if not data:
                break
            sock.sendall(data)
    except OSError:
        pass
    finally:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()
        stream.close()
    t.join(timeout=5)


class DeviceListener:
    """The fake phone's adbd TCP port: accepts connections from adb servers."""

    def __init__(self, host: ServiceHost, port: int = 0, bind: str = "127.0.0.1") -> None:
        self.host = host
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((bind, port))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections: set[Connection] = set()
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="fakephone-adbd", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                sock, _ = self.sock.accept()
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = Connection(sock, self.host, self)
            with self._lock:
                self.connections.add(conn)
            conn.start()

    def _forget(self, conn: Connection) -> None:
        with self._lock:
            self.connections.discard(conn)

    def drop_all(self) -> None:
        """Abort every transport connection (the adb server sees the phone vanish)."""
        with self._lock:
            conns = list(self.connections)
        for conn in conns:
            conn.abort()

    def release_held(self) -> None:
        """Answer CNXNs that were held while offline."""
        with self._lock:
            conns = list(self.connections)
        for conn in conns:
            conn.go_online()

    def close(self) -> None:
        self._stopped.set()
        _close_listening(self.sock)
        self.drop_all()
