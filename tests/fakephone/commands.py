"""The strict Android command table of the fake phone (a mixin of :class:`FakePhone`).

``cmd_<name>(args, ctx) -> Result`` answers one simple command; a form the table does not
script raises :class:`UnknownCommand` (the shell turns it into exit 127 and
``fakephone: unknown command: ...`` on stderr).  Outputs come from tests/fixtures captures
or are computed from the phone's state and the real Chromium processes.
"""

from __future__ import annotations

import os
import re
import shlex
import stat as stat_mod
import threading
import time
import posixpath
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .browser import ChromiumInstance, format_meminfo_block
from .cdp import tap as cdp_tap
from .fs import FsError
from .profiles import read_capture

if TYPE_CHECKING:
    from .transport import Stream

PACKAGE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+$")
SYSTEM_PACKAGES = ("android", "com.android.systemui", "com.android.settings", "com.android.shell",
                   "com.android.providers.settings", "com.google.android.webview",
                   "com.android.launcher3")

SYSTEM_PROCS = [  # (pid, ppid, user, name): the non-browser part of `ps -A`
    (1, 0, "root", "init"), (2, 0, "root", "[kthreadd]"), (92, 2, "root", "[kswapd0]"),
    (512, 1, "logd", "logd"), (640, 1, "system", "servicemanager"), (689, 1, "root", "zygote64"),
    (700, 1, "system", "surfaceflinger"), (1021, 689, "system", "system_server"),
    (1388, 689, "u0_a98", "com.android.systemui"), (2001, 1, "shell", "adbd"),
]

KEYCODES = {"KEYCODE_WAKEUP": 224, "KEYCODE_SLEEP": 223, "KEYCODE_POWER": 26, "KEYCODE_HOME": 3,
            "KEYCODE_BACK": 4, "KEYCODE_MENU": 82, "KEYCODE_ENTER": 66, "KEYCODE_DPAD_CENTER": 23}


def _bre_to_python(pattern: str) -> str:
    """grep's basic regex: ``\\| \\( \\) \\+ \\?`` are operators, bare ``| ( ) + ? { }`` literals."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            out.append(nxt if nxt in "|()+?{}" else c + nxt)
            i += 2
            continue
        out.append("\\" + c if c in "|()+?{}" else c)
        i += 1
    return "".join(out)


class UnknownCommand(Exception):
    """The strict table has no answer for this command line."""


class ShellExit(Exception):
    """``exit N``: stop the command line with status N."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class Hang(Exception):
    """The command must never answer (a fault script)."""


@dataclass(frozen=True)
class Result:
    """What one command (or a whole command line) printed, and its exit status."""

    stdout: bytes = b""
    stderr: bytes = b""
    code: int = 0


def ok(text: str = "") -> Result:
    return Result(text.encode())


def fail(text: str, code: int = 1) -> Result:
    return Result(b"", text.encode(), code)


@dataclass(frozen=True)
class Ctx:
    """What a command handler gets besides argv."""

    stdin: bytes
    stream: Stream | None
    line: str


class AndroidCommands:
    """The command handlers; expects the attributes :class:`FakePhone` sets up."""

    profile: Any
    heat: Any  # HeatModel | None (heat.py)
    faults: Any

    def _unknown(self, name: str, args: list[str]) -> UnknownCommand:
        return UnknownCommand(shlex.join([name, *args]))

    # -- basics
    def cmd_echo(self, args: list[str], ctx: Ctx) -> Result:
        newline = True
        if args and args[0] == "-n":
            newline, args = False, args[1:]
        return ok(" ".join(args) + ("\n" if newline else ""))

    def cmd_exit(self, args: list[str], ctx: Ctx) -> Result:
        if len(args) > 1 or (args and not args[0].isdigit()):
            raise self._unknown("exit", args)
        raise ShellExit(int(args[0]) & 0xFF if args else 0)

    def cmd_true(self, args: list[str], ctx: Ctx) -> Result:
        return Result()

    def cmd_false(self, args: list[str], ctx: Ctx) -> Result:
        return Result(code=1)

    def cmd_id(self, args: list[str], ctx: Ctx) -> Result:
        if args:
            raise self._unknown("id", args)
        return ok("uid=2000(shell) gid=2000(shell) groups=2000(shell),1004(input),1007(log),1011(adb),"
                  "1015(sdcard_rw),1028(sdcard_r),1078(ext_data_rw),1079(ext_obb_rw),3001(net_bt_admin),"
                  "3002(net_bt),3003(inet),3006(net_bw_stats),3009(readproc),3011(uhid),3012(readtracefs) "
                  "context=u:r:shell:s0\n")

    def cmd_whoami(self, args: list[str], ctx: Ctx) -> Result:
        return ok("shell\n")

    def cmd_sleep(self, args: list[str], ctx: Ctx) -> Result:
        try:
            secs = float(args[0]) if len(args) == 1 else None
        except ValueError:
            secs = None
        if secs is None or secs < 0:
            return fail("sleep: bad duration\n")
        end = time.monotonic() + secs
        while time.monotonic() < end:
            if ctx.stream is not None and ctx.stream.closed.is_set():
                raise Hang()  # nobody is listening any more
            time.sleep(min(0.05, max(0.0, end - time.monotonic())))
        return Result()

    def cmd_sh(self, args: list[str], ctx: Ctx) -> Result:
        if len(args) == 2 and args[0] == "-c":
            return self.execute(args[1], ctx.stream)
        raise self._unknown("sh", args)

    def cmd_uptime(self, args: list[str], ctx: Ctx) -> Result:
        if args:
            raise self._unknown("uptime", args)
        up = int(self.uptime_s())
        days, rem = divmod(up, 86400)
        hours, minutes = rem // 3600, (rem % 3600) // 60
        clock = time.strftime("%H:%M:%S", time.gmtime())
        load = os.getloadavg()
        dpart = f"{days} day{'s' if days != 1 else ''}, " if days else ""
        return ok(f" {clock} up {dpart}{hours:2d}:{minutes:02d},  0 users,  load average: "
                  f"{load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}\n")

    # -- props and settings
    def cmd_getprop(self, args: list[str], ctx: Ctx) -> Result:
        if not args:
            return ok("".join(f"[{k}]: [{v}]\n" for k, v in sorted(self.props.items())))
        if len(args) in (1, 2) and not args[0].startswith("-"):
            return ok(self.props.get(args[0], args[1] if len(args) == 2 else "") + "\n")
        raise self._unknown("getprop", args)

    def cmd_settings(self, args: list[str], ctx: Ctx) -> Result:
        if len(args) >= 2 and args[0] == "--user":
            args = args[2:]
        if len(args) < 2 or args[1] not in self.settings:
            if len(args) >= 2 and args[0] in ("get", "put", "list", "delete"):
                return fail(f"Invalid namespace '{args[1]}'\n", 255)
            raise self._unknown("settings", args)
        verb, ns, rest = args[0], self.settings[args[1]], args[2:]
        with self._lock:
            if verb == "get" and len(rest) == 1:
                return ok(ns.get(rest[0], "null") + "\n")
            if verb == "put" and len(rest) in (2, 3):
                if not self.faults.settings_ignored:  # issue 22: a value that does not take
                    ns[rest[0]] = rest[1]
                return Result()
            if verb == "delete" and len(rest) == 1:
                existed = ns.pop(rest[0], None) is not None
                return ok(f"Deleted {int(existed)} rows\n")
            if verb == "list" and not rest:
                return ok("".join(f"{k}={v}\n" for k, v in sorted(ns.items())))
        raise self._unknown("settings", args)

    def cmd_svc(self, args: list[str], ctx: Ctx) -> Result:
        values = {"true": "7", "false": "0", "ac": "1", "usb": "2", "wireless": "4"}
        if len(args) == 3 and args[:2] == ["power", "stayon"] and args[2] in values:
            with self._lock:
                self.settings["global"]["stay_on_while_plugged_in"] = values[args[2]]
            return Result()
        raise self._unknown("svc", args)

    def cmd_wm(self, args: list[str], ctx: Ctx) -> Result:
        p = self.profile
        if args[:1] == ["size"] and len(args) <= 2:
            if len(args) == 2:
                if args[1] == "reset":
                    self.wm_size = None
                elif re.fullmatch(r"\d+x\d+", args[1]):
                    self.wm_size = args[1]
                else:
                    return fail(f"Error: bad size {args[1]}\n", 255)
                return Result()
            text = f"Physical size: {p['screen_size']}\n"
            return ok(text + (f"Override size: {self.wm_size}\n" if self.wm_size else ""))
        if args[:1] == ["density"] and len(args) <= 2:
            if len(args) == 2:
                if args[1] == "reset":
                    self.wm_density = None
                elif args[1].isdigit():
                    self.wm_density = int(args[1])
                else:
                    return fail(f"Error: bad number {args[1]}\n", 255)
                return Result()
            text = f"Physical density: {p['screen_density']}\n"
            return ok(text + (f"Override density: {self.wm_density}\n" if self.wm_density else ""))
        if args == ["dismiss-keyguard"]:
            if not self.faults.keyguard_secure:
                self.faults.keyguard = False
            return Result()
        raise self._unknown("wm", args)

    def cmd_input(self, args: list[str], ctx: Ctx) -> Result:
        if len(args) == 2 and args[0] == "keyevent":
            key = args[1]
            code = KEYCODES.get(key) if not key.isdigit() else int(key)
            if code is None and not key.startswith("KEYCODE_"):
                return fail(f"Error: Unknown keycode: {key}\n", 1)
            if code == 224:
                self.awake = True
            elif code == 223:
                self.awake = False
            elif code == 26:
                self.awake = not self.awake
            elif code == 4 and self.faults.notification_shade and not self.faults.ui_dialog:  # BACK closes it
                self.faults.notification_shade = False
            elif code == 4 and self.faults.ui_dialog:  # BACK dismisses a system dialog (after N presses)
                self.faults.ui_dialog_presses -= 1
                if self.faults.ui_dialog_presses <= 0:
                    self.faults.ui_dialog = None
            return Result()
        if len(args) == 3 and args[0] == "tap" and all(a.isdigit() for a in args[1:]):
            # a real press + release in the foreground browser's page (CDP), as a finger would
            inst = self.browsers.get(self.foreground) if self.foreground else None
            if inst is not None and inst.alive() and inst.devtools_port:
                try:
                    cdp_tap(inst.devtools_port, int(args[1]), int(args[2]))
                except (OSError, RuntimeError, ValueError) as exc:
                    return fail(f"fakephone: input tap could not reach the page: {exc}\n", 1)
            return Result()
        if len(args) in (5, 6) and args[0] == "swipe" and all(a.isdigit() for a in args[1:]):
            return Result()
        if len(args) == 2 and args[0] == "text":
            return Result()
        raise self._unknown("input", args)

    # -- files
    def cmd_cat(self, args: list[str], ctx: Ctx) -> Result:
        if not args:
            return Result(ctx.stdin)
        out, err, code = bytearray(), bytearray(), 0
        for path in args:
            try:
                out += self.read_file(path)
            except FsError as exc:
                err += f"cat: {path}: {exc}\n".encode()
                code = 1
        return Result(bytes(out), bytes(err), code)

    def read_file(self, path: str) -> bytes:
        """Contents of a device file: virtual /proc and /sys, else the fake storage."""
        full = self.fs.normalize(path)
        virtual = self._virtual_file(full)
        if virtual is not None:
            return virtual.encode()
        return self.fs.read(full)

    def _virtual_file(self, path: str) -> str | None:
        p = self.profile
        m = re.fullmatch(r"/sys/class/thermal/thermal_zone(\d+)/(type|temp|mode)", path)
        if m:
            zones = p.get("thermal_zones", [])
            i = int(m.group(1))
            if i >= len(zones):
                raise FsError("No such file or directory")
            name, milli = zones[i]
            if m.group(2) == "type":
                return f"{name}\n"
            if m.group(2) == "mode":
                return "enabled\n"
            bump = 3000 * self.thermal_status()
            if self.heat is not None:
                bump = int((self.heat.temperature() - self.heat.ambient_c) * 1000)
            if name.lower() in ("battery", "bat"):
                return f"{int(self.battery_temp_c() * 1000)}\n"
            return f"{milli + bump}\n"
        m = re.fullmatch(r"/sys/devices/system/cpu/cpu(\d+)/cpufreq/(\w+)", path)
        if m:
            maxes, mins = p["cpu_max_khz"], p["cpu_min_khz"]
            i = int(m.group(1))
            if i >= len(maxes):
                raise FsError("No such file or directory")
            attr = m.group(2)
            cur = self._cpu_cur_khz(i)
            table = {"scaling_cur_freq": cur, "cpuinfo_cur_freq": cur, "cpuinfo_max_freq": maxes[i],
                     "cpuinfo_min_freq": mins[i], "scaling_max_freq": maxes[i], "scaling_min_freq": mins[i],
                     "scaling_governor": "schedutil", "scaling_available_governors": "schedutil performance",
                     "related_cpus": " ".join(str(c) for c in next(v for v in self._policies().values() if i in v)),
                     "affected_cpus": " ".join(str(c) for c in next(v for v in self._policies().values() if i in v))}
            if attr not in table:
                raise FsError("No such file or directory")
            return f"{table[attr]}\n"
        m = re.fullmatch(r"/sys/devices/system/cpu/cpufreq/policy(\d+)/(\w+)", path)
        if m and int(m.group(1)) in self._policies():
            return self._virtual_file(f"/sys/devices/system/cpu/cpu{m.group(1)}/cpufreq/{m.group(2)}")
        m = re.fullmatch(r"/sys/devices/system/cpu/cpu(\d+)/online", path)
        if m and int(m.group(1)) < len(p["cpu_max_khz"]):
            return "1\n"
        m = re.fullmatch(r"/sys/devices/system/cpu/(online|possible|present)", path)
        if m:
            return f"0-{len(p['cpu_max_khz']) - 1}\n"
        m = re.fullmatch(r"/sys/class/power_supply/(battery|usb|ac)/(\w+)", path)
        if m:
            return self._power_supply(m.group(1), m.group(2))
        if path == "/proc/stat":
            return self._proc_stat()
        if path == "/proc/net/unix":
            return self._proc_net_unix()
        if path == "/proc/uptime":
            up = self.uptime_s()
            return f"{up:.2f} {up * len(p['cpu_max_khz']) * 0.8:.2f}\n"
        if path == "/proc/loadavg":
            load = os.getloadavg()
            return f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} 1/1200 {os.getpid()}\n"
        if path == "/proc/meminfo" and p.get("meminfo_capture"):
            return read_capture(p["meminfo_capture"])
        if path == "/proc/cpuinfo" and p.get("cpuinfo_capture"):
            return read_capture(p["cpuinfo_capture"])
        m = re.fullmatch(r"/proc/(\d+)/(stat|status|cmdline|smaps_rollup|statm|oom_score_adj)", path)
        if m:
            pid = int(m.group(1))
            proc = next((x for x in self.android_processes() if x.pid == pid), None)
            if proc is None:
                raise FsError("No such file or directory")
            if m.group(2) == "cmdline":
                return proc.name + "\0"
            try:
                with open(f"/proc/{pid}/{m.group(2)}") as fh:
                    text = fh.read()
            except OSError:
                raise FsError("No such file or directory") from None
            if m.group(2) == "stat":
                comm = proc.name[-15:]
                text = f"{pid} ({comm}) " + text.rsplit(")", 1)[1].lstrip()
            return text
        if path.startswith(("/proc/", "/sys/")):
            raise FsError("No such file or directory")
        return None

    def _proc_net_unix(self) -> str:
        """The kernel's table: a few system sockets, plus each running browser's DevTools socket."""
        rows = ["Num       RefCount Protocol Flags    Type St Inode Path"]
        fixed = [(1001, "/dev/socket/installd"), (1002, "/dev/socket/lmkd"), (1003, "@jdwp-control"),
                 (1004, "/dev/socket/adbd")]
        for inode, path in fixed:
            rows.append(f"0000000000000000: 00000002 00000000 00010000 0001 01 {inode:>5} {path}")
        with self._lock:
            items = list(self.browsers.items())
        for n, (pkg, inst) in enumerate(items):
            spec = self.installed.get(pkg)
            if spec and spec.devtools_socket and inst.alive() and inst.devtools_port \
                    and not self.faults.devtools_socket_missing:
                rows.append(f"0000000000000000: 00000002 00000000 00010000 0001 01 {245000 + n} "
                            f"@{spec.devtools_socket}")
        rows.append("0000000000000000: 00000003 00000000 00000000 0001 03 90916")
        return "\n".join(rows) + "\n"

    def _policies(self) -> dict[int, list[int]]:
        """cpufreq policies: first CPU of each cluster (same max frequency, contiguous) -> its CPUs."""
        maxes = self.profile["cpu_max_khz"]
        out: dict[int, list[int]] = {}
        for cpu, freq in enumerate(maxes):
            if cpu and maxes[cpu - 1] == freq:
                out[max(out)].append(cpu)
            else:
                out[cpu] = [cpu]
        return out

    _CPUFREQ_ATTRS = ("affected_cpus", "cpuinfo_cur_freq", "cpuinfo_max_freq", "cpuinfo_min_freq",
                      "related_cpus", "scaling_available_governors", "scaling_cur_freq", "scaling_governor",
                      "scaling_max_freq", "scaling_min_freq")

    def list_virtual_dir(self, path: str) -> list[str] | None:
        """Entries of a virtual /sys directory (for globbing); None when ``path`` is not one."""
        ncpu = len(self.profile["cpu_max_khz"])
        if path == "/sys/devices/system/cpu":
            return [f"cpu{i}" for i in range(ncpu)] + ["cpufreq", "online", "possible", "present"]
        if path == "/sys/devices/system/cpu/cpufreq":
            return [f"policy{i}" for i in self._policies()]
        if re.fullmatch(r"/sys/devices/system/cpu/cpufreq/policy\d+", path):
            return list(self._CPUFREQ_ATTRS) if int(path.rsplit("policy", 1)[1]) in self._policies() else None
        m = re.fullmatch(r"/sys/devices/system/cpu/cpu(\d+)(/cpufreq)?", path)
        if m and int(m.group(1)) < ncpu:
            return list(self._CPUFREQ_ATTRS) if m.group(2) else ["cpufreq", "online"]
        if path == "/sys/class/thermal":
            return [f"thermal_zone{i}" for i in range(len(self.profile.get("thermal_zones", [])))]
        if re.fullmatch(r"/sys/class/thermal/thermal_zone\d+", path):
            return ["mode", "temp", "type"]
        if path == "/sys/class/power_supply":
            return ["ac", "battery", "usb"]
        return None

    def _cpu_cur_khz(self, i: int) -> int:
        p = self.profile
        lo, hi = p["cpu_min_khz"][i], p["cpu_max_khz"][i]
        if self.heat is not None:  # the heat model: clocks step down with the thermal status
            return max(lo, int(hi * self.heat.freq_factor()) // 100000 * 100000)
        load = min(1.0, os.getloadavg()[0] / max(1, os.cpu_count() or 1))
        step = 100000
        return int((lo + (hi - lo) * load) // step * step) or lo

    def _power_supply(self, supply: str, attr: str) -> str:
        plugged = self._battery_state()
        if supply in ("usb", "ac"):
            if attr == "online":
                return f"{int(plugged['USB powered' if supply == 'usb' else 'AC powered'] == 'true')}\n"
            raise FsError("No such file or directory")
        level = int(plugged["level"])
        values = {"capacity": level, "temp": int(round(self.battery_temp_c() * 10)),
                  "voltage_now": 3700000 + level * 5000,
                  "current_now": int(self.profile.get("battery_current_ua_sign", -1)) *
                  (-450000 if plugged["status"] == "2" else 380000),
                  "status": "Charging" if plugged["status"] == "2" else "Discharging",
                  "health": "Good", "present": 1, "technology": "Li-ion"}
        if attr not in values:
            raise FsError("No such file or directory")
        return f"{values[attr]}\n"

    def _proc_stat(self) -> str:
        ncpu = len(self.profile["cpu_max_khz"])
        try:
            with open("/proc/stat") as fh:
                host = [int(x) for x in fh.readline().split()[1:11]]
        except (OSError, ValueError):
            host = [0] * 10
        host += [0] * (10 - len(host))
        lines = ["cpu  " + " ".join(str(v) for v in host)]
        for c in range(ncpu):
            share = [v // ncpu + (1 if c < v % ncpu else 0) for v in host]
            lines.append(f"cpu{c} " + " ".join(str(v) for v in share))
        btime = int(self.wall_start - self.uptime_s() + (time.monotonic() - self.t_start))
        lines += ["intr 0", "ctxt 0", f"btime {btime}", "processes 1200", "procs_running 1",
                  "procs_blocked 0", "softirq 0 0 0 0 0 0 0 0 0 0 0"]
        return "\n".join(lines) + "\n"

    def cmd_ls(self, args: list[str], ctx: Ctx) -> Result:
        flags = "".join(a[1:] for a in args if a.startswith("-") and len(a) > 1)
        paths = [a for a in args if not (a.startswith("-") and len(a) > 1)] or ["/"]
        if set(flags) - set("lad1"):
            raise self._unknown("ls", args)
        out, err, code = [], [], 0
        for path in paths:
            virtual = self.list_virtual_dir(self.fs.normalize(path))
            if virtual is not None and "l" not in flags and "d" not in flags:
                out.extend(sorted(virtual))
                continue
            try:
                st = self.fs.stat(path)
                names = [path] if "d" in flags or not stat_mod.S_ISDIR(st.st_mode) else self.fs.listdir(path)
                if "a" in flags and "d" not in flags and stat_mod.S_ISDIR(st.st_mode):
                    names = [".", ".."] + names
                for name in names:
                    if "l" in flags:
                        full = path if name == path else posixpath.join(self.fs.normalize(path), name)
                        s = self.fs.stat(full)
                        stamp = time.strftime("%Y-%m-%d %H:%M", time.gmtime(s.st_mtime))
                        out.append(f"{stat_mod.filemode(s.st_mode)} 1 shell shell {s.st_size:8d} {stamp} {name}")
                    else:
                        out.append(name)
            except FsError as exc:
                err.append(f"ls: {path}: {exc}")
                code = 1
        return Result(("\n".join(out) + "\n" if out else "").encode(),
                      ("\n".join(err) + "\n" if err else "").encode(), code)

    def cmd_mkdir(self, args: list[str], ctx: Ctx) -> Result:
        parents = "-p" in args
        paths = [a for a in args if a != "-p"]
        if not paths or any(a.startswith("-") for a in paths):
            raise self._unknown("mkdir", args)
        for path in paths:
            try:
                self.fs.mkdir(path, parents=parents)
            except FsError as exc:
                return fail(f"mkdir: '{path}': {exc}\n")
        return Result()

    def cmd_rm(self, args: list[str], ctx: Ctx) -> Result:
        flags = "".join(a[1:] for a in args if a.startswith("-"))
        paths = [a for a in args if not a.startswith("-")]
        if set(flags) - set("rfR") or not paths:
            raise self._unknown("rm", args)
        code, err = 0, ""
        for path in paths:
            try:
                self.fs.remove(path, recursive="r" in flags or "R" in flags)
            except FsError as exc:
                if "f" in flags and str(exc) == "No such file or directory":
                    continue
                err += f"rm: {path}: {exc}\n"
                code = 1
        return Result(b"", err.encode(), code)

    def cmd_chmod(self, args: list[str], ctx: Ctx) -> Result:
        if len(args) < 2 or args[0].startswith("-"):
            raise self._unknown("chmod", args)
        for path in args[1:]:
            try:
                self.fs.chmod(path, args[0])
            except FsError as exc:
                return fail(f"chmod: {path}: {exc}\n")
        return Result()

    def cmd_touch(self, args: list[str], ctx: Ctx) -> Result:
        if not args or any(a.startswith("-") for a in args):
            raise self._unknown("touch", args)
        for path in args:
            try:
                self.fs.write(path, b"", append=True)
            except FsError as exc:
                return fail(f"touch: '{path}': {exc}\n")
        return Result()

    def cmd_test(self, args: list[str], ctx: Ctx) -> Result:
        if args and args[-1] == "]":
            args = args[:-1]
        if len(args) == 2 and args[0] in ("-e", "-f", "-d", "-x", "-s", "-r", "-w"):
            try:
                st = self.fs.stat(args[1])
            except FsError:
                return Result(code=1)
            checks = {"-e": True, "-f": stat_mod.S_ISREG(st.st_mode), "-d": stat_mod.S_ISDIR(st.st_mode),
                      "-x": bool(st.st_mode & 0o111), "-s": st.st_size > 0, "-r": True,
                      "-w": not self.fs.is_virtual_dir(args[1]) or args[1] in ("/data/local/tmp", "/sdcard")}
            return Result(code=0 if checks[args[0]] else 1)
        if len(args) == 3 and args[1] in ("=", "!="):
            return Result(code=0 if (args[0] == args[2]) == (args[1] == "=") else 1)
        raise self._unknown("test", args)

    def cmd_sha256sum(self, args: list[str], ctx: Ctx) -> Result:
        import hashlib
        if not args:
            return ok(hashlib.sha256(ctx.stdin).hexdigest() + "  -\n")
        out, err, code = "", "", 0
        for path in args:
            try:
                out += f"{hashlib.sha256(self.read_file(path)).hexdigest()}  {path}\n"
            except FsError as exc:
                err += f"sha256sum: {path}: {exc}\n"
                code = 1
        return Result(out.encode(), err.encode(), code)

    def cmd_stat(self, args: list[str], ctx: Ctx) -> Result:
        if len(args) == 3 and args[0] == "-c" and args[1] in ("%s", "%a", "%Y"):
            try:
                st = self.fs.stat(args[2])
            except FsError as exc:
                return fail(f"stat: '{args[2]}': {exc}\n")
            value = {"%s": st.st_size, "%a": f"{stat_mod.S_IMODE(st.st_mode):o}", "%Y": int(st.st_mtime)}
            return ok(f"{value[args[1]]}\n")
        raise self._unknown("stat", args)

    # -- text filters (pipelines)
    def cmd_grep(self, args: list[str], ctx: Ctx) -> Result:
        """``grep [-EivFwcHh] PATTERN [FILE...]``; several files get ``FILE:`` prefixes like toybox."""
        flags, rest = "", []
        for a in args:
            if a.startswith("-") and len(a) > 1 and not rest:
                flags += a[1:]
            else:
                rest.append(a)
        if set(flags) - set("EivFwcHh") or not rest:
            raise self._unknown("grep", args)
        pattern, files = rest[0], rest[1:]
        if "F" in flags:
            pattern = re.escape(pattern)
        elif "E" not in flags:
            pattern = _bre_to_python(pattern)
        if "w" in flags:
            pattern = rf"\b(?:{pattern})\b"
        rx = re.compile(pattern, re.I if "i" in flags else 0)
        prefix = ("H" in flags or len(files) > 1) and "h" not in flags
        sources: list[tuple[str, bytes]] = []
        err = ""
        for path in files:
            try:
                sources.append((path, self.read_file(path)))
            except FsError as exc:
                err += f"grep: {path}: {exc}\n"
        if not files:
            sources.append(("(standard input)", ctx.stdin))
        out, count = [], 0
        for path, data in sources:
            hits = [ln for ln in data.decode("utf-8", "replace").splitlines()
                    if (rx.search(ln) is not None) != ("v" in flags)]
            count += len(hits)
            if "c" in flags:
                out.append(f"{path}:{len(hits)}" if prefix else str(len(hits)))
            else:
                out.extend(f"{path}:{ln}" if prefix else ln for ln in hits)
        code = 2 if err else (0 if count else 1)
        return Result("".join(ln + "\n" for ln in out).encode(), err.encode(), code)

    def _head_tail(self, name: str, args: list[str], ctx: Ctx) -> Result:
        n = 10
        rest = []
        i = 0
        while i < len(args):
            a = args[i]
            if a == "-n" and i + 1 < len(args) and args[i + 1].lstrip("-").isdigit():
                n = int(args[i + 1])
                i += 2
                continue
            if re.fullmatch(r"-n?\d+", a):
                n = int(a.lstrip("-n"))
            elif a.startswith("-"):
                raise self._unknown(name, args)
            else:
                rest.append(a)
            i += 1
        data = b"".join(self.read_file(p) for p in rest) if rest else ctx.stdin
        lines = data.decode("utf-8", "replace").splitlines(keepends=True)
        chosen = lines[:n] if name == "head" else (lines[-n:] if n else [])
        return ok("".join(chosen))

    def cmd_head(self, args: list[str], ctx: Ctx) -> Result:
        return self._head_tail("head", args, ctx)

    def cmd_tail(self, args: list[str], ctx: Ctx) -> Result:
        return self._head_tail("tail", args, ctx)

    def cmd_wc(self, args: list[str], ctx: Ctx) -> Result:
        if args != ["-l"]:
            raise self._unknown("wc", args)
        return ok(str(ctx.stdin.count(b"\n")) + "\n")

    # -- processes
    def cmd_pidof(self, args: list[str], ctx: Ctx) -> Result:
        names = [a for a in args if not a.startswith("-")]
        if len(names) != len(args) or not names:
            raise self._unknown("pidof", args)
        procs = self.android_processes()
        pids = [str(p.pid) for n in names for p in procs if p.name == n]
        pids += [str(pid) for n in names for pid, _, _, pname in SYSTEM_PROCS if pname == n]
        if not pids:
            return Result(code=1)
        return ok(" ".join(pids) + "\n")

    def _ps_rows(self) -> list[dict[str, str]]:
        rows = []
        for pid, ppid, user, name in SYSTEM_PROCS:
            rows.append({"USER": user, "PID": str(pid), "PPID": str(ppid), "VSZ": "0", "RSS": "0",
                         "WCHAN": "0", "ADDR": "0", "S": "S", "NAME": name, "ARGS": name, "CMD": name})
        for proc in self.android_processes():
            status = ""
            try:
                with open(f"/proc/{proc.pid}/status") as fh:
                    status = fh.read()
            except OSError:
                continue
            vsz = re.search(r"VmSize:\s+(\d+)", status)
            rss = re.search(r"VmRSS:\s+(\d+)", status)
            state = re.search(r"State:\s+(\w)", status)
            user = "u0_a142" if proc.kind in ("browser", "gpu", "utility") else "u0_i9001"
            rows.append({"USER": user, "PID": str(proc.pid), "PPID": str(proc.ppid),
                         "VSZ": vsz.group(1) if vsz else "0", "RSS": rss.group(1) if rss else "0",
                         "WCHAN": "0", "ADDR": "0", "S": state.group(1) if state else "S",
                         "NAME": proc.name, "ARGS": proc.name, "CMD": proc.name})
        for pid, args in self.native_processes().items():  # issue 22: hung native runs (benchmark_model)
            name = args.split(" ", 1)[0]
            rows.append({"USER": "shell", "PID": str(pid), "PPID": "1", "VSZ": "0", "RSS": "0", "WCHAN": "0",
                         "ADDR": "0", "S": "S", "NAME": name, "ARGS": args, "CMD": args})
        return rows

    def cmd_kill(self, args: list[str], ctx: Ctx) -> Result:
        """``kill -9 PID...`` (also ``-KILL``, ``-s KILL``): ends the fake's hung native processes;
        any other pid is "No such process" (the browsers die by ``am force-stop``)."""
        rest = list(args)
        if rest[:2] == ["-s", "KILL"]:
            rest = rest[2:]
        elif rest[:1] in (["-9"], ["-KILL"]):
            rest = rest[1:]
        else:
            raise self._unknown("kill", args)
        if not rest or not all(a.isdigit() for a in rest):
            raise self._unknown("kill", args)
        err = []
        with self._lock:
            for a in rest:
                proc = self.native_procs.get(int(a))
                if proc is None:
                    err.append(f"kill: {a}: No such process\n")
                else:
                    proc[1].set()
        return Result(b"", "".join(err).encode(), 1 if err else 0)

    def cmd_ps(self, args: list[str], ctx: Ctx) -> Result:
        cols = ["USER", "PID", "PPID", "VSZ", "RSS", "WCHAN", "ADDR", "S", "NAME"]
        want_pid: set[str] | None = None
        i = 0
        while i < len(args):
            a = args[i]
            if a in ("-A", "-e"):
                pass
            elif a == "-o" and i + 1 < len(args):
                cols = [c.strip().upper() for c in args[i + 1].split(",")]
                i += 1
            elif a == "-p" and i + 1 < len(args):
                want_pid = set(args[i + 1].split(","))
                i += 1
            else:
                raise self._unknown("ps", args)
            i += 1
        known = {"USER", "PID", "PPID", "VSZ", "RSS", "WCHAN", "ADDR", "S", "NAME", "ARGS", "CMD"}
        if set(cols) - known:
            raise self._unknown("ps", args)
        rows = [r for r in self._ps_rows() if want_pid is None or r["PID"] in want_pid]
        widths = {"USER": 12, "PID": 5, "PPID": 5, "VSZ": 7, "RSS": 6, "WCHAN": 5, "ADDR": 4, "S": 1}

        def fmt(values: dict[str, str]) -> str:
            parts = []
            for c in cols:
                if c in ("NAME", "ARGS", "CMD"):
                    parts.append(values[c])
                elif c == "USER":
                    parts.append(f"{values[c]:<{widths[c]}}")
                else:
                    parts.append(f"{values[c]:>{widths[c]}}")
            return " ".join(parts).rstrip()

        lines = [fmt({c: c for c in cols})] + [fmt(r) for r in rows]
        return Result(("\n".join(lines) + "\n").encode(), code=0 if rows else 1)

    def cmd_logcat(self, args: list[str], ctx: Ctx) -> Result:
        """``logcat -d [-b BUF]... [-v FORMAT] [-t N] [-s TAG...]`` and ``logcat -c``; lines are threadtime."""
        dump = clear = False
        chosen: set[str] = set()
        tags: set[str] = set()
        tail = None
        i = 0
        while i < len(args):
            a = args[i]
            if a == "-d":
                dump = True
            elif a == "-c":
                clear = True
            elif a == "-b" and i + 1 < len(args):
                i += 1
                chosen |= ({"main", "system", "crash", "events", "radio"} if args[i] == "all"
                           else set(args[i].split(",")))
            elif a == "-v" and i + 1 < len(args) and args[i + 1] == "threadtime":
                i += 1
            elif a == "-t" and i + 1 < len(args) and args[i + 1].isdigit():
                i += 1
                tail = int(args[i])
            elif a == "-s":
                while i + 1 < len(args) and not args[i + 1].startswith("-"):
                    i += 1
                    tag = args[i].split(":", 1)[0]
                    if tag != "*":
                        tags.add(tag)
            else:
                raise self._unknown("logcat", args)
            i += 1
        if not dump and not clear:
            raise self._unknown("logcat", args)  # streaming logcat is not scripted
        buffers = chosen or {"main", "system", "crash"}
        with self._logcat_cv:
            if clear:
                self.logcat = [x for x in self.logcat if x[0] not in buffers]
                return Result()
            lines = [ln for b, ln in self.logcat if b in buffers]
        if tags:
            lines = [ln for ln in lines if re.match(r"^\S+ \S+\s+\d+\s+\d+ \w (\S+?):", ln)
                     and re.match(r"^\S+ \S+\s+\d+\s+\d+ \w (\S+?):", ln).group(1) in tags]
        if tail is not None:
            lines = lines[-tail:]
        return ok("".join(ln + "\n" for ln in lines))

    # -- dumpsys
    def cmd_dumpsys(self, args: list[str], ctx: Ctx) -> Result:
        if not args:
            raise self._unknown("dumpsys", args)
        service, rest = args[0], args[1:]
        handler = {"meminfo": self._dumpsys_meminfo, "gfxinfo": self._dumpsys_gfxinfo,
                   "thermalservice": self._dumpsys_thermal, "battery": self._dumpsys_battery,
                   "package": self._dumpsys_package, "window": self._dumpsys_window,
                   "power": self._dumpsys_power, "SurfaceFlinger": self._dumpsys_surfaceflinger,
                   }.get(service)
        if handler is None:
            raise self._unknown("dumpsys", args)
        return handler(rest)

    def _header_uptime(self) -> str:
        ms = int(self.uptime_s() * 1000)
        return f"Uptime: {ms} Realtime: {ms}"

    def _dumpsys_meminfo(self, args: list[str]) -> Result:
        package_mode = False
        rest = []
        for a in args:
            if a == "--package":
                package_mode = True
            elif a in ("-d", "-a", "-s", "--local", "--checkin"):
                if a == "--checkin":
                    raise self._unknown("dumpsys", ["meminfo", *args])
            elif a.startswith("-"):
                raise self._unknown("dumpsys", ["meminfo", *args])
            else:
                rest.append(a)
        if len(rest) != 1:
            raise self._unknown("dumpsys", ["meminfo", *args])
        target = rest[0]
        procs = self.android_processes()
        if target.isdigit():
            chosen = [p for p in procs if p.pid == int(target)]
        elif package_mode:
            chosen = [p for p in procs if p.name == target or p.name.startswith(target + ":")]
        else:
            chosen = [p for p in procs if p.name == target]
        if not chosen:
            return ok(f"No process found for: {target}\n")
        order = {"gpu": 0, "utility": 1, "renderer": 2, "browser": 3}
        chosen.sort(key=lambda p: (order[p.kind], p.pid))
        blocks = []
        for proc in chosen:
            try:
                blocks.append(format_meminfo_block(proc))
            except (ProcessLookupError, OSError):
                continue
        if not blocks:
            return ok(f"No process found for: {target}\n")
        return ok("Applications Memory Usage (in Kilobytes):\n" + self._header_uptime() + "\n\n"
                  + "\n".join(blocks))

    def _dumpsys_gfxinfo(self, args: list[str]) -> Result:
        if not args or len(args) > 2 or (len(args) == 2 and args[1] not in ("framestats", "reset")):
            raise self._unknown("dumpsys", ["gfxinfo", *args])
        package = args[0]
        proc = next((p for p in self.android_processes() if p.name == package), None)
        if proc is None:
            return ok(f"No process found for: {package}\n")
        mode = args[1] if len(args) == 2 else ""
        if mode == "reset":
            self.gfx_reset.add(package)
            capture = "gfxinfo/android14_mt6769_tablet_app_gfxinfo_no_frames_yet.txt"
        elif mode == "framestats":
            capture = ("gfxinfo/android14_mt6769_tablet_app_gfxinfo_framestats_after_reset.txt"
                       if package in self.gfx_reset else
                       "gfxinfo/android13or14_120hz_app_gfxinfo_framestats_120rows.txt")
        else:
            capture = "gfxinfo/android14_mt6769_tablet_app_gfxinfo_summary.txt"
        text = read_capture(capture)
        m = re.search(r"\*\* Graphics info for pid (\d+) \[([^\]]+)\] \*\*", text)
        if m:
            text = text.replace(f"pid {m.group(1)} [{m.group(2)}]", f"pid {proc.pid} [{package}]")
            text = text.replace(m.group(2), package)
        text = re.sub(r"^Uptime: \d+ Realtime: \d+", self._header_uptime(), text, count=1, flags=re.M)
        return ok(text)

    def _dumpsys_thermal(self, args: list[str]) -> Result:
        if args:
            raise self._unknown("dumpsys", ["thermalservice", *args])
        if self.faults.sensors_gone() or self.faults.no_thermal_service:
            return ok("Can't find service: thermalservice\n")
        text = read_capture(self.profile["thermal_capture"])
        if self.profile.get("thermal_restore_tabs"):
            text = re.sub(r"^(callbacks:|killed:|broadcasts count:|Temperature\{|CoolingDevice\{|"
                          r"TemperatureThreshold\{|ThermalHAL)", r"\t\1", text, flags=re.M)
        status = self.thermal_status()
        text = re.sub(r"^Thermal Status: \d+", f"Thermal Status: {status}", text, flags=re.M)
        if self.heat is not None:  # every CPU / skin sensor warms with the model
            rise = self.heat.temperature() - self.heat.ambient_c
            text = re.sub(r"(Temperature\{mValue=)([\d.]+)(, mType=[03], mName=[^,]+, mStatus=)\d",
                          lambda m: f"{m.group(1)}{float(m.group(2)) + rise:.1f}{m.group(3)}{status}", text)
        elif status:
            text = re.sub(r"(Temperature\{mValue=)([\d.]+)(, mType=[03], mName=[^,]+, mStatus=)\d",
                          lambda m: f"{m.group(1)}{float(m.group(2)) + 3 * status:.1f}{m.group(3)}{status}",
                          text)
        return ok(self._gate_fault_sensor_status(text))

    def _gate_fault_sensor_status(self, text: str) -> str:
        """The `sensor_status` fault: named sensors' own mStatus in the current block (issue 22)."""
        wanted = self.faults.sensor_status or {}
        if not wanted:
            return text
        head, sep, current = text.partition("Current temperatures from HAL:")
        for name, st in wanted.items():
            current = re.sub(r"(Temperature\{mValue=[^,]+, mType=\d+, mName=" + re.escape(name) + r", mStatus=)\d+",
                             lambda m, st=st: f"{m.group(1)}{int(st)}", current)
        return head + sep + current

    def _battery_state(self) -> dict[str, str]:
        ov = self.battery_overrides
        level = ov.get("level", int(self.profile.get("battery_level", 80)))
        if self.faults.battery_level is not None:
            level = self.faults.battery_level
        ac = ov.get("ac", 0 if ov.get("unplugged") else 1)
        usb = ov.get("usb", 0)
        status = ov.get("status", 2 if (ac or usb) else 3)
        if ov.get("unplugged") and self.faults.charging_while_unplugged:
            status = 2  # USB still charges: Android says so although the host asked for "unplugged"
        state = {"AC powered": "true" if ac else "false", "USB powered": "true" if usb else "false",
                 "Wireless powered": "false", "level": str(level), "status": str(status),
                 "temperature": str(int(round(self.battery_temp_c() * 10)))}
        if self.heat is not None:
            charge = self.heat.charge()
            if ov.get("unplugged") and self.faults.charging_while_unplugged:
                charge = self.heat.charge_uah + (self.heat.charge_uah - charge)  # rising, not falling
            state["Charge counter"] = str(int(charge))
        return state

    def _dumpsys_battery(self, args: list[str]) -> Result:
        keys = {"ac": "ac", "usb": "usb", "level": "level", "temp": "temp", "status": "status",
                "wireless": "wireless"}
        if len(args) == 3 and args[0] == "set" and args[1] in keys and args[2].lstrip("-").isdigit():
            with self._lock:
                self.battery_overrides[keys[args[1]]] = int(args[2])
                self.battery_overrides.pop("unplugged", None) if args[1] == "ac" else None
            return Result()
        if args == ["unplug"]:
            with self._lock:
                self.battery_overrides.update({"ac": 0, "usb": 0, "unplugged": 1})
            return Result()
        if args == ["reset"]:
            with self._lock:
                self.battery_overrides.clear()
            return Result()
        if args:
            raise self._unknown("dumpsys", ["battery", *args])
        state = self._battery_state()
        lines = []
        gone = self.faults.sensors_gone()
        for line in read_capture(self.profile["battery_capture"]).splitlines():
            m = re.match(r"^(\s+)([A-Za-z ]+): (.*)$", line)
            if m and m.group(2) == "Charge counter" and gone:
                continue  # the charge source vanished
            if m and m.group(2) in state:
                line = f"{m.group(1)}{m.group(2)}: {state[m.group(2)]}"
            lines.append(line)
        return ok("\n".join(lines).rstrip("\n") + "\n")

    def _dumpsys_package(self, args: list[str]) -> Result:
        if len(args) != 1 or not PACKAGE_RE.match(args[0]):
            raise self._unknown("dumpsys", ["package", *args])
        spec = self.installed.get(args[0])
        if spec is None:
            if args[0] in SYSTEM_PACKAGES:
                return ok(f"Packages:\n  Package [{args[0]}] (1a2b3c):\n    versionName=16\n")
            return ok("")
        code_path = f"/data/app/~~Fake{abs(hash(spec.package)) % 10**6:06d}==/{spec.package}-1"
        sdk = self.profile["sdk"]
        return ok(
            "Activity Resolver Table:\n  Non-Data Actions:\n      android.intent.action.MAIN:\n"
            f"        7c1f2e0 {spec.component} filter 9d3a1b2\n\n"
            "Packages:\n"
            f"  Package [{spec.package}] (4e5f6a7):\n"
            f"    userId=10142\n    pkg=Package{{8b9c0d1 {spec.package}}}\n"
            f"    codePath={code_path}\n    resourcePath={code_path}\n"
            f"    primaryCpuAbi={self.profile['abi']}\n    secondaryCpuAbi=null\n"
            f"    versionCode={spec.version_code} minSdk=29 targetSdk={min(sdk, 35)}\n"
            f"    versionName={spec.version}\n"
            "    flags=[ HAS_CODE ALLOW_CLEAR_USER_DATA ALLOW_BACKUP ]\n"
            "    timeStamp=2024-12-01 10:00:00\n    firstInstallTime=2024-01-01 10:00:00\n"
            "    lastUpdateTime=2024-12-01 10:00:00\n    installerPackageName=com.android.vending\n"
            "    User 0: ceDataInode=0 installed=true hidden=false suspended=false stopped=false "
            "notLaunched=false enabled=0 instant=false virtual=false\n")

    def _dumpsys_window(self, args: list[str]) -> Result:
        if args not in ([], ["windows"], ["displays"], ["w"], ["d"]):
            raise self._unknown("dumpsys", ["window", *args])
        fg = self.foreground if self.foreground and self.running(self.foreground) else None
        comp = self.installed[fg].component if fg else "com.android.launcher3/.uioverrides.QuickstepLauncher"
        focus = comp
        if self.faults.keyguard or self.faults.notification_shade:  # one window for both on Android 10+
            focus = "NotificationShade"
        if self.faults.ui_dialog:
            focus = self.faults.ui_dialog
        policy = ""
        if args == []:  # `dumpsys window` also prints the policy section: the keyguard's own state
            shown = str(self.faults.keyguard).lower()
            policy = ("WINDOW MANAGER POLICY STATE (dumpsys window policy)\n    KeyguardServiceDelegate\n"
                      f"      showing={shown}\n      KeyguardStateMonitor\n        mIsShowing={shown}\n"
                      f"        mInputRestricted={shown}\n")
        return ok("WINDOW MANAGER WINDOWS (dumpsys window windows)\n"
                  f"  mCurrentFocus=Window{{3c5d7e9 u0 {focus}}}\n"
                  f"  mFocusedApp=ActivityRecord{{8a1b2c3 u0 {comp} t42}}\n"
                  f"  mDisplayId=0 mScreenOn={'true' if self.awake else 'false'}\n"
                  f"  mShowingLockscreen={str(self.faults.keyguard).lower()} mDreamingLockscreen=false\n" + policy)

    def _dumpsys_power(self, args: list[str]) -> Result:
        if args:
            raise self._unknown("dumpsys", ["power", *args])
        stay = self.settings["global"]["stay_on_while_plugged_in"]
        plugged = self._battery_state()["AC powered"] == "true"
        return ok("POWER MANAGER (dumpsys power)\n\nPower Manager State:\n"
                  f"  mDirty=0x0\n  mWakefulness={'Awake' if self.awake else 'Asleep'}\n"
                  f"  mWakefulnessChanging=false\n  mIsPowered={str(plugged).lower()}\n"
                  f"  mPlugType={1 if plugged else 0}\n  mStayOn={str(stay != '0' and plugged).lower()}\n"
                  f"  mHoldingDisplaySuspendBlocker={str(self.awake).lower()}\n"
                  f"  mStayOnWhilePluggedInSetting={stay}\n"
                  f"Display Power: state={'ON' if self.awake else 'OFF'}\n")

    def _dumpsys_surfaceflinger(self, args: list[str]) -> Result:
        if args[:1] == ["--latency-clear"] and len(args) <= 2:
            return Result()
        if args[:1] == ["--latency"] and len(args) <= 2:
            return ok(read_capture("gfxinfo/surfaceflinger_latency_excerpt_tab_separated.txt"))
        raise self._unknown("dumpsys", ["SurfaceFlinger", *args])

    # -- activity manager / package manager
    def cmd_am(self, args: list[str], ctx: Ctx) -> Result:
        if args[:1] == ["force-stop"] and len(args) == 2 and PACKAGE_RE.match(args[1]):
            self.force_stop(args[1])
            return Result()
        if args[:1] in (["start"], ["start-activity"]):
            return self._am_start(args[1:])
        raise self._unknown("am", args)

    def force_stop(self, package: str) -> None:
        if self.heat is not None:  # the browser's last CPU time is charged before its processes end
            self.heat.charge()
        with self._lock:
            inst = self.browsers.pop(package, None)
            if self.foreground == package:
                self.foreground = None
        if inst is not None:
            inst.stop()
            self._add_logcat("system", "I", "ActivityManager", f"Force stopping {package} appid=10142 user=0")

    def _am_start(self, args: list[str]) -> Result:
        opts: dict[str, str] = {}
        wait = stop_first = False
        i = 0
        with_value = {"-a", "-d", "-n", "-p", "-c", "-t", "-f", "--user"}
        while i < len(args):
            a = args[i]
            if a == "-W":
                wait = True
            elif a == "-S":
                stop_first = True
            elif a in ("--activity-clear-task", "--activity-new-task", "--activity-clear-top",
                       "--activity-single-top", "--activity-no-history"):
                pass
            elif a in with_value and i + 1 < len(args):
                opts[a] = args[i + 1]
                i += 1
            elif a in ("--es", "--ez", "--ei", "-e") and i + 2 < len(args):
                i += 2
            else:
                raise self._unknown("am", ["start", *args])
            i += 1
        action, data = opts.get("-a", ""), opts.get("-d", "")
        component, package = opts.get("-n", ""), opts.get("-p", "")
        if component:
            package = component.split("/", 1)[0]
        desc = []
        if action:
            desc.append(f"act={action}")
        if data:
            desc.append(f"dat={data}")
        if "-f" in opts:
            desc.append(f"flg={opts['-f']}")
        if package and not component:
            desc.append(f"pkg={package}")
        if component:
            desc.append(f"cmp={component}")
        intent = "Intent { " + " ".join(desc) + " }"
        head = f"Starting: {intent}\n"
        if not package:
            browsers = [b for b in self.profile.browsers if b.package in self.installed]
            if action == "android.intent.action.VIEW" and data and browsers:
                package = browsers[0].package
            else:
                return Result(f"Error: Activity not started, unable to resolve {intent}\n".encode(), b"", 1)
        spec = self.installed.get(package)
        if spec is None:
            if component:
                return ok(head + "Error type 3\n"
                          f"Error: Activity class {{{component}}} does not exist.\n")
            return Result(f"Error: Activity not started, unable to resolve {intent}\n".encode(), b"", 1)
        if component:
            cls = component.split("/", 1)[1]
            cls = spec.package + cls if cls.startswith(".") else cls
            if cls != spec.activity:
                return ok(head + "Error type 3\n"
                          f"Error: Activity class {{{component}}} does not exist.\n")
        if action not in ("", "android.intent.action.VIEW", "android.intent.action.MAIN"):
            raise self._unknown("am", ["start", *args])
        if data and not re.match(r"^(https?|about|file|data|chrome):", data):
            raise self._unknown("am", ["start", *args])
        t0 = time.monotonic()
        if stop_first:
            self.force_stop(package)
        if self.faults.am_start_ignored:  # a launcher that says "started" and shows nothing
            return ok(head + f"Status: ok\nLaunchState: COLD\nActivity: {spec.component}\nTotalTime: 1\n"
                             "WaitTime: 1\nComplete\n")
        inst = self.running(package)
        state = "WARM" if inst else "COLD"
        try:
            if inst is None:
                self.force_stop(package)  # forget a dead instance
                inst = ChromiumInstance(package, data or "about:blank", self.chromium_flags)
                with self._lock:
                    self.browsers[package] = inst
                inst.wait_devtools()
                inst.wait_renderer()
                self._add_logcat("system", "I", "ActivityManager",
                                 f"Start proc {inst.pid}:{package}/u0a142 for top-activity {{{spec.component}}}")
                if self.faults.renderer_dies_after_s is not None:
                    timer = threading.Timer(self.faults.renderer_dies_after_s, self.kill_renderer, (package,))
                    timer.daemon = True
                    self._timers.append(timer)
                    timer.start()
            elif data:
                inst.open_url(data)
        except (RuntimeError, OSError) as exc:
            self.force_stop(package)
            return Result(head.encode(), f"Error: fakephone could not start {package}: {exc}\n".encode(), 1)
        self.foreground = package
        self.awake = True
        total = int((time.monotonic() - t0) * 1000)
        if not wait:
            return ok(head)
        return ok(head + f"Status: ok\nLaunchState: {state}\nActivity: {spec.component}\n"
                  f"TotalTime: {total}\nWaitTime: {total + 3}\nComplete\n")

    def _packages(self) -> list[str]:
        return sorted(set(SYSTEM_PACKAGES) | set(self.installed))

    def _apk_path(self, package: str) -> str:
        if package in self.installed:
            return f"/data/app/~~Fake{abs(hash(package)) % 10**6:06d}==/{package}-1/base.apk"
        return f"/system/priv-app/{package.rsplit('.', 1)[-1]}/{package.rsplit('.', 1)[-1]}.apk"

    def cmd_pm(self, args: list[str], ctx: Ctx) -> Result:
        if args[:2] == ["list", "packages"]:
            show_path = False
            filt = ""
            third_only = system_only = False
            for a in args[2:]:
                if a == "-f":
                    show_path = True
                elif a == "-3":
                    third_only = True
                elif a == "-s":
                    system_only = True
                elif a in ("-e", "-U", "--user", "0"):
                    pass
                elif not a.startswith("-") and not filt:
                    filt = a
                else:
                    raise self._unknown("pm", args)
            out = []
            for pkg in self._packages():
                third = pkg in self.installed
                if (third_only and not third) or (system_only and third) or filt not in pkg:
                    continue
                out.append(f"package:{self._apk_path(pkg)}={pkg}" if show_path else f"package:{pkg}")
            return ok("".join(line + "\n" for line in out))
        if args[:1] == ["path"] and len(args) == 2:
            if args[1] not in self._packages():
                return Result(code=1)
            return ok(f"package:{self._apk_path(args[1])}\n")
        if args[:1] == ["clear"] and len(args) == 2 and PACKAGE_RE.match(args[1]):
            if args[1] not in self._packages():
                return fail("Failed\n")
            self.force_stop(args[1])
            return ok("Success\n")
        raise self._unknown("pm", args)

    def cmd_cmd(self, args: list[str], ctx: Ctx) -> Result:
        if args[:2] == ["package", "resolve-activity"]:
            return self._resolve_activity(args[2:])
        if args[:1] == ["package"] and args[1:3] == ["list", "packages"]:
            return self.cmd_pm(args[1:], ctx)
        raise self._unknown("cmd", args)

    def _resolve_activity(self, args: list[str]) -> Result:
        brief = False
        pkg = ""
        action = data = ""
        i = 0
        while i < len(args):
            a = args[i]
            if a == "--brief":
                brief = True
            elif a in ("-a", "-d", "-c", "--user") and i + 1 < len(args):
                if a == "-a":
                    action = args[i + 1]
                elif a == "-d":
                    data = args[i + 1]
                i += 1
            elif a == "-p" and i + 1 < len(args):
                pkg = args[i + 1]
                i += 1
            elif not a.startswith("-") and not pkg:
                pkg = a
            else:
                raise self._unknown("cmd", ["package", "resolve-activity", *args])
            i += 1
        spec = self.installed.get(pkg) if pkg else None
        if spec is None and not pkg and action == "android.intent.action.VIEW" and data:
            spec = next(iter(self.installed.values()), None)
        if spec is None:
            return ok("No activity found\n")
        head = "priority=0 preferredOrder=0 match=0x108000 specificIndex=-1 isDefault=false\n"
        if brief:
            return ok(head + spec.component + "\n")
        return ok(head + "ActivityInfo:\n"
                  f"  name={spec.activity}\n  packageName={spec.package}\n"
                  "  enabled=true exported=true directBootAware=false\n")

