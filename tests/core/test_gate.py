"""The cool-down gate: a phone that went away escapes it at once; other bad readings count as hot."""

from __future__ import annotations

import pytest

from mobile_webinfer.errors import AdbServerError, DeviceNotFound, DeviceOffline, ParseError
from mobile_webinfer.targets.cooldown import CooldownPolicy, wait_cool


@pytest.mark.parametrize("exc", [DeviceNotFound("gone", serial="S1"), DeviceOffline("offline", serial="S1"),
                                 AdbServerError("adb server not running")])
def test_a_lost_phone_escapes_the_gate_at_once(exc):
    polls = []

    def read():
        polls.append(1)
        raise exc

    with pytest.raises(type(exc)):
        wait_cool(read, CooldownPolicy(timeout_s=600), sleep=lambda s: pytest.fail("waited on a lost phone"))
    assert len(polls) == 1


def test_an_unreadable_value_counts_as_not_cool_until_the_bound():
    clock = [0.0]

    def read():
        raise ParseError("garbage from dumpsys")

    res = wait_cool(read, CooldownPolicy(timeout_s=10, first_interval_s=2), clock=lambda: clock[0],
                    sleep=lambda s: clock.__setitem__(0, clock[0] + s))
    assert not res.ok and res.polls >= 3 and "unreadable" in (res.reason or "")

