"""Inputs checked before anything starts: one line and exit 2 for each that cannot work.

`mwi sweep`, `mwi qoe`, `mwi thermal` and `mwi battery` call these before they open a browser,
touch a phone or write a run directory, so a bad flag costs seconds, not a sweep:

- the results root (`--out`) can be written: not under a regular file, not in /proc or /sys, not on
  a read-only file system, not in a folder this user cannot write;
- every serial is attached (`adb devices`): a serial adb has never listed is bad input, found in
  one round trip (no reconnect, no recovery wait; a phone that is listed but offline or
  unauthorized stays a device failure, exit 3, as before);
- `--benchmark-model PATH` exists, is an ELF executable for each phone's ABI and runs there
  (`native.benchmark_setup.check_benchmark_model`: once per phone and binary, cached by sha256).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from ..errors import UsageError

#: kernel file systems: nothing mwi writes belongs there (and `mkdir` there fails late, with a traceback)
_PSEUDO_ROOTS = ("/proc", "/sys", "/dev")


def check_out_root(out: Path | str, *, flag: str = "--out") -> Path:
    """The results root, if a run directory can be made under it; UsageError (one line) otherwise.
    Nothing is created: the first folder that exists on the way up is what is judged."""
    p = Path(out).expanduser()
    absolute = Path(os.path.abspath(p))
    for root in _PSEUDO_ROOTS:
        if absolute == Path(root) or Path(root) in absolute.parents:
            raise UsageError(f"{flag} {out}: {root} is a kernel file system, not a place for results; "
                             f"choose a folder such as out/")
    probe = absolute
    while not probe.exists():
        if probe.is_symlink():  # a dangling link: mkdir would fail on it
            raise UsageError(f"{flag} {out}: {probe} is a link to nothing")
        probe = probe.parent
    if not probe.is_dir():
        what = "a regular file" if probe.is_file() else "not a folder"
        raise UsageError(f"{flag} {out}: {probe} is {what}, so no folder can be made under it")
    try:
        st = os.statvfs(probe)
    except OSError as exc:
        raise UsageError(f"{flag} {out}: cannot look at {probe}: {exc.strerror or exc}") from None
    if st.f_flag & os.ST_RDONLY:
        raise UsageError(f"{flag} {out}: {probe} is on a read-only file system")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {out}: {probe} is not writable by this user")
    return p


def check_serials_attached(serials: Iterable[str]) -> None:
    """Every serial listed by `adb devices` (in any state); UsageError naming those that are not.
    One `adb devices` round trip: a serial never seen is a typo or a phone not plugged in, and
    waiting for it to come back would only delay the same answer."""
    from ..adb.shell import AdbSession, validate_serial

    wanted = [validate_serial(s) for s in serials]
    if not wanted:
        return
    listed = {e.serial: e.state for e in AdbSession.from_env().list_devices()}
    missing = [s for s in wanted if s not in listed]
    if missing:
        attached = ", ".join(f"{s} ({st})" for s, st in sorted(listed.items())) or "none"
        raise UsageError(f"no device with serial {', '.join(repr(s) for s in missing)} is attached "
                         f"(attached: {attached}; see `mwi devices`)")


def check_benchmark_model_for(serials: Iterable[str], path: str | None) -> None:
    """`--benchmark-model PATH` checked against every phone (exists, ELF for its ABI, runs `--version`)."""
    if not path:
        return
    from ..native.benchmark_setup import check_benchmark_model

    for serial in serials:
        check_benchmark_model(Path(path), serial)
