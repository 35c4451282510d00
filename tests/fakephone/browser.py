"""Real headless Chromium standing in for a phone's browser, and its processes seen the Android way.

Each started browser package gets its own Chromium (own process group, own fresh profile dir).
Its Linux processes are mapped to Android process names: the browser process is the package,
renderers are ``PKG:sandboxed_process0:org.chromium.content.app.SandboxedProcessService0:N``,
the GPU process ``PKG:privileged_process0`` and utility processes ``PKG:privileged_processN``.
Chromium's zygote helpers have no Android counterpart and are not listed.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = os.environ.get("FAKEPHONE_CHROMIUM", "/usr/bin/chromium")

BASE_FLAGS = (
    "--headless",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-breakpad",
    "--password-store=basic",
    "--use-mock-keychain",
    "--remote-debugging-port=0",
    "--remote-allow-origins=*",
)


@dataclass(frozen=True)
class AndroidProcess:
    """One Chromium process under its Android name."""

    pid: int
    ppid: int
    name: str
    kind: str  # browser | renderer | gpu | utility


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return ""


def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = _read(f"/proc/{entry}/stat")
        if not stat:
            continue
        try:
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
        except (IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def descendants(pid: int) -> list[int]:
    """``pid`` and every live descendant, parents before children."""
    kids = _children_map()
    out, todo = [], [pid]
    while todo:
        p = todo.pop(0)
        if not os.path.exists(f"/proc/{p}"):
            continue
        out.append(p)
        todo.extend(sorted(kids.get(p, [])))
    return out


def _process_type(pid: int) -> str | None:
    argv = _read(f"/proc/{pid}/cmdline").replace("\0", " ").split()  # children rewrite their title
    for arg in argv:
        if arg.startswith("--type="):
            return arg[len("--type="):]
    return "browser" if argv and argv[0] else None


class ChromiumInstance:
    """A headless Chromium launched for one Android browser package."""

    def __init__(self, package: str, url: str, extra_flags: tuple[str, ...] = (),
                 chromium: str = CHROMIUM) -> None:
        self.package = package
        self.url = url
        self.user_data_dir = tempfile.mkdtemp(prefix=f"fakephone-{package}-")
        flags = list(BASE_FLAGS) + list(extra_flags) + [f"--user-data-dir={self.user_data_dir}"]
        if os.geteuid() == 0:
            flags.append("--no-sandbox")
        self.start_time = time.time()
        tmp = os.path.join(self.user_data_dir, "tmp")  # Chromium's own temp files go away with us
        os.mkdir(tmp)
        self.proc = subprocess.Popen([chromium, *flags, url], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True, env=dict(os.environ, TMPDIR=tmp))
        self.devtools_port = 0
        self._renderer_names: dict[int, int] = {}
        self._lock = threading.Lock()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_devtools(self, timeout: float = 20.0) -> int:
        """Wait for Chromium's DevToolsActivePort file; the port (RuntimeError on failure)."""
        path = Path(self.user_data_dir) / "DevToolsActivePort"
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited with status {self.proc.returncode}")
            text = _read(str(path))
            if text.strip():
                self.devtools_port = int(text.split()[0])
                return self.devtools_port
            time.sleep(0.05)
        raise RuntimeError("chromium did not open its DevTools port in time")

    def wait_renderer(self, timeout: float = 20.0) -> None:
        """Wait until a renderer exists (an activity is "displayed"); RuntimeError on failure."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if not self.alive():
                raise RuntimeError(f"chromium exited with status {self.proc.returncode}")
            if any(p.kind == "renderer" for p in self.processes()):
                return
            time.sleep(0.05)
        raise RuntimeError("chromium started no renderer in time")

    def open_url(self, url: str) -> None:
        """Open ``url`` in a new tab of the running browser (what a second VIEW intent does)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.devtools_port, timeout=10)
        try:
            conn.request("PUT", "/json/new?" + urllib.parse.quote(url, safe=":/?&=%#"))
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                raise RuntimeError(f"DevTools /json/new answered {resp.status}")
        finally:
            conn.close()
        self.url = url

    def processes(self) -> list[AndroidProcess]:
        """The live processes of this browser under their Android names (zygotes left out)."""
        if not self.alive():
            return []
        out = []
        gpu_seen = False
        utility_index = 1
        with self._lock:
            for pid in descendants(self.pid):
                kind = _process_type(pid)
                stat = _read(f"/proc/{pid}/stat")
                try:
                    ppid = int(stat.rsplit(")", 1)[1].split()[1])
                except (IndexError, ValueError):
                    continue
                if kind == "browser" and pid == self.pid:
                    out.append(AndroidProcess(pid, ppid, self.package, "browser"))
                elif kind == "renderer":
                    index = self._renderer_names.setdefault(pid, len(self._renderer_names))
                    name = (f"{self.package}:sandboxed_process0:"
                            f"org.chromium.content.app.SandboxedProcessService0:{index}")
                    out.append(AndroidProcess(pid, ppid, name, "renderer"))
                elif kind == "gpu-process" and not gpu_seen:
                    gpu_seen = True
                    out.append(AndroidProcess(pid, ppid, f"{self.package}:privileged_process0", "gpu"))
                elif kind in ("utility", "gpu-process"):
                    out.append(AndroidProcess(pid, ppid, f"{self.package}:privileged_process{utility_index}",
                                              "utility"))
                    utility_index += 1
        return out

    def kill_renderers(self) -> list[int]:
        """SIGKILL every renderer (an OOM kill or crash, as seen from outside); their pids."""
        pids = [p.pid for p in self.processes() if p.kind == "renderer"]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return pids

    def freeze_renderers(self) -> list[int]:
        """SIGSTOP every renderer: alive (no crash to see) but silent, as a hung page is; their pids."""
        pids = [p.pid for p in self.processes() if p.kind == "renderer"]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGSTOP)
            except ProcessLookupError:
                pass
        return pids

    def stop(self) -> None:
        """Kill the whole process group (and stray descendants), then remove the profile dir."""
        try:
            pids = descendants(self.pid) if self.alive() else []
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        finally:
            shutil.rmtree(self.user_data_dir, ignore_errors=True)


# ---- dumpsys meminfo from /proc/<pid>/smaps ------------------------------------------------

ROWS = ("Native Heap", "Dalvik Heap", "Dalvik Other", "Stack", "Ashmem", "Gfx dev", "Other dev",
        ".so mmap", ".jar mmap", ".apk mmap", ".ttf mmap", ".dex mmap", ".oat mmap", ".art mmap",
        "Other mmap", "Unknown")
_FIELDS = ("Pss", "Private_Dirty", "Private_Clean", "Swap", "Rss")
_NATIVE_ANON = ("[anon:libc_malloc", "[anon:scudo", "[anon:partition_alloc", "[anon:PartitionAlloc")


def _category(name: str) -> str:
    # Chromium's heaps (PartitionAlloc, V8, malloc arenas) are unnamed anonymous mappings on
    # Linux; on Android they would be named [anon:...] heaps: count them as Native Heap.
    if not name or name == "[heap]" or name.startswith(_NATIVE_ANON):
        return "Native Heap"
    if name.startswith("[stack") or name.startswith("[anon:stack") or name.startswith("[anon:thread"):
        return "Stack"
    if name.startswith(("/dev/ashmem", "/memfd:", "/dev/shm", "[anon:shmem", "/SYSV")):
        return "Ashmem"
    if name.startswith(("/dev/dri", "/dev/kgsl", "/dev/mali")):
        return "Gfx dev"
    if name.startswith("/dev/"):
        return "Other dev"
    base = name.split(" (deleted)")[0]
    for ext, row in ((".so", ".so mmap"), (".jar", ".jar mmap"), (".apk", ".apk mmap"),
                     (".ttf", ".ttf mmap"), (".otf", ".ttf mmap"), (".dex", ".dex mmap"),
                     (".odex", ".dex mmap"), (".vdex", ".dex mmap"), (".oat", ".oat mmap"),
                     (".art", ".art mmap")):
        if base.endswith(ext) or f"{ext}." in base.rsplit("/", 1)[-1]:
            return row
    if base.endswith((".pak", ".dat", ".bin")) and "/chromium/" in base:
        return ".apk mmap"  # resources, ICU data and V8 snapshots live inside the APK on Android
    if base.endswith("/chromium") or "/chromium/" in base and "." not in base.rsplit("/", 1)[-1]:
        return ".so mmap"  # the browser binary: libmonochrome.so / libchrome.so on Android
    if name.startswith("/"):
        return "Other mmap"
    return "Unknown"


def read_smaps(pid: int) -> dict[str, dict[str, int]]:
    """Per-category sums (kB) of Pss, Private_Dirty, Private_Clean, Swap, Rss of one process."""
    rows = {row: dict.fromkeys(_FIELDS, 0) for row in ROWS}
    text = _read(f"/proc/{pid}/smaps")
    if not text:
        raise ProcessLookupError(pid)
    current = rows["Unknown"]
    for line in text.splitlines():
        head = line.split(None, 1)[0] if line else ""
        if head and "-" in head and not head.endswith(":"):
            parts = line.split(None, 5)
            current = rows[_category(parts[5].strip() if len(parts) > 5 else "")]
        elif head.endswith(":") and head[:-1] in _FIELDS:
            current[head[:-1]] += int(line.split()[1])
    return rows


def format_meminfo_block(proc: AndroidProcess) -> str:
    """One ``** MEMINFO in pid N [name] **`` block in Android 11+ layout (with Rss column)."""
    rows = read_smaps(proc.pid)
    total = {f: sum(r[f] for r in rows.values()) for f in _FIELDS}
    native = rows["Native Heap"]
    heap_size = native["Rss"]
    heap_alloc = native["Private_Dirty"]
    lines = [f"** MEMINFO in pid {proc.pid} [{proc.name}] **",
             "                   Pss  Private  Private     Swap      Rss     Heap     Heap     Heap",
             "                 Total    Dirty    Clean    Dirty    Total     Size    Alloc     Free",
             "                ------   ------   ------   ------   ------   ------   ------   ------"]

    def row(label: str, r: dict[str, int], heap: tuple[int, int, int] | None) -> str:
        cells = [r["Pss"], r["Private_Dirty"], r["Private_Clean"], r["Swap"], r["Rss"]]
        text = f"{label:>13s} " + " ".join(f"{v:8d}" for v in cells)
        if heap is None:
            return text + " " + " ".join(f"{'':8s}" for _ in range(3))
        return text + " " + " ".join(f"{v:8d}" for v in heap)

    for label in ROWS:
        r = rows[label]
        if label in ("Gfx dev", ".ttf mmap") and not any(r.values()):
            continue
        if label == "Native Heap":
            lines.append(row(label, r, (heap_size, heap_alloc, max(0, heap_size - heap_alloc))))
        elif label == "Dalvik Heap":
            lines.append(row(label, r, (0, 0, 0)))
        else:
            lines.append(row(label, r, None))
    lines.append(row("TOTAL", total, (heap_size, heap_alloc, max(0, heap_size - heap_alloc))))

    def priv(r: dict[str, int]) -> int:
        return r["Private_Dirty"] + r["Private_Clean"]

    code_rows = (".so mmap", ".jar mmap", ".apk mmap", ".ttf mmap", ".dex mmap", ".oat mmap")
    java = rows["Dalvik Heap"]["Private_Dirty"] + priv(rows[".art mmap"])
    native_p = native["Private_Dirty"]
    code = sum(priv(rows[r]) for r in code_rows)
    stack = rows["Stack"]["Private_Dirty"]
    graphics = rows["Gfx dev"]["Pss"]
    private_other = priv(total) - java - native_p - code - stack - graphics
    system = total["Pss"] - java - native_p - code - stack - graphics - private_other
    java_rss = rows["Dalvik Heap"]["Rss"] + rows[".art mmap"]["Rss"]
    code_rss = sum(rows[r]["Rss"] for r in code_rows)
    stack_rss = rows["Stack"]["Rss"]
    gfx_rss = rows["Gfx dev"]["Rss"]
    unknown_rss = total["Rss"] - java_rss - native["Rss"] - code_rss - stack_rss - gfx_rss

    def summ(label: str, pss: int | str, rss: int | str | None = None) -> str:
        text = f"{label:>21s} {pss!s:>8s}"
        if rss is not None:
            text += f" {'':>21s} {rss!s:>8s}"
        return text

    lines += [" ", " App Summary",
              "                       Pss(KB)                        Rss(KB)",
              "                        ------                         ------",
              summ("Java Heap:", java, java_rss), summ("Native Heap:", native_p, native["Rss"]),
              summ("Code:", code, code_rss), summ("Stack:", stack, stack_rss),
              summ("Graphics:", graphics, gfx_rss), summ("Private Other:", private_other),
              summ("System:", system), summ("Unknown:", "", unknown_rss), " ",
              f"{'TOTAL PSS:':>21s} {total['Pss']:8d} {'TOTAL RSS:':>21s} {total['Rss']:8d} "
              f"{'TOTAL SWAP (KB):':>21s} {total['Swap']:8d}",
              " ", " Objects",
              "               Views:        0         ViewRootImpl:        0",
              "         AppContexts:        0           Activities:        0",
              "              Assets:        0        AssetManagers:        0",
              "       Local Binders:        0        Proxy Binders:        0",
              "       Parcel memory:        0         Parcel count:        0",
              "    Death Recipients:        0             WebViews:        0",
              " ", " SQL",
              "         MEMORY_USED:        0",
              "  PAGECACHE_OVERFLOW:        0          MALLOC_SIZE:        0",
              " ", ""]
    return "\n".join(lines)
