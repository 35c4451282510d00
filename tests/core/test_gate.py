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


class _Rebooting:
    """A phone that is back on adb but still booting for a few polls."""

    def __init__(self, polls_until_booted: int):
        self.left = polls_until_booted
        self.session = self
        self.props_read = 0

    def ensure_server(self) -> None:
        pass

    def wait_until_ready(self, timeout: float, *, reconnect: bool) -> None:
        pass

    def getprop(self, key: str) -> str:
        self.props_read += 1
        self.left -= 1
        return "1" if self.left < 0 else ""


def test_recovery_waits_for_a_rebooted_phone_to_finish_booting():
    from mobile_webinfer.targets.android.gate import recover

    clock = [0.0]
    phone = _Rebooting(3)
    assert recover(phone, clock=lambda: clock[0], sleep=lambda s: clock.__setitem__(0, clock[0] + s))  # type: ignore[arg-type]
    assert phone.props_read == 4
    never = _Rebooting(10 ** 6)
    assert not recover(never, boot_timeout_s=30, clock=lambda: clock[0],  # type: ignore[arg-type]
                       sleep=lambda s: clock.__setitem__(0, clock[0] + s))
