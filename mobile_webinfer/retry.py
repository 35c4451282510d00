"""Deadlines, retries and waiting.

Every call that talks to a device takes a timeout; nested calls share one deadline held
in a context variable, so an inner call never outlives the outer budget.

    with deadline(30):          # the whole step may take 30 s
        dev.shell(["getprop"])  # each call gets min(its own timeout, time left)
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from .errors import CommandTimeout

T = TypeVar("T")

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("mwi_deadline", default=None)


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[float]:
    """Bound everything inside to `seconds` (or less, when an outer deadline is nearer)."""
    now = time.monotonic()
    new = now + seconds
    outer = _deadline.get()
    if outer is not None:
        new = min(new, outer)
    token = _deadline.set(new)
    try:
        yield new
    finally:
        _deadline.reset(token)


def time_left(default: float | None = None) -> float | None:
    """Seconds left under the innermost deadline, or `default` when none is set."""
    d = _deadline.get()
    if d is None:
        return default
    return d - time.monotonic()


def effective_timeout(timeout: float | None, what: str = "operation") -> float | None:
    """`timeout` clipped to the current deadline; raises CommandTimeout when none is left."""
    left = time_left()
    if left is None:
        return timeout
    if left <= 0:
        raise CommandTimeout(f"deadline passed before {what} could start")
    return left if timeout is None else min(timeout, left)


def retry(fn: Callable[[], T], *, attempts: int = 2, is_transient: Callable[[BaseException], bool],
          backoff_s: float = 0.5, on_retry: Callable[[BaseException, int], None] | None = None) -> T:
    """Call `fn`; on an exception for which `is_transient` holds, try again (up to `attempts`)."""
    for i in range(1, attempts + 1):
        try:
            return fn()
        except BaseException as exc:  # noqa: BLE001 - filtered by the predicate
            if i >= attempts or not is_transient(exc):
                raise
            if on_retry is not None:
                on_retry(exc, i)
            left = time_left()
            pause = backoff_s * (2 ** (i - 1))
            if left is not None:
                pause = min(pause, max(0.0, left))
            time.sleep(pause)
    raise AssertionError("unreachable")


def wait_for(predicate: Callable[[], T], *, timeout: float, interval: float = 0.25,
             max_interval: float = 5.0, what: str = "condition") -> T:
    """Poll `predicate` with backoff until it returns something truthy; CommandTimeout after `timeout`."""
    t_end = time.monotonic() + (effective_timeout(timeout, what) or timeout)
    pause = interval
    while True:
        value = predicate()
        if value:
            return value
        now = time.monotonic()
        if now >= t_end:
            raise CommandTimeout(f"timed out after {timeout:.1f} s waiting for {what}")
        time.sleep(min(pause, max(0.0, t_end - now)))
        pause = min(pause * 1.5, max_interval)
