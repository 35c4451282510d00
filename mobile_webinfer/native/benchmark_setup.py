"""`mwi devices setup`: TFLite's prebuilt `benchmark_model` for a phone's ABI, in the cache.

The TensorFlow Lite performance docs ("performance/measurement") link nightly prebuilt binaries:

    https://storage.googleapis.com/tensorflow-nightly-public/prod/tensorflow/release/lite/tools/nightly/latest/android_aarch64_benchmark_model

A download is kept only when it is a whole ELF executable for the phone's ABI (the ELF header's
class and e_machine, and every program / section header table inside the file); it lands in

    <cache>/benchmark_model/<abi>/benchmark_model        (where phone targets look for it)
    <cache>/benchmark_model/<abi>/benchmark_model.json   (url, sha256, size, --version output)

Offline, `setup_instructions()` says exactly what to download and where to put it.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..adb.device import Device
from ..errors import MwiError, UsageError
from ..files import atomic_write_bytes, atomic_write_json, mkdir_durably, now_iso
from ..paths import cache_dir

DEFAULT_URL_BASE = ("https://storage.googleapis.com/tensorflow-nightly-public/prod/tensorflow/release/lite/tools/"
                    "nightly/latest/")
URL_BASE_ENV = "MWI_BENCHMARK_MODEL_URL_BASE"
MAX_BYTES = 512 << 20        # the aarch64 binary is ~10-40 MB; anything near this is not it
REMOTE_DIR = "/data/local/tmp/mwi"


@dataclass(frozen=True)
class AbiBinary:
    """What to fetch for one Android ABI and what its ELF header must say."""

    abi: str
    file_name: str          # name on the download site
    elf_class: int          # 1 = 32-bit, 2 = 64-bit
    e_machine: int          # EM_AARCH64 183, EM_ARM 40, EM_X86_64 62, EM_386 3


ABIS: dict[str, AbiBinary] = {a.abi: a for a in (
    AbiBinary("arm64-v8a", "android_aarch64_benchmark_model", 2, 183),
    AbiBinary("armeabi-v7a", "android_arm_benchmark_model", 1, 40),
    AbiBinary("x86_64", "android_x86_64_benchmark_model", 2, 62),
    AbiBinary("x86", "android_x86_benchmark_model", 1, 3),
)}
_MACHINE_NAMES = {183: "aarch64", 40: "arm", 62: "x86_64", 3: "x86", 243: "riscv"}


class BenchmarkModelSetupError(MwiError):
    """A download that is not a whole executable for the phone's ABI, or one that could not be stored."""

    exit_code = 1


class DownloadUnavailable(BenchmarkModelSetupError):
    """The download site could not be reached (offline); carries the manual instructions."""

    exit_code = 3

    def __init__(self, message: str, *, instructions: str = ""):
        self.instructions = instructions
        super().__init__(message)


@dataclass(frozen=True)
class InstalledBinary:
    abi: str
    path: Path
    sha256: str
    size: int
    url: str
    version_output: str | None
    version_exit: int | None

    def to_json(self) -> dict[str, Any]:
        return {"abi": self.abi, "path": str(self.path), "sha256": self.sha256, "size": self.size,
                "url": self.url, "version_output": self.version_output, "version_exit": self.version_exit}


def abi_binary(abi: str) -> AbiBinary:
    try:
        return ABIS[abi]
    except KeyError:
        raise UsageError(f"no prebuilt benchmark_model for ABI {abi!r} (known: {', '.join(ABIS)})") from None


def benchmark_model_cache_path(abi: str) -> Path:
    """`<cache>/benchmark_model/<abi>/benchmark_model`: where phone targets look for the binary."""
    abi_binary(abi)
    return cache_dir() / "benchmark_model" / abi / "benchmark_model"


def url_base(explicit: str | None = None) -> str:
    base = explicit or os.environ.get(URL_BASE_ENV) or DEFAULT_URL_BASE
    if not base.startswith(("https://", "http://")):
        raise UsageError(f"benchmark_model URL base must be an http(s) URL: {base!r}")
    return base if base.endswith("/") else base + "/"


def download_url(abi: str, base: str | None = None) -> str:
    return url_base(base) + abi_binary(abi).file_name


def setup_instructions(abi: str, base: str | None = None, serial: str | None = None) -> str:
    """What to do by hand when the host cannot download (several lines)."""
    dest = benchmark_model_cache_path(abi)
    url = download_url(abi, base)
    who = f" {serial}" if serial else " SERIAL"
    return (f"download {url}\n"
            f"  (TFLite's prebuilt benchmark_model for {abi}, linked from the TensorFlow Lite performance docs)\n"
            f"then either: mwi devices setup{who} --file PATH_OF_THE_DOWNLOAD\n"
            f"or put it at {dest} (chmod 755) and pass nothing: phone sweeps look there")


def check_elf(data: bytes, abi: str, *, what: str = "download") -> None:
    """Refuse anything but a whole ELF executable / shared object for `abi` (one-line errors)."""
    want = abi_binary(abi)
    if len(data) < 52 or data[:4] != b"\x7fELF":
        raise BenchmarkModelSetupError(f"{what} is not an ELF executable ({len(data)} bytes, starts "
                                       f"{data[:8]!r}); expected benchmark_model for {abi}")
    ei_class, ei_data = data[4], data[5]
    if ei_data != 1:
        raise BenchmarkModelSetupError(f"{what} is a big-endian ELF; Android {abi} needs little-endian")
    if ei_class not in (1, 2):
        raise BenchmarkModelSetupError(f"{what} has an invalid ELF class {ei_class}")
    e_type, e_machine = struct.unpack_from("<HH", data, 16)
    if e_machine != want.e_machine or ei_class != want.elf_class:
        got = _MACHINE_NAMES.get(e_machine, f"e_machine {e_machine}")
        raise BenchmarkModelSetupError(f"{what} is built for {got} ({32 if ei_class == 1 else 64}-bit), not for "
                                       f"this phone's ABI {abi} ({_MACHINE_NAMES[want.e_machine]})")
    if e_type not in (2, 3):   # ET_EXEC, ET_DYN (PIE)
        raise BenchmarkModelSetupError(f"{what} is an ELF of type {e_type}, not an executable")
    if ei_class == 2:
        if len(data) < 64:
            raise BenchmarkModelSetupError(f"{what} is truncated (ELF header cut at {len(data)} bytes)")
        e_phoff, e_shoff = struct.unpack_from("<QQ", data, 32)
        e_phentsize, e_phnum, e_shentsize, e_shnum = struct.unpack_from("<HHHH", data, 54)
    else:
        e_phoff, e_shoff = struct.unpack_from("<II", data, 28)
        e_phentsize, e_phnum, e_shentsize, e_shnum = struct.unpack_from("<HHHH", data, 42)
    if e_phnum == 0:
        raise BenchmarkModelSetupError(f"{what} has no program headers: not an executable")
    ends = [e_phoff + e_phentsize * e_phnum, e_shoff + e_shentsize * e_shnum if e_shnum else 0]
    if e_phentsize:
        ends += _segment_ends(data, e_phoff, e_phentsize, e_phnum, ei_class)
    need = max(ends)
    if need > len(data):
        raise BenchmarkModelSetupError(f"{what} is truncated: {len(data)} bytes, but its ELF headers reach byte "
                                       f"{need}; download it again")


def _segment_ends(data: bytes, phoff: int, phentsize: int, phnum: int, ei_class: int) -> list[int]:
    """File end of every segment (p_offset + p_filesz) whose header is inside the data."""
    out = []
    for i in range(phnum):
        off = phoff + i * phentsize
        if off + phentsize > len(data):
            break
        if ei_class == 2:
            p_offset, = struct.unpack_from("<Q", data, off + 8)
            p_filesz, = struct.unpack_from("<Q", data, off + 32)
        else:
            p_offset, = struct.unpack_from("<I", data, off + 4)
            p_filesz, = struct.unpack_from("<I", data, off + 16)
        out.append(p_offset + p_filesz)
    return out


def fetch(url: str, *, timeout: float = 60.0, max_bytes: int = MAX_BYTES) -> bytes:
    """GET url; DownloadUnavailable when offline, BenchmarkModelSetupError when the body is short."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            expected = resp.headers.get("Content-Length")
            chunks, total = [], 0
            while True:
                block = resp.read(1 << 20)
                if not block:
                    break
                total += len(block)
                if total > max_bytes:
                    raise BenchmarkModelSetupError(f"{url} is larger than {max_bytes >> 20} MiB: not benchmark_model")
                chunks.append(block)
    except urllib.error.HTTPError as exc:
        raise BenchmarkModelSetupError(f"{url} answered HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        if isinstance(exc, BenchmarkModelSetupError):
            raise
        reason = getattr(exc, "reason", exc)
        raise DownloadUnavailable(f"cannot download {url}: {reason}") from None
    data = b"".join(chunks)
    if expected is not None and expected.isdigit() and int(expected) != len(data):
        raise BenchmarkModelSetupError(f"download of {url} is truncated: {len(data)} of {expected} bytes")
    return data


def install(data: bytes, abi: str, *, url: str, version: Callable[[Path], tuple[str, int] | None] | None = None
            ) -> InstalledBinary:
    """Check and store a benchmark_model binary in the cache (temp file + rename, mode 755) with its JSON."""
    check_elf(data, abi, what=url)
    dest = benchmark_model_cache_path(abi)
    mkdir_durably(dest.parent)
    try:
        atomic_write_bytes(dest, data, mode=0o755)
    except OSError as exc:
        raise BenchmarkModelSetupError(f"cannot store benchmark_model at {dest}: {exc.strerror or exc}") from None
    sha = hashlib.sha256(data).hexdigest()
    ver = version(dest) if version is not None else None
    rec = InstalledBinary(abi, dest, sha, len(data), url, ver[0] if ver else None, ver[1] if ver else None)
    atomic_write_json(dest.with_name("benchmark_model.json"), {**rec.to_json(), "installed_at": now_iso()})
    return rec


def installed_info(abi: str) -> dict[str, Any] | None:
    """The JSON recorded beside the cached binary (for a run's manifest), or None."""
    p = benchmark_model_cache_path(abi).with_name("benchmark_model.json")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def version_on_device(dev: Device) -> Callable[[Path], tuple[str, int] | None]:
    """A `version` callback for `install`: push the binary to the phone, run `--version`, keep its output
    (whatever it prints and its exit status: older builds answer an unknown flag with their usage)."""

    def run(path: Path) -> tuple[str, int] | None:
        h = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        remote = f"{REMOTE_DIR}/benchmark_model-{h}"
        dev.shell(["mkdir", "-p", REMOTE_DIR])
        dev.push(path, remote)
        dev.shell(["chmod", "755", remote])
        res = dev.shell([remote, "--version"], check=False, timeout=60)
        text = (res.stdout + res.stderr).strip()
        return text[-2000:], res.exit_code

    return run


def setup_benchmark_model(serial: str, *, url_base: str | None = None, file: Path | None = None,
                          abi: str | None = None, say: Callable[[str], None] | None = None) -> InstalledBinary:
    """`mwi devices setup SERIAL`: the phone's ABI (or `abi`), download (or `file`), check, store, `--version`."""
    from ..adb.shell import AdbSession, validate_serial

    validate_serial(serial)
    session = AdbSession.from_env()
    dev: Device | None = None
    try:
        session.require_device(serial)
        dev = Device(serial, client=session)
    except MwiError as exc:
        if abi is None:
            raise
        if say:
            say(f"{serial} not attached ({exc.one_line()}); installing for --abi {abi} without --version")
    if dev is not None:
        phone_abi = str(dev.getprop("ro.product.cpu.abi") or "").strip()
        if abi is not None and phone_abi and abi != phone_abi:
            raise UsageError(f"--abi {abi} but {serial} reports ABI {phone_abi}")
        abi = abi or phone_abi
    if not abi:
        raise UsageError(f"{serial} reports no ABI (getprop ro.product.cpu.abi); pass --abi")
    abi_binary(abi)
    if file is not None:
        try:
            data, source = Path(file).read_bytes(), str(file)
        except OSError as exc:
            raise UsageError(f"cannot read {file}: {exc.strerror or exc}") from None
    else:
        source = download_url(abi, url_base)
        if say:
            say(f"downloading {source}")
        try:
            data = fetch(source)
        except DownloadUnavailable as exc:
            raise DownloadUnavailable(exc.one_line(), instructions=setup_instructions(abi, url_base, serial)) from None
    return install(data, abi, url=source, version=version_on_device(dev) if dev is not None else None)


#: exit statuses of a shell that could not run the file at all (126 cannot execute, 127 not found);
#: above 128 it died of a signal (a binary for another CPU, a missing loader)
_DID_NOT_RUN = (126, 127)


def _checked_path() -> Path:
    return cache_dir() / "benchmark_model" / "checked.json"


def _checked() -> dict[str, Any]:
    try:
        data = json.loads(_checked_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def check_benchmark_model(path: Path, serial: str, *, dev: Device | None = None) -> dict[str, Any]:
    """`--benchmark-model PATH` for phone `serial`, before a sweep or study starts: the file exists, is a
    whole ELF executable for the phone's ABI (`check_elf`, as `mwi devices setup` checks a download) and
    runs there (`--version`: whatever it prints; only a shell that cannot execute it or a crash fails).
    The run is done once per phone and binary: the answer is cached by (serial, sha256).  UsageError
    (exit 2, one line) on any failure; the cached record otherwise."""
    p = Path(path).expanduser()
    if not p.is_file():
        why = "is a folder" if p.is_dir() else "does not exist"
        raise UsageError(f"--benchmark-model {path} {why}; give TFLite's benchmark_model binary for the phone "
                         f"(or run `mwi devices setup {serial}` and leave the flag out)")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise UsageError(f"--benchmark-model {path}: cannot read it: {exc.strerror or exc}") from None
    sha = hashlib.sha256(data).hexdigest()
    key = f"{serial}|{sha}"
    cached = _checked().get(key)
    if isinstance(cached, dict) and cached.get("ok"):
        return cached
    if dev is None:
        from ..adb.shell import AdbSession

        session = AdbSession.from_env()
        session.require_device(serial)
        dev = Device(serial, client=session)
    abi = str(dev.getprop("ro.product.cpu.abi") or "").strip()
    if abi not in ABIS:
        raise UsageError(f"--benchmark-model {path}: {serial} reports ABI {abi or 'none'!r}, for which TFLite "
                         f"ships no benchmark_model (known: {', '.join(ABIS)})")
    try:
        check_elf(data, abi, what=f"--benchmark-model {path}")
    except BenchmarkModelSetupError as exc:
        raise UsageError(f"{exc.one_line()} (phone {serial}; `mwi devices setup {serial}` fetches the one "
                         f"for its ABI)") from None
    ran = version_on_device(dev)(p)
    text, code = ran if ran else ("", None)
    if code is None or code in _DID_NOT_RUN or code > 128:
        tail = " | ".join(text.strip().splitlines()[-2:])[:200] or "no output"
        raise UsageError(f"--benchmark-model {path} does not run on {serial} (`--version` exit {code}: {tail})")
    rec = {"ok": True, "serial": serial, "sha256": sha, "abi": abi, "path": str(p), "version_exit": code,
           "version_output": text[-500:], "checked_at": now_iso()}
    table = _checked()
    table[key] = rec
    try:
        mkdir_durably(_checked_path().parent)
        atomic_write_json(_checked_path(), table)
    except OSError:  # a read-only cache only costs the next run the same check
        pass
    return rec
