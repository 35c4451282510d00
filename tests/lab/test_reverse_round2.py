"""`adb reverse` faults, round two (issue 22), on the fake phone: a reverse the phone refuses (its
port bound by another process) is `reverse-unavailable` with adbd's words; a mapping that is
listed but leads nowhere is caught in seconds by a request from the phone's side."""

from __future__ import annotations

import time

import pytest

from mobile_webinfer.adb.device import Device
from mobile_webinfer.targets.android.browser_cell import (
    ReverseUnavailable,
    create_reverse,
    reverse_mapping,
    reverse_reaches_host,
    verify_reverse,
)
from mobile_webinfer.targets.android.target import free_port
from mobile_webinfer.web.server import PageServer


@pytest.fixture
def server():
    with PageServer() as s:
        yield s


def test_a_refused_reverse_is_reverse_unavailable(fake_phone, server):
    phone = fake_phone("pixel")
    phone.control.set_fault("reverse_port_bound", True)
    dev, port = Device(phone.serial), free_port()
    with pytest.raises(ReverseUnavailable, match="refused adb reverse .*Address already in use"), \
            reverse_mapping(dev, port, server.port):
        pytest.fail("mapped a port the phone refused")
    with pytest.raises(ReverseUnavailable, match="reverse-unavailable: the phone refused"):
        create_reverse(dev, port, server.port)


def test_a_listed_but_dead_reverse_is_caught_in_seconds(fake_phone, server):
    phone = fake_phone("pixel")
    dev, port = Device(phone.serial), free_port()
    with reverse_mapping(dev, port, server.port):
        verify_reverse(dev, port, server.port)  # a live mapping: listed, and a request reaches the host
        assert reverse_reaches_host(dev, port) is None
        phone.control.set_fault("reverse_dead", True)
        assert f"tcp:{port}" in phone.adb("reverse", "--list").stdout  # still listed
        t0 = time.monotonic()
        with pytest.raises(ReverseUnavailable, match="is listed but the phone does not reach the host"):
            verify_reverse(dev, port, server.port)
        assert time.monotonic() - t0 < 15
    assert phone.adb("reverse", "--list").stdout.strip() == ""
