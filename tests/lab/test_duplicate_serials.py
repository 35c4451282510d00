"""Two phones with one serial (issue 22): adb lists both, told apart only by their transport ids;
`adb -s SERIAL` cannot address either, so mwi refuses them with one clear line (exit 3).

The real adb server cannot be made to list two phones under one serial here (it names a network
phone by its HOST:PORT), so a small adb *server* stand-in answers the smart-socket protocol's
`host:version` and `host:devices-l` with what adb prints for two cheap phones sharing a serial."""

from __future__ import annotations

import os
import socket
import subprocess
import threading

import pytest

from mobile_webinfer.adb.discovery import find_device
from mobile_webinfer.adb.shell import AdbSession
from mobile_webinfer.errors import DuplicateSerial
from tests.sweep_helpers import MWI

DEVICES_L = ("0123456789ABCDEF       device usb:1-1 product:k62v1 model:Cheap_Phone device:k62v1 transport_id:3\n"
             "0123456789ABCDEF       device usb:1-2 product:k62v1 model:Cheap_Phone device:k62v1 transport_id:5\n"
             "UYT5T18414003349       device usb:2-1 product:ALP_AL00 model:ALP_AL00 device:HWALP transport_id:7\n")


def _serve(sock: socket.socket) -> None:
    while True:
        try:
            conn, _ = sock.accept()
        except OSError:
            return
        with conn:
            try:
                n = int(conn.recv(4), 16)
                req = conn.recv(n).decode()
            except (OSError, ValueError):
                continue
            answers = {"host:version": "0029", "host:devices-l": DEVICES_L, "host:devices": DEVICES_L}
            if req in answers:
                body = answers[req].encode()
                conn.sendall(b"OKAY" + f"{len(body):04x}".encode() + body)
            else:
                msg = f"unsupported by the stand-in: {req}".encode()
                conn.sendall(b"FAIL" + f"{len(msg):04x}".encode() + msg)


@pytest.fixture
def dup_server():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    threading.Thread(target=_serve, args=(sock,), daemon=True).start()
    yield sock.getsockname()[1]
    sock.close()


def test_two_phones_with_one_serial_are_refused(dup_server):
    session = AdbSession("127.0.0.1", dup_server)
    with pytest.raises(DuplicateSerial) as ei:
        find_device("0123456789ABCDEF", session)
    line = ei.value.one_line()
    assert "2 attached phones report the serial '0123456789ABCDEF' (adb transport ids 3, 5)" in line
    assert ei.value.exit_code == 3
    assert find_device("UYT5T18414003349", session).transport_id == 7  # a phone with its own serial is fine


def test_the_sweep_refuses_them_in_one_line(dup_server, tmp_path):
    env = dict(os.environ, ANDROID_ADB_SERVER_PORT=str(dup_server), MWI_CACHE=str(tmp_path / "cache"))
    env.pop("ADB_SERVER_SOCKET", None)
    p = subprocess.run(MWI + ["sweep", "--target", "0123456789ABCDEF", "--models", "tiny_cnn", "--dry-run"],
                       capture_output=True, text=True, timeout=120, env=env)
    assert p.returncode == 3, p.stderr[-2000:]
    assert "Traceback" not in p.stderr and "adb cannot tell them apart" in p.stderr.strip().splitlines()[-1]
