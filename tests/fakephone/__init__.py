"""A fake Android phone that speaks the device side of the ADB protocol over TCP.

Real ``adb`` (``adb connect 127.0.0.1:PORT``) and adbutils talk to it unmodified.  Shell
commands are answered by a strict table (unknown -> exit 127), ``am start`` opens real
headless Chromium, ``benchmark_model`` really runs the pushed model.  See ``phone.py``.
"""

from .faults import CommandFault, Faults
from .phone import FakePhone
from .profiles import Profile, available_profiles, load_profile

__all__ = ["FakePhone", "Faults", "CommandFault", "Profile", "load_profile", "available_profiles"]
