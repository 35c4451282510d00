"""`--profile-ops` alone on this computer gets a native side for its operator rows (ort-native added),
or one line says exactly how to get one (issue 23).  Dry runs: nothing is measured."""

from __future__ import annotations

from tests.sweep_helpers import run_mwi

BASE = ["sweep", "--quick", "--models", "tiny_cnn", "--runtimes", "ort", "--backends", "wasm", "--threads", "1",
        "--profile-ops", "--dry-run"]


def test_profile_ops_alone_adds_ort_native():
    p = run_mwi(*BASE, timeout=120)
    assert "local|native|tiny_cnn|ort-native|cpu|t1|r0" in p.stdout.splitlines()
    assert "ort-native (host ONNX Runtime) added" in p.stderr


def test_profile_ops_with_native_runtimes_chosen_says_how():
    p = run_mwi(*BASE, "--native-runtimes", "tflite-native", timeout=120)
    assert "|ort-native|" not in p.stdout  # the user's choice stands
    assert "--native-runtimes tflite-native,ort-native" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    p = run_mwi(*BASE, "--no-native", timeout=120)
    assert "|native|" not in p.stdout and "drop --no-native" in p.stderr
    p = run_mwi(*BASE[:-2], "--dry-run", timeout=120)  # no --profile-ops: nothing added, nothing said
    assert "|ort-native|" not in p.stdout and p.stderr.strip() == ""
