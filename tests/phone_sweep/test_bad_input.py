"""Phones: bad input found before anything starts (exit 2, one line, seconds), and a phone sweep that
measured nothing exits 5 (issue 23)."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from mobile_webinfer.errors import UsageError
from mobile_webinfer.native.benchmark_setup import check_benchmark_model
from mobile_webinfer.paths import PAGES_DIR
from tests.fakephone.bench import stand_in_elf
from tests.sweep_helpers import run_mwi

pytestmark = pytest.mark.browser
SMALL = ["--models", "tiny_cnn", "--runtimes", "tfjs", "--backends", "wasm", "--threads", "1", "--quick",
         "--repeats", "1", "--iterations", "3", "--browsers", "com.android.chrome", "--native-backends", "xnnpack",
         "--no-html", "--no-capabilities"]


def test_bad_phone_inputs_fail_in_one_line_before_anything_starts(fake_phone, tmp_path, monkeypatch):
    monkeypatch.setenv("MWI_CACHE", str(tmp_path / "cache"))
    phone = fake_phone("pixel")
    script = tmp_path / "benchmark_model.sh"
    script.write_text("#!/bin/sh\necho benchmark\n")
    script.chmod(0o755)
    x86 = tmp_path / "benchmark_model_x86_64"
    x86.write_bytes(stand_in_elf(e_machine=62))
    cases = [(["--target", "NOTAPHONE123"], "no device with serial 'NOTAPHONE123' is attached"),
             (["--target", phone.serial, "--benchmark-model", "/does/not/exist"], "does not exist"),
             (["--target", phone.serial, "--benchmark-model", str(script)], "is not an ELF executable"),
             (["--target", phone.serial, "--benchmark-model", str(x86)], "is built for x86_64 (64-bit), not for "
                                                                          "this phone's ABI arm64-v8a")]
    for args, said in cases:
        t0 = time.monotonic()
        p = run_mwi("sweep", *SMALL, *args, "--out", str(tmp_path / "out"), check=False, timeout=120)
        took = time.monotonic() - t0
        lines = p.stderr.strip().splitlines()
        assert p.returncode == 2 and len(lines) == 1 and said in lines[0], (args, p.returncode, p.stderr)
        assert took < 30, (args, took)  # no recovery wait, no cell (a never-seen serial took 15.8 s before)
    assert not (tmp_path / "out").exists()
    assert not any(c.startswith("am start") for c in phone.commands)  # no browser was opened
    # a good binary runs `--version` once on this phone; the answer is cached by sha256
    good = tmp_path / "benchmark_model"
    good.write_bytes(stand_in_elf())
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", os.environ["ANDROID_ADB_SERVER_PORT"])
    first = check_benchmark_model(good, phone.serial)
    again = check_benchmark_model(good, phone.serial)
    assert first == again and first["abi"] == "arm64-v8a"
    assert sum("--version" in c for c in phone.commands) == 1
    with pytest.raises(UsageError, match="is not an ELF"):
        check_benchmark_model(script, phone.serial)


def test_phone_sweep_that_measured_nothing_exits_5(fake_phone, tmp_path):
    phone = fake_phone("pixel")
    pages = tmp_path / "pages"  # the vendored runtimes missing: every browser cell fails
    shutil.copytree(PAGES_DIR, pages, ignore=shutil.ignore_patterns("vendor", "node_modules"))
    env = dict(os.environ, MWI_PAGES_DIR=str(pages))
    p = run_mwi("sweep", *SMALL, "--target", phone.serial, "--no-native", "--cooldown-timeout", "5",
                "--out", str(tmp_path / "out"), check=False, env=env, timeout=600)
    assert p.returncode == 5, (p.stdout[-2000:], p.stderr[-2000:])
    assert "nothing measured: 0 of 1 cells measured" in p.stderr.strip().splitlines()[-1]
    assert p.stdout.strip().splitlines()[-1].startswith(str(tmp_path / "out" / "runs"))
