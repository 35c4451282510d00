"""`mwi devices setup` (issue 12 item 11) against a local stand-in for the download site."""

from __future__ import annotations

import http.server
import json
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mobile_webinfer.cli import main
from mobile_webinfer.native.benchmark_setup import (
    BenchmarkModelSetupError,
    DownloadUnavailable,
    benchmark_model_cache_path,
    check_elf,
    fetch,
    install,
    installed_info,
    setup_benchmark_model,
    setup_instructions,
)


def elf(machine: int, bits: int = 64, payload: int = 4096) -> bytes:
    """A minimal well-formed ELF executable: header, one PT_LOAD program header, the segment."""
    if bits == 64:
        ehsize, phentsize = 64, 56
        phoff = ehsize
        seg_off = phoff + phentsize
        head = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
        head += struct.pack("<HHIQQQIHHHHHH", 3, machine, 1, 0x1000, phoff, 0, 0, ehsize, phentsize, 1, 64, 0, 0)
        ph = struct.pack("<IIQQQQQQ", 1, 5, seg_off, 0, 0, payload, payload, 0x1000)
    else:
        ehsize, phentsize = 52, 32
        phoff = ehsize
        seg_off = phoff + phentsize
        head = b"\x7fELF" + bytes([1, 1, 1]) + bytes(9)
        head += struct.pack("<HHIIIIIHHHHHH", 3, machine, 1, 0x1000, phoff, 0, 0, ehsize, phentsize, 1, 40, 0, 0)
        ph = struct.pack("<IIIIIIII", 1, seg_off, 0, 0, payload, payload, 5, 0x1000)
    return head + ph + bytes(range(256)) * (payload // 256)


GOOD = elf(183)


class Site:
    """127.0.0.1 HTTP server: path -> (body, claimed Content-Length or None for the true one)."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, int | None]] = {}
        self.hits: list[str] = []
        site = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a: object) -> None:
                pass

            def do_GET(self) -> None:
                site.hits.append(self.path)
                name = self.path.rsplit("/", 1)[-1]
                if name not in site.files:
                    self.send_error(404)
                    return
                body, claimed = site.files[name]
                self.send_response(200)
                self.send_header("Content-Length", str(claimed if claimed is not None else len(body)))
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = True

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/tools/nightly/latest/"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def site() -> Iterator[Site]:
    s = Site()
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("MWI_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("MWI_BENCHMARK_MODEL_URL_BASE", raising=False)
    return tmp_path / "cache"


def test_good_file_is_stored_with_sha256_and_json(site, cache):
    site.files["android_aarch64_benchmark_model"] = (GOOD, None)
    url = site.base + "android_aarch64_benchmark_model"
    rec = install(fetch(url), "arm64-v8a", url=url, version=lambda p: ("TFLite 2.x", 0))
    dest = cache / "benchmark_model" / "arm64-v8a" / "benchmark_model"
    assert rec.path == dest == benchmark_model_cache_path("arm64-v8a")
    assert dest.read_bytes() == GOOD and dest.stat().st_mode & 0o777 == 0o755
    info = installed_info("arm64-v8a")
    assert info is not None and info["sha256"] == rec.sha256 and info["url"] == url and info["size"] == len(GOOD)
    assert info["version_output"] == "TFLite 2.x" and info["version_exit"] == 0
    assert {p.name for p in dest.parent.iterdir()} == {"benchmark_model", "benchmark_model.json"}  # no temp file


def test_truncated_download_refused(site, cache):
    site.files["android_aarch64_benchmark_model"] = (GOOD[:-1000], len(GOOD))      # connection cut short
    with pytest.raises(BenchmarkModelSetupError, match="truncated"):
        fetch(site.base + "android_aarch64_benchmark_model")
    with pytest.raises(BenchmarkModelSetupError, match="truncated.*download it again"):
        check_elf(GOOD[:-1000], "arm64-v8a")                  # honest length, still cut: the headers say so
    with pytest.raises(BenchmarkModelSetupError, match="not an ELF"):
        check_elf(GOOD[:30], "arm64-v8a")
    assert not benchmark_model_cache_path("arm64-v8a").exists()


@pytest.mark.parametrize("data, abi, what", [
    (elf(62), "arm64-v8a", "built for x86_64 .*not for this phone's ABI arm64-v8a"),
    (elf(40, bits=32), "arm64-v8a", "built for arm \\(32-bit\\)"),
    (elf(183), "armeabi-v7a", "built for aarch64"),
    (b"<html>404 Not Found</html>" + bytes(100), "arm64-v8a", "not an ELF executable"),
])
def test_wrong_architecture_or_not_elf_refused(cache, data, abi, what):
    with pytest.raises(BenchmarkModelSetupError, match=what):
        install(data, abi, url="http://127.0.0.1/x")
    assert not benchmark_model_cache_path(abi).parent.exists() or not benchmark_model_cache_path(abi).exists()


def test_other_abis_accepted():
    check_elf(elf(40, bits=32), "armeabi-v7a")
    check_elf(elf(62), "x86_64")
    check_elf(elf(3, bits=32), "x86")


def test_offline_prints_what_to_download_and_where(cache, capsys, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]                     # nothing listens here once closed
    base = f"http://127.0.0.1:{dead}/nightly/"
    with pytest.raises(DownloadUnavailable):
        fetch(base + "android_aarch64_benchmark_model", timeout=5)
    text = setup_instructions("arm64-v8a", base, "R58M12345")
    assert f"download {base}android_aarch64_benchmark_model" in text
    assert str(cache / "benchmark_model" / "arm64-v8a" / "benchmark_model") in text
    assert "mwi devices setup R58M12345 --file" in text
    # the CLI, with the phone absent and --abi given: exit 3, instructions on stdout, one error line on stderr
    monkeypatch.setenv("MWI_BENCHMARK_MODEL_URL_BASE", base)
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(dead))
    with pytest.raises(SystemExit) as ei:
        main(["devices", "setup", "R58M12345", "--abi", "arm64-v8a"])
    out, err = capsys.readouterr()
    assert ei.value.code == 3
    assert f"download {base}android_aarch64_benchmark_model" in out
    assert [ln for ln in err.splitlines() if ln.startswith("mwi: error:")] and "Traceback" not in err


def test_default_url_is_the_documented_nightly_location(cache):
    assert setup_instructions("arm64-v8a").startswith(
        "download https://storage.googleapis.com/tensorflow-nightly-public/prod/tensorflow/release/lite/tools/"
        "nightly/latest/android_aarch64_benchmark_model")


def test_setup_on_fake_phone_downloads_for_its_abi_and_runs_version(site, cache, fake_phone, tmp_path):
    phone = fake_phone("pixel", in_process=True)
    site.files["android_aarch64_benchmark_model"] = (GOOD, None)
    rec = setup_benchmark_model(phone.serial, url_base=site.base)
    assert rec.abi == "arm64-v8a" and rec.path.read_bytes() == GOOD
    assert site.hits == ["/tools/nightly/latest/android_aarch64_benchmark_model"]
    # --version was run on the phone, and whatever it said is kept
    assert any(c.endswith("--version") and "benchmark_model-" in c for c in phone.commands)
    assert rec.version_output is not None and rec.version_exit is not None
    info = json.loads(rec.path.with_name("benchmark_model.json").read_text())
    assert info["version_exit"] == rec.version_exit and info["abi"] == "arm64-v8a"
    # a wrong-architecture download never replaces the good one
    site.files["android_aarch64_benchmark_model"] = (elf(62), None)
    with pytest.raises(BenchmarkModelSetupError, match="x86_64"):
        setup_benchmark_model(phone.serial, url_base=site.base)
    assert rec.path.read_bytes() == GOOD
    # --file installs a manual download with the same checks
    manual = tmp_path / "dl"
    manual.write_bytes(GOOD[:-10])
    with pytest.raises(BenchmarkModelSetupError, match="truncated"):
        setup_benchmark_model(phone.serial, file=manual)
