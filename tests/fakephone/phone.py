"""The fake phone: device state, ADB services (shell, sync, reverse, forward) and the shell.

``FakePhone(profile="pixel").start()`` listens on 127.0.0.1 (ephemeral port unless given);
``adb connect 127.0.0.1:PORT`` then sees a device.  Every shell command line is logged
(:attr:`FakePhone.commands`); a command the table does not know exits 127 with
``fakephone: unknown command: ...`` on stderr.
"""

from __future__ import annotations

import logging
import os
import posixpath
import re
import shlex
import socket
import stat as stat_mod
import struct
import threading
import time
from typing import Callable

from . import adbproto as P
from .bench import BenchUsage, parse_args as parse_bench_args, run as run_bench
from .browser import ChromiumInstance, descendants
from .commands import AndroidCommands, Ctx, Hang, Result, ShellExit, UnknownCommand, fail
from .faults import Faults
from .heat import HeatModel
from .fs import FakeFs, FsError
from .profiles import Profile, load_profile, read_capture
from .shell import GLOB_MARK, STATUS_MARK, AndOr, Redirect, ShellSyntaxError, glob_regex, parse, unglob
from .transport import Connection, DeviceListener, ReverseForward, ServiceRefused, Stream, StreamClosed, pipe

log = logging.getLogger("fakephone")

FEATURES = ["shell_v2", "cmd", "stat_v2", "ls_v2", "fixed_push_mkdir", "apex", "abb",
            "fixed_push_symlink_timestamp", "abb_exec", "remount_shell", "track_app",
            "sendrecv_v2", "sendrecv_v2_dry_run_send"]

# A phone's browser has a GPU: give Chromium SwiftShader for WebGL and WebGPU (software, so pages
# see a "SwiftShader" renderer string; pass ("--disable-gpu",) to model a phone without GPU).
GPU_FLAGS = ("--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--enable-unsafe-webgpu",
             "--enable-features=Vulkan", "--use-vulkan=swiftshader", "--use-webgpu-adapter=swiftshader")

class FakePhone(AndroidCommands):
    """One fake Android phone reachable over the ADB TCP transport."""

    def __init__(self, profile: str | Profile = "pixel", *, port: int = 0, faults: Faults | None = None,
                 chromium_flags: tuple[str, ...] = GPU_FLAGS) -> None:
        self.profile = profile if isinstance(profile, Profile) else load_profile(profile)
        self.faults = faults or Faults()
        self.chromium_flags = tuple(chromium_flags)
        self.fs = FakeFs()
        self._port = port
        self.listener: DeviceListener | None = None
        self.t_start = time.monotonic()
        self.wall_start = time.time()
        self._lock = threading.RLock()
        self.log: list[dict] = []
        self.browsers: dict[str, ChromiumInstance] = {}
        self.foreground: str | None = None
        self.logcat: list[tuple[str, str]] = []  # (buffer, line)
        self._logcat_cv = threading.Condition()
        self._stop = threading.Event()
        self._timers: list[threading.Timer] = []
        self.native_procs: dict[int, tuple[str, threading.Event]] = {}  # hung benchmark_model runs: pid -> (args, kill)
        self._next_native_pid = 31000
        p = self.profile
        self.props = self._build_props()
        self.settings: dict[str, dict[str, str]] = {
            "system": {"screen_brightness": "128", "screen_brightness_mode": "1",
                       "screen_off_timeout": "30000", "accelerometer_rotation": "1"},
            "global": {"stay_on_while_plugged_in": "0", "window_animation_scale": "1.0",
                       "transition_animation_scale": "1.0", "animator_duration_scale": "1.0",
                       "adb_enabled": "1", "development_settings_enabled": "1"},
            "secure": {"android_id": "5f3a9c1e7b2d4a60", "screensaver_enabled": "0"},
        }
        self.awake = True
        self.wm_size: str | None = None
        self.wm_density: int | None = None
        self.battery_overrides: dict[str, int] = {}
        self.gfx_reset: set[str] = set()
        self.installed = {b.package: b for b in p.browsers}
        self._cpu_seen: dict[tuple[int, int], float] = {}  # (pid, start time) -> CPU s last read
        self.heat: HeatModel | None = (HeatModel(time_scale=self.faults.time_scale,
                                                 charge_uah=float(p.get("charge_counter_uah", 2_400_000)),
                                                 cpu_source=self.browser_cpu_s)
                                       if self.faults.heat_model else None)
        self._add_logcat("main", "I", "ActivityManager", "System now ready")

    # ---- lifecycle ----------------------------------------------------------------------
    @property
    def port(self) -> int:
        assert self.listener is not None, "not started"
        return self.listener.port

    @property
    def serial(self) -> str:
        return f"127.0.0.1:{self.port}"

    def browser_cpu_s(self) -> float:
        """User + system CPU seconds of every Chromium process this phone launched, cumulative: each
        process's last reading is kept after it ends (the heat model's poll reads every 0.2 s, and
        `am force-stop` reads once more before it stops a browser).  No phone lock is taken: the heat
        model calls this under its own."""
        tick = os.sysconf("SC_CLK_TCK")
        for inst in list(self.browsers.values()):
            for pid in descendants(inst.pid):
                try:
                    with open(f"/proc/{pid}/stat") as fh:
                        fields = fh.read().rsplit(")", 1)[1].split()
                    key = (pid, int(fields[19]))            # starttime: a reused pid is another process
                    self._cpu_seen[key] = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
                except (OSError, IndexError, ValueError):
                    continue
        return sum(self._cpu_seen.values())

    def _poll_heat(self) -> None:
        heat = self.heat
        while heat is not None and not self._stop.wait(0.2):
            heat.charge()

    def start(self) -> "FakePhone":
        from .drift import DutyCycler

        self.listener = DeviceListener(self, self._port)
        self.listener.start()
        if self.heat is not None:
            threading.Thread(target=self._poll_heat, name="fakephone-heat", daemon=True).start()
        self._drift = DutyCycler(self).start()
        if self.faults.offline:
            self.go_offline(self.faults.offline_for_s)
        return self

    def stop(self) -> None:
        """Stop serving, kill every Chromium this phone started, remove its storage."""
        self._stop.set()
        drift = getattr(self, "_drift", None)
        if drift is not None:
            drift.stop()
        try:
            for t in self._timers:
                t.cancel()
            if self.listener:
                self.listener.close()
        finally:
            with self._lock:
                instances = list(self.browsers.values())
                self.browsers.clear()
            try:
                for inst in instances:
                    inst.stop()
            finally:
                self.fs.close()
                with self._logcat_cv:
                    self._logcat_cv.notify_all()

    def __enter__(self) -> "FakePhone":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- control (faults and inspection) ------------------------------------------------
    @property
    def commands(self) -> list[str]:
        """Every shell command line received, in order."""
        with self._lock:
            return [e["line"] for e in self.log if e["kind"] == "shell"]

    @property
    def services(self) -> list[str]:
        """Every service opened (``shell,v2,raw:...``, ``sync:``, ``reverse:...``), in order."""
        with self._lock:
            return [e["name"] for e in self.log if e["kind"] == "service"]

    @property
    def sync_ops(self) -> list[str]:
        """Every sync request (``sync:SEND /path,mode``, ``sync:RECV /path``, ...), in order."""
        with self._lock:
            return [e["name"] for e in self.log if e["kind"] == "sync"]

    def clear_log(self) -> None:
        with self._lock:
            self.log.clear()

    def go_offline(self, for_s: float | None = None) -> None:
        """Drop every transport and hold new ones unanswered (adb shows it offline)."""
        self.faults.offline = True
        if self.listener:
            self.listener.drop_all()
        if for_s:
            timer = threading.Timer(for_s, self.come_online)
            timer.daemon = True
            self._timers.append(timer)
            timer.start()

    def come_online(self) -> None:
        self.faults.offline = False
        if self.listener:
            self.listener.release_held()

    # ---- issue 22 (round two of the lab's faults): a reboot that takes its time -------------
    def reboot(self, offline_s: float, boot_s: float = 0.0) -> None:
        """A reboot (a crash, an update): every browser dies, the transports drop and the phone is
        away from adb for ``offline_s``; then it is back as ``device`` with ``sys.boot_completed`` 0
        for ``boot_s`` more (Android still booting), then 1.  Settings and files survive, as on a
        phone; the reverse mappings, kept per transport, do not."""
        self.props["sys.boot_completed"] = "0"
        self.go_offline(offline_s)
        with self._lock:
            instances = list(self.browsers.values())
            self.browsers.clear()
        for inst in instances:
            inst.stop()

        timer = threading.Timer(offline_s + boot_s, self.props.__setitem__, ("sys.boot_completed", "1"))
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def _hung_process(self, args: str) -> Result:
        """A native process that never finishes (`benchmark_model_hangs`): `ps` lists it with a pid of
        its own and it ends only when `kill` reaches that pid (or the phone stops), exiting 137, as
        SIGKILL leaves it.  A closed adb stream does not end it, as a raw shell's child survives on a
        phone."""
        with self._lock:
            self._next_native_pid += 1
            pid = self._next_native_pid
            killed = threading.Event()
            self.native_procs[pid] = (args, killed)
        try:
            while not killed.wait(0.2) and not self._stop.is_set():
                pass
        finally:
            with self._lock:
                self.native_procs.pop(pid, None)
        return Result(b"", b"", 137)

    def native_processes(self) -> dict[int, str]:
        """The hung native processes still running on the phone: pid -> command line."""
        with self._lock:
            return {pid: args for pid, (args, _ev) in self.native_procs.items()}

    def drop_connection(self) -> None:
        """Abort every transport right now (a pulled cable); the phone stays reachable."""
        if self.listener:
            self.listener.drop_all()

    def freeze_renderer(self, package: str | None = None) -> list[int]:
        """SIGSTOP the renderers of ``package`` (default: every running browser): a hung page."""
        with self._lock:
            items = [i for p, i in self.browsers.items() if package in (None, p)]
        return [pid for inst in items for pid in inst.freeze_renderers()]

    def kill_renderer(self, package: str | None = None, reason: str | None = None) -> list[int]:
        """SIGKILL the renderers of ``package`` (default: every running browser).

        reason None: the low-memory killer took them (lmkd lines).  Otherwise ActivityManager
        killed them for that reason (e.g. "isolated not needed": a benign kill, no lmkd line).
        """
        killed = []
        with self._lock:
            items = [(p, i) for p, i in self.browsers.items() if package in (None, p)]
        for pkg, inst in items:
            for pid in inst.kill_renderers():
                killed.append(pid)
                if reason is not None:
                    proc = f"{pkg}:sandboxed_process0:org.chromium.content.app.SandboxedProcessService0:0"
                    self._add_logcat("system", "I", "ActivityManager",
                                     f"Killing {pid}:{proc}/u0a142i-9000 (adj 0): {reason}")
                    self._add_logcat("events", "I", "am_kill ", f"[0,{pid},{proc},0,{reason},0]")
                    continue
                self._add_logcat("main", "I", "lowmemorykiller",
                                 f"Kill '{pkg}:sandboxed_process0' ({pid}), uid 99142, oom_score_adj 0 "
                                 "to free 120000kB rss, 0kB swap; reason: low watermark is breached")
                self._add_logcat("main", "I", "ActivityManager",
                                 f"Process {pkg}:sandboxed_process0 (pid {pid}) has died: fg  TOP")
                self._add_logcat("main", "W", "cr_ChildProcessConn",
                                 f"onServiceDisconnected (crash or killed by oom): pid={pid}")
        return killed

    # ---- transport host interface -------------------------------------------------------
    def banner(self) -> bytes:
        return P.device_banner(self.props, FEATURES)

    def accepting(self) -> bool:
        return not self.faults.offline and not self._stop.is_set()

    def authorized(self) -> bool:
        return not self.faults.unauthorized

    def resolve_service(self, conn: Connection, name: str) -> Callable[[Stream], None]:
        with self._lock:
            self.log.append({"t": time.time(), "kind": "service", "name": name})
        if name.startswith("shell"):
            head, sep, command = name.partition(":")
            if not sep:
                raise ServiceRefused(name)
            opts = head.split(",")[1:]
            v2, pty = "v2" in opts, "pty" in opts
            if not command:
                raise ServiceRefused("interactive shell is not supported")
            return lambda s: self._shell_service(s, command, v2, conn, pty=pty)
        if name.startswith("exec:"):
            return lambda s: self._shell_service(s, name[5:], False, conn)
        if name.startswith("abb_exec:") or name.startswith("abb:"):
            args = name.split(":", 1)[1].split("\0")
            line = " ".join(shlex.quote(a) for a in ["cmd", *args])
            return lambda s: self._shell_service(s, line, name.startswith("abb:"), conn)
        if name == "sync:":
            return self._sync_service
        if name.startswith("reverse:"):
            return lambda s: self._reverse_service(s, name[len("reverse:"):], conn)
        if name.startswith("tcp:") or name.startswith("localabstract:"):
            kind, _, target = name.partition(":")
            if kind == "tcp":
                text = target.rsplit(":", 1)[-1]
                port = int(text) if text.isdigit() else None
            else:
                port = self._abstract_port(target)
            if port is None:
                raise ServiceRefused(name)
            try:  # connect now: like adbd, a refused connection refuses the OPEN
                sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            except OSError as exc:
                raise ServiceRefused(f"{name}: {exc}") from None
            sock.settimeout(None)
            return lambda s: pipe(s, sock)
        if name in ("root:", "unroot:"):
            return lambda s: s.write(b"adbd cannot run as root in production builds\n")
        raise ServiceRefused(name)

    # ---- services -----------------------------------------------------------------------
    def _shell_service(self, stream: Stream, line: str, v2: bool, conn: Connection, *, pty: bool = False) -> None:
        with self._lock:
            self.log.append({"t": time.time(), "kind": "shell", "line": line})
        if v2:  # drain stdin packets so flow control never stalls
            threading.Thread(target=self._drain, args=(stream,), daemon=True).start()
        if self.faults.take("hang_on", line):
            stream.wait_closed()
            return
        drop = self.faults.take("drop_on", line)
        try:
            result = self.execute(line, stream)
        except Hang:
            stream.wait_closed()
            return
        if pty:  # a terminal merges stderr into stdout and turns LF into CRLF
            merged = (result.stdout + result.stderr).replace(b"\n", b"\r\n")
            result = Result(merged, b"", result.code)
        if drop:
            half = result.stdout[: max(1, len(result.stdout) // 2)]
            payload = P.shell_packet(P.SHELL_STDOUT, half) if v2 else half
            if half:
                stream.write(payload)
            time.sleep(0.05)
            conn.abort()
            return
        if v2:
            if result.stdout:
                stream.write(P.shell_packet(P.SHELL_STDOUT, result.stdout))
            if result.stderr:
                stream.write(P.shell_packet(P.SHELL_STDERR, result.stderr))
            stream.write(P.shell_packet(P.SHELL_EXIT, bytes([result.code & 0xFF])))
        else:
            stream.write(result.stdout + result.stderr)

    @staticmethod
    def _drain(stream: Stream) -> None:
        try:
            while stream.read():
                pass
        except StreamClosed:
            pass

    def _abstract_port(self, name: str) -> int | None:
        if self.faults.devtools_socket_missing:  # preflight fault: remote debugging off
            return None
        with self._lock:
            for pkg, inst in self.browsers.items():
                spec = self.installed.get(pkg)
                if spec and name == spec.devtools_socket and inst.alive() and inst.devtools_port:
                    return inst.devtools_port
        return None

    def _reverse_service(self, stream: Stream, request: str, conn: Connection) -> None:
        def fail_(msg: str) -> None:
            data = msg.encode()
            stream.write(b"FAIL" + f"{len(data):04x}".encode() + data)

        if request == "list-forward":
            with conn.reverse_lock:
                text = "".join(f"host-19 {r.device_spec} {r.host_spec}\n" for r in conn.reverses.values())
            data = text.encode()
            stream.write(f"{len(data):04x}".encode() + data)
            return
        if request == "killforward-all":
            with conn.reverse_lock:
                revs = list(conn.reverses.values())
                conn.reverses.clear()
            for r in revs:
                r.stop()
            stream.write(b"OKAY")
            return
        if request.startswith("killforward:"):
            spec = request[len("killforward:"):]
            with conn.reverse_lock:
                rev = conn.reverses.pop(spec, None)
            if rev is None:
                fail_(f"listener '{spec}' not found")
                return
            rev.stop()
            stream.write(b"OKAY")
            return
        if request.startswith("forward:"):
            rest = request[len("forward:"):]
            norebind = rest.startswith("norebind:")
            if norebind:
                rest = rest[len("norebind:"):]
            device_spec, sep, host_spec = rest.partition(";")
            if self.faults.reverse_dropped:  # said yes, did nothing
                stream.write(b"OKAY")
                return
            if self.faults.reverse_port_bound:  # issue 22: another process on the phone holds the port
                fail_("cannot bind listener: Address already in use")
                return
            m = re.fullmatch(r"tcp:(\d+)", device_spec)
            if not sep or not m or not re.fullmatch(r"tcp:\d+", host_spec):
                fail_(f"cannot bind listener: unsupported forward '{rest}' (fake supports tcp:N;tcp:M)")
                return
            with conn.reverse_lock:
                old = conn.reverses.get(device_spec)
                if old is not None and norebind:
                    fail_("cannot rebind existing socket")
                    return
                if old is not None:
                    if old.host_spec == host_spec:
                        stream.write(b"OKAY")
                        return
                    conn.reverses.pop(device_spec).stop()
                try:
                    rev = ReverseForward(conn, int(m.group(1)), host_spec)
                except OSError as exc:
                    fail_(f"cannot bind listener: {exc.strerror}")
                    return
                conn.reverses[rev.device_spec] = rev
            stream.write(b"OKAY")
            if m.group(1) == "0":
                port = str(rev.device_port).encode()
                stream.write(f"{len(port):04x}".encode() + port)
            return
        fail_(f"unknown reverse request '{request}'")

    # -- sync -------------------------------------------------------------------------
    def _sync_service(self, stream: Stream) -> None:
        while True:
            try:
                header = stream.read_exact(8)
            except StreamClosed:
                return
            cmd, length = header[:4], struct.unpack("<I", header[4:])[0]
            if cmd == b"QUIT":
                return
            if length > 4096:
                self._sync_fail(stream, "path too long")
                return
            arg = stream.read_exact(length).decode("utf-8", "replace")
            op = f"sync:{cmd.decode('ascii', 'replace')} {arg}"
            with self._lock:
                self.log.append({"t": time.time(), "kind": "sync", "name": op})
            if self.faults.take("drop_on", op):  # e.g. drop_on="^sync:SEND /data/local/tmp/"
                stream.conn.abort()
                return
            if cmd == b"STAT":
                try:
                    st = self.fs.stat(arg)
                    stream.write(b"STAT" + struct.pack("<III", st.st_mode, st.st_size & 0xFFFFFFFF,
                                                       int(st.st_mtime)))
                except FsError:
                    stream.write(b"STAT" + struct.pack("<III", 0, 0, 0))
            elif cmd in (b"STA2", b"LST2"):
                try:
                    st = self.fs.stat(arg)
                    stream.write(cmd + struct.pack("<IQQIIIIQqqq", 0, st.st_dev, st.st_ino, st.st_mode,
                                                   st.st_nlink, 2000, 2000, st.st_size, int(st.st_atime),
                                                   int(st.st_mtime), int(st.st_ctime)))
                except FsError:
                    stream.write(cmd + struct.pack("<IQQIIIIQqqq", 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
            elif cmd in (b"LIST", b"LIS2"):
                self._sync_list(stream, arg, v2=cmd == b"LIS2")
            elif cmd in (b"SEND", b"SND2"):
                if not self._sync_send(stream, arg, v2=cmd == b"SND2"):
                    return
            elif cmd in (b"RECV", b"RCV2"):
                if cmd == b"RCV2":
                    stream.read_exact(8)  # RCV2 + flags (no compression is all we offer)
                self._sync_recv(stream, arg)
            else:
                self._sync_fail(stream, f"unknown sync command {cmd!r}")
                return

    @staticmethod
    def _sync_fail(stream: Stream, msg: str) -> None:
        data = msg.encode()
        stream.write(b"FAIL" + struct.pack("<I", len(data)) + data)

    def _sync_list(self, stream: Stream, path: str, v2: bool) -> None:
        try:
            names = self.fs.listdir(path)
        except FsError:
            names = []
        out = bytearray()
        for name in [".", ".."] + names:
            try:
                st = self.fs.stat(posixpath.join(self.fs.normalize(path), name))
            except FsError:
                continue
            nb = name.encode()
            if v2:
                out += b"DNT2" + struct.pack("<IQQIIIIQqqqI", 0, st.st_dev, st.st_ino, st.st_mode,
                                             st.st_nlink, 2000, 2000, st.st_size, int(st.st_atime),
                                             int(st.st_mtime), int(st.st_ctime), len(nb)) + nb
            else:
                out += b"DENT" + struct.pack("<IIII", st.st_mode, st.st_size & 0xFFFFFFFF,
                                             int(st.st_mtime), len(nb)) + nb
        out += (b"DONE" + bytes(72 if v2 else 16))
        stream.write(bytes(out))

    def _sync_send(self, stream: Stream, arg: str, v2: bool) -> bool:
        flags = 0
        if v2:
            hdr = stream.read_exact(12)  # SND2 mode flags
            path, mode = arg, struct.unpack("<I", hdr[4:8])[0]
            flags = struct.unpack("<I", hdr[8:12])[0]
            if flags & ~0x8000_0000:  # only "dry run" understood, no compression
                self._sync_fail(stream, "compression is not supported by this device")
                return False
        else:
            path, _, mode_text = arg.rpartition(",")
            if not path:
                path, mode_text = arg, "33188"
            try:
                mode = int(mode_text)
            except ValueError:
                mode = 0o100644
        chunks = []
        while True:
            head = stream.read_exact(8)
            kind, size = head[:4], struct.unpack("<I", head[4:])[0]
            if kind == b"DATA":
                if size > 64 * 1024:
                    self._sync_fail(stream, "data chunk too large")
                    return False
                chunks.append(stream.read_exact(size))
            elif kind == b"DONE":
                mtime = size
                break
            else:
                self._sync_fail(stream, f"unexpected {kind!r} during SEND")
                return False
        if v2 and flags & 0x8000_0000:  # dry run: report success, write nothing
            stream.write(b"OKAY" + bytes(4))
            return True
        try:
            self.fs.write(path, b"".join(chunks), mode=stat_mod.S_IMODE(mode) or 0o644, mkdirs=True)
            host = self.fs.host_path(path)
            if mtime:
                os.utime(host, (mtime, mtime))
        except FsError as exc:
            self._sync_fail(stream, f"couldn't create file: {exc}")
            return True
        stream.write(b"OKAY" + bytes(4))
        return True

    def _sync_recv(self, stream: Stream, path: str) -> None:
        try:
            data = self.fs.read(path)
        except FsError as exc:
            self._sync_fail(stream, f"open failed: {exc}")
            return
        out = bytearray()
        for i in range(0, len(data), 64 * 1024):
            chunk = data[i:i + 64 * 1024]
            out += b"DATA" + struct.pack("<I", len(chunk)) + chunk
        out += b"DONE" + bytes(4)
        stream.write(bytes(out))

    # ---- shell execution ----------------------------------------------------------------
    def env(self) -> dict[str, str]:
        return {"HOME": "/", "EXTERNAL_STORAGE": "/sdcard", "PATH": "/system/bin:/system/xbin",
                "ANDROID_DATA": "/data", "ANDROID_ROOT": "/system", "TMPDIR": "/data/local/tmp",
                "SHELL": "/system/bin/sh", "USER": "shell", "HOSTNAME": self.props.get("ro.product.device", "")}

    def execute(self, line: str, stream: Stream | None = None) -> Result:
        """Run one command line; stdout/stderr of the whole list and the last exit status."""
        try:
            tree: AndOr = parse(line, self.env())
        except ShellSyntaxError as exc:
            return fail(f"fakephone: unsupported shell syntax ({exc}): {line}\n", 127)
        out, err = bytearray(), bytearray()
        status = 0
        for i, pipeline in enumerate(tree.items):
            if i:
                op = tree.ops[i - 1]
                if (op == "&&" and status != 0) or (op == "||" and status == 0):
                    continue
            data = b""
            try:
                for cmd in pipeline.commands:
                    argv = [x for a in cmd.argv for x in self._expand(a.replace(STATUS_MARK, str(status)))]
                    redirects = [Redirect(r.fd, r.op, unglob(r.target.replace(STATUS_MARK, str(status))))
                                 for r in cmd.redirects]
                    res = self._run_simple(argv, redirects, data, stream, line)
                    data = res.stdout
                    err += res.stderr
                    status = res.code
            except ShellExit as exc:
                out += data
                return Result(bytes(out), bytes(err), exc.code)
            out += data
        return Result(bytes(out), bytes(err), status)

    def _expand(self, word: str) -> list[str]:
        """Pathname expansion of one word: sorted matches, or the word itself when none match."""
        if GLOB_MARK not in word or not word.startswith("/"):
            return [unglob(word)]
        paths = ["/"]
        for part in word.strip("/").split("/"):
            nxt = []
            for base in paths:
                if GLOB_MARK not in part:
                    nxt.append(posixpath.join(base, part))
                    continue
                rx = glob_regex(part)
                entries = self.list_virtual_dir(base)
                if entries is None:
                    try:
                        entries = self.fs.listdir(base)
                    except FsError:
                        entries = []
                nxt.extend(posixpath.join(base, e) for e in sorted(entries) if rx.match(e) and not e.startswith("."))
            paths = nxt
        existing = [p for p in paths if self._exists(p)]
        return existing or [unglob(word)]

    def _exists(self, path: str) -> bool:
        if self.list_virtual_dir(path) is not None:
            return True
        try:
            if self._virtual_file(path) is not None:
                return True
        except FsError:
            return False
        try:
            self.fs.stat(path)
            return True
        except FsError:
            return False

    def _run_simple(self, argv: list[str], redirects: list[Redirect], stdin: bytes,
                    stream: Stream | None, line: str) -> Result:
        for r in redirects:
            if r.fd == 0 and r.op == "<":
                try:
                    stdin = self.fs.read(r.target) if r.target != "/dev/null" else b""
                except FsError as exc:
                    return fail(f"/system/bin/sh: {r.target}: {exc}\n")
        if argv:
            try:
                res = self.run_command(argv, Ctx(stdin, stream, line))
            except UnknownCommand as exc:
                res = fail(f"fakephone: unknown command: {exc}\n", 127)
        else:
            res = Result()
        for r in redirects:
            if r.op == ">&":
                if r.fd == 2 and r.target == "1":
                    res = Result(res.stdout + res.stderr, b"", res.code)
                elif r.fd == 1 and r.target == "2":
                    res = Result(b"", res.stderr + res.stdout, res.code)
            elif r.op in (">", ">>"):
                data = res.stdout if r.fd == 1 else res.stderr
                if r.target != "/dev/null":
                    try:
                        self.fs.write(r.target, data, append=r.op == ">>")
                    except FsError as exc:
                        return fail(f"/system/bin/sh: can't create {r.target}: {exc}\n")
                res = Result(b"" if r.fd == 1 else res.stdout, b"" if r.fd == 2 else res.stderr, res.code)
        return res

    def run_command(self, argv: list[str], ctx: Ctx) -> Result:
        name = argv[0]
        if "/" in name:
            return self._exec_path(argv, ctx)
        handler = getattr(self, "cmd_" + name.replace("-", "_"), None) if name.isidentifier() or \
            name.replace("-", "_").isidentifier() else None
        if name == "[":
            handler = self.cmd_test
        if handler is None:
            raise UnknownCommand(shlex.join(argv))
        return handler(argv[1:], ctx)

    def _exec_path(self, argv: list[str], ctx: Ctx) -> Result:
        path = argv[0]
        full = self.fs.normalize(path)
        if full.startswith(("/system/bin/", "/system/xbin/", "/vendor/bin/")):
            return self.run_command([posixpath.basename(full), *argv[1:]], ctx)
        try:
            host = self.fs.host_path(full)
        except FsError:
            return fail(f"/system/bin/sh: {path}: inaccessible or not found\n", 127)
        if not host.is_file():
            return fail(f"/system/bin/sh: {path}: inaccessible or not found\n", 127)
        if full.startswith("/sdcard/") or not os.stat(host).st_mode & 0o100:  # /sdcard is noexec
            return fail(f"/system/bin/sh: {path}: can't execute: Permission denied\n", 126)
        refused = self._elf_refusal(path, host)
        if refused is not None:
            return refused
        if posixpath.basename(full).startswith("benchmark_model"):
            with open(host, "rb") as fh:
                if fh.read(4) != b"\x7fELF":  # a script (Android has no /bin/sh): the kernel will not run it
                    return fail(f"/system/bin/sh: {path}: can't execute: Exec format error\n", 126)
            if argv[1:] == ["--version"]:
                return self._benchmark_model_version()
            if self.faults.take_benchmark_hang():
                return self._hung_process(shlex.join([full, *argv[1:]]))
            return self._benchmark_model(argv[1:])
        raise UnknownCommand(shlex.join(argv) + " (pushed binary the fake cannot run)")

    # -- preflight (mwi doctor --phone): what Android does with a binary for another ABI ---------------
    _ELF_MACHINES = {"arm64-v8a": (2, 183), "armeabi-v7a": (1, 40), "x86_64": (2, 62), "x86": (1, 3)}

    def _elf_refusal(self, path: str, host: os.PathLike) -> Result | None:
        """A well-formed ELF header for another CPU is refused as Android's sh does (a stand-in that is not
        an ELF at all runs, as before)."""
        with open(host, "rb") as f:
            head = f.read(20)
        want = self._ELF_MACHINES.get(str(self.profile.get("abi")))
        if want is None or len(head) < 20 or head[:4] != b"\x7fELF" or head[4] not in (1, 2) or head[5] != 1:
            return None
        if head[4] != want[0]:
            return fail(f"/system/bin/sh: {path}: not executable: {32 if head[4] == 1 else 64}-bit ELF file\n", 126)
        if int.from_bytes(head[18:20], "little") != want[1]:
            return fail(f"/system/bin/sh: {path}: can't execute: Exec format error\n", 126)
        return None

    def _benchmark_model_version(self) -> Result:
        import ai_edge_litert

        return Result(f"fake benchmark_model (host ai-edge-litert {getattr(ai_edge_litert, '__version__', '?')})\n"
                      .encode(), b"", 0)

    def _benchmark_model(self, args: list[str]) -> Result:
        try:
            bargs = parse_bench_args(args)
        except BenchUsage as exc:
            return fail(f"ERROR: {exc}\n", 1)
        try:
            host = self.fs.host_path(bargs.graph)
            if not host.is_file():
                raise FsError("No such file or directory")
        except FsError:
            return fail(f"INFO: STARTING!\nERROR: Could not open '{bargs.graph}'.\n"
                        "ERROR: Benchmarking failed.\n", 1)
        heat = self.heat
        faults = self.faults
        # a drifting phone (drift.py): its cgroup's quota slows this process (and so benchmark_model);
        # without one, the fake's spin takes 1 / speed as long
        by_spin = getattr(self, "_drift", None) is None or self._drift.mode != "cgroup"

        def speed() -> float:
            return faults.current_speed() if by_spin else 1.0
        if heat is None:
            drifting = faults.drift is not None and by_spin
            text, code = run_bench(bargs, str(host), bargs.graph,
                                   slowdown=(lambda: 1 / speed()) if drifting else None)
        else:  # load heats the phone; a hot phone's clocks step down and each inference takes longer
            heat.load(True)
            try:
                text, code = run_bench(bargs, str(host), bargs.graph,
                                       slowdown=lambda: 1 / (heat.freq_factor() * speed()),
                                       on_inference=heat.inference)
            finally:
                heat.load(False)
        return Result(b"", text.encode(), code)

    # ---- state helpers ----------------------------------------------------------------
    def _build_props(self) -> dict[str, str]:
        p = self.profile
        props: dict[str, str] = {}
        capture = p.get("getprop_capture")
        if capture:
            for line in read_capture(capture).splitlines():
                m = re.match(r"^\[([^\]]+)\]: \[(.*)\]$", line)
                if m:
                    props[m.group(1)] = m.group(2)
        props.update({
            "ro.product.model": p["model"], "ro.product.manufacturer": p["manufacturer"],
            "ro.product.brand": p["brand"], "ro.product.device": p["device"],
            "ro.product.name": p["product"], "ro.build.version.release": p["android_release"],
            "ro.build.version.sdk": str(p["sdk"]), "ro.product.cpu.abi": p["abi"],
            "ro.product.cpu.abilist": f"{p['abi']},armeabi-v7a,armeabi", "ro.soc.model": p["soc_model"],
            "ro.soc.manufacturer": p["soc_manufacturer"], "ro.board.platform": p["board_platform"],
            "ro.hardware": p["hardware"], "ro.build.fingerprint": p["fingerprint"],
            "ro.build.id": p["build_id"], "ro.build.type": "user", "ro.debuggable": "0",
            "ro.serialno": "FAKE" + p["device"].upper(), "sys.boot_completed": "1",
            "init.svc.adbd": "running", "ro.product.locale": "en-US", "persist.sys.timezone": "UTC",
            "ro.sf.lcd_density": str(p["screen_density"]),
        })
        props.setdefault("ro.build.version.security_patch", "2024-12-05")
        return props

    def uptime_s(self) -> float:
        return float(self.profile.get("uptime_s", 1000.0)) + (time.monotonic() - self.t_start)

    def _add_logcat(self, buffer: str, level: str, tag: str, msg: str) -> None:
        now = time.time()
        stamp = time.strftime("%m-%d %H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}"
        line = f"{stamp}  1021  1098 {level} {tag}: {msg}"
        with self._logcat_cv:
            self.logcat.append((buffer, line))
            self._logcat_cv.notify_all()

    def battery_temp_c(self) -> float:
        base = float(self.profile.get("battery_temp_c", 30.0))
        if "temp" in self.battery_overrides and self.faults.battery_temp_c is None \
                and not self.faults.battery_rise_c_per_s:
            return self.battery_overrides["temp"] / 10.0
        return self.faults.current_battery_temp_c(base)

    def thermal_status(self) -> int:
        return self.faults.current_thermal_status(self.heat.status() if self.heat is not None else 0)

    def running(self, package: str) -> ChromiumInstance | None:
        with self._lock:
            inst = self.browsers.get(package)
        if inst is not None and not inst.alive():
            return None
        return inst

    def android_processes(self) -> list:
        with self._lock:
            instances = list(self.browsers.values())
        procs = []
        for inst in instances:
            procs.extend(inst.processes())
        return procs
