"""Bringing a phone back after it dropped away: an adb server restart, a re-plug, a reboot.

A reboot (a crash, an update) takes a phone away for tens of seconds to minutes: it is waited
for up to the boot timeout (`--boot-timeout`, 180 s by default) until it is `device` again and
Android has finished booting (`sys.boot_completed` 1).  The stop event (Ctrl-C) ends the wait at
once, so the sweep unwinds and restores its phones instead of sitting out the bound.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ...adb.device import Device
from ...errors import MwiError
from ..contract import check_stop

log = logging.getLogger(__name__)

DEFAULT_BOOT_TIMEOUT_S = 180.0
POLL_S = 2.0


def recover(dev: Device, *, boot_timeout_s: float = DEFAULT_BOOT_TIMEOUT_S, stop: threading.Event | None = None,
            clock: Callable[[], float] = time.monotonic, announce: bool = True) -> bool:
    """Restart the adb server if it is gone, reconnect a network phone, and wait (up to
    `boot_timeout_s` in all) until the phone is `device` and `sys.boot_completed` is 1.  True when it
    is back; False when the bound passed.  `stop` set: raises `Stopped` within a poll (<= 2 s)."""
    stop = stop or threading.Event()
    t_end = clock() + boot_timeout_s
    said = False
    last = ""
    while True:
        check_stop(stop)
        try:
            dev.session.ensure_server()
            dev.wait_until_ready(max(0.5, min(POLL_S, t_end - clock())), reconnect=True)
            booted = str(dev.getprop("sys.boot_completed")).strip() == "1"
            last = "" if booted else "booting (sys.boot_completed is not 1)"
            if booted:
                if said:
                    log.warning("%s: back", dev.serial)
                return True
        except MwiError as exc:
            last = exc.one_line()
        left = t_end - clock()
        if left <= 0:
            log.warning("%s: not back after %.0f s (--boot-timeout): %s", dev.serial, boot_timeout_s, last)
            return False
        if announce and not said:
            log.warning("%s: gone (%s); waiting up to %.0f s for it to come back (a reboot; --boot-timeout; "
                        "Ctrl-C stops)", dev.serial, last, boot_timeout_s)
            said = True
        stop.wait(min(POLL_S, left))
