"""The console a newcomer sees: TensorFlow's / LiteRT's start-up chatter (absl pre-init notice, CUDA
stub, oneDNN, the XNNPACK delegate line) stays off the terminal during a model build."""

from __future__ import annotations

import os
import sys

import pytest

from mobile_webinfer.models.isolated import is_native_chatter, native_chatter_filtered
from tests.sweep_helpers import run_mwi

CHATTER = ("absl::InitializeLog", "cudart_stub", "Could not find cuda drivers", "oneDNN custom operations",
           "XNNPACK delegate")


def assert_no_chatter(stderr: str) -> None:
    leaked = [ln for ln in stderr.splitlines() if any(c in ln for c in CHATTER)]
    assert not leaked, leaked


def test_model_build_keeps_tensorflow_chatter_off_stderr(tmp_path):
    proc = run_mwi("models", "build", "tiny_cnn", "--force", "--formats", "tflite",
                   "--models-dir", str(tmp_path / "models"), env={k: v for k, v in os.environ.items()
                                                                   if k != "MWI_DEBUG"})
    assert "tiny_cnn: built" in proc.stdout + proc.stderr
    assert_no_chatter(proc.stderr)


def test_filter_passes_real_errors_and_python_output(capfd):
    with native_chatter_filtered():
        print("python progress line", file=sys.stderr, flush=True)
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n")
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
        os.write(2, b"E0000 something really failed\n")
    err = capfd.readouterr().err
    assert "python progress line" in err and "something really failed" in err
    assert_no_chatter(err)


def test_filter_shows_everything_when_the_block_fails(capfd):
    with pytest.raises(RuntimeError), native_chatter_filtered():
        os.write(2, b"I0000 cudart_stub.cc:31] Could not find cuda drivers on your machine\n")
        raise RuntimeError("boom")
    assert "cudart_stub" in capfd.readouterr().err


def test_chatter_markers():
    assert is_native_chatter("I0000 00:00:1796290874.105781 6689 cudart_stub.cc:31] Could not find cuda drivers")
    assert not is_native_chatter("ValueError: model has no inputs")
