"""Temporary phone settings as context managers: each reads the original first and restores it.

A sweep holds them in one ExitStack so Ctrl-C or a crash leaves the phone as it was found:

    with contextlib.ExitStack() as stack:
        stack.enter_context(keep_awake(dev))
        stack.enter_context(fixed_brightness(dev, 128))
        stack.enter_context(dev.reverse(8123, 8123))
        ...
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from ..errors import UsageError
from .device import Device, undo_on_exit

# BatteryManager.BATTERY_PLUGGED_AC | USB | WIRELESS
STAY_ON_ALL_PLUGS = 7
ANIMATION_SCALES = ("window_animation_scale", "transition_animation_scale", "animator_duration_scale")


@contextlib.contextmanager
def setting(dev: Device, namespace: str, key: str, value: str) -> Iterator[str | None]:
    """Set one `settings` value; yields the original (None if unset); restores or deletes it."""
    original = dev.get_setting(namespace, key)
    with undo_on_exit(lambda: dev.put_setting(namespace, key, original), f"setting {namespace}/{key}",
                      dev.serial):
        dev.put_setting(namespace, key, value)
        yield original


@contextlib.contextmanager
def keep_awake(dev: Device) -> Iterator[None]:
    """Screen on and awake: KEYCODE_WAKEUP + `svc power stayon usb`; the stay-on value is restored."""
    original = dev.get_setting("global", "stay_on_while_plugged_in")
    with undo_on_exit(lambda: dev.put_setting("global", "stay_on_while_plugged_in", original),
                      "stay_on_while_plugged_in", dev.serial):
        dev.shell(["input", "keyevent", "KEYCODE_WAKEUP"])
        dev.shell(["svc", "power", "stayon", "usb"])
        yield


@contextlib.contextmanager
def stay_on_while_plugged(dev: Device, plugs: int = STAY_ON_ALL_PLUGS) -> Iterator[None]:
    """`settings put global stay_on_while_plugged_in PLUGS` (1 AC, 2 USB, 4 wireless)."""
    if not 0 <= plugs <= 7:
        raise UsageError(f"stay_on_while_plugged_in takes 0-7, got {plugs}")
    with setting(dev, "global", "stay_on_while_plugged_in", str(plugs)):
        yield


@contextlib.contextmanager
def fixed_brightness(dev: Device, level: int = 128) -> Iterator[None]:
    """Manual brightness at `level` (0-255); mode and level restored afterwards."""
    if not 0 <= level <= 255:
        raise UsageError(f"brightness is 0-255, got {level}")
    with contextlib.ExitStack() as stack:
        stack.enter_context(setting(dev, "system", "screen_brightness_mode", "0"))
        stack.enter_context(setting(dev, "system", "screen_brightness", str(level)))
        yield


@contextlib.contextmanager
def no_animations(dev: Device) -> Iterator[None]:
    """All three animation scales at 0 (opt-in: it changes how the phone feels to its owner)."""
    with contextlib.ExitStack() as stack:
        for key in ANIMATION_SCALES:
            stack.enter_context(setting(dev, "global", key, "0"))
        yield


@contextlib.contextmanager
def conditioned(dev: Device, *, brightness: int | None = 128, animations_off: bool = False,
                reverse_ports: tuple[tuple[int, int], ...] = ()) -> Iterator[None]:
    """Everything a measurement needs, in one `with`: awake, stay-on, brightness, reverse ports."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(keep_awake(dev))
        stack.enter_context(stay_on_while_plugged(dev))
        if brightness is not None:
            stack.enter_context(fixed_brightness(dev, brightness))
        if animations_off:
            stack.enter_context(no_animations(dev))
        for device_port, host_port in reverse_ports:
            stack.enter_context(dev.reverse(device_port, host_port))
        yield
