"""Phones over ADB: the adbutils seam (shell.py), the Device facade, profiles, conditioning.

Import from here:

    from mobile_webinfer.adb import Device, list_devices, validate_package
"""

from .device import Device
from .discovery import DeviceInfo, list_devices
from .shell import (
    AdbSession,
    ShellResult,
    validate_activity,
    validate_device_path,
    validate_package,
    validate_serial,
    validate_socket_name,
    validate_url,
)

__all__ = [
    "AdbSession", "Device", "DeviceInfo", "ShellResult", "list_devices", "validate_activity",
    "validate_device_path", "validate_package", "validate_serial", "validate_socket_name", "validate_url",
]
