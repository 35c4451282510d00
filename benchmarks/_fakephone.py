"""A fake phone on a private adb server, for benchmarks (the pattern of the `adb_server` fixture).

    with private_fake_phone("pixel") as (server, phone, device):
        device.shell(["getprop", "ro.product.model"])

The adb server listens on a free port (never 5037, never 5555-5585) with its own HOME; while
the block runs ANDROID_ADB_SERVER_PORT / ADBUTILS_ADB_PATH point at it.  On exit the phone is
stopped, that server (only that one) is killed and the environment restored.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

KEYS = ("ANDROID_ADB_SERVER_PORT", "ADBUTILS_ADB_PATH", "ADB_SERVER_SOCKET")


@contextlib.contextmanager
def private_fake_phone(profile: str = "pixel", **faults: Any) -> Iterator[tuple[Any, Any, Any]]:
    """(AdbServer, FakePhoneHandle, mobile_webinfer Device) for one fake phone."""
    from mobile_webinfer.adb import Device
    from mobile_webinfer.adb.shell import AdbSession
    from tests.fakephone.pytest_fixtures import ADB, start_adb_server, start_fake_phone

    if not os.path.exists(ADB):
        raise SystemExit(f"needs the adb binary at {ADB} (set FAKEPHONE_ADB)")
    saved = {k: os.environ.get(k) for k in KEYS}
    server = start_adb_server()
    if server.port == 5037:  # start_adb_server never picks it; a benchmark must never touch it
        server.kill()
        raise RuntimeError("refusing to use the default adb port 5037")
    phone = None
    try:
        os.environ["ANDROID_ADB_SERVER_PORT"] = str(server.port)
        os.environ["ADBUTILS_ADB_PATH"] = ADB
        os.environ.pop("ADB_SERVER_SOCKET", None)
        phone = start_fake_phone(server, profile, **faults)
        device = Device(phone.serial, client=AdbSession("127.0.0.1", server.port, adb_path=ADB))
        yield server, phone, device
    finally:
        try:
            if phone is not None:
                phone.stop()
        finally:
            server.kill()
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
