"""The terminal gap table fits the terminal: a default-sweep-shaped table (every runtime and backend,
threads 1 and 2, native rows, a 200-character WebNN error) fits 120 columns with COLUMNS=120, the long
error whole under the table; --wide keeps every cell on one line; JSON / CSV do not change."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess

from rich.console import Console

from mobile_webinfer.report import render_table, rows_to_csv
from tests.sweep_helpers import MWI

WEBNN_ERROR = ("unsupported: webnn: navigator.ml.createContext({deviceType: 'cpu'}) failed: NotSupportedError: "
               "WebNN is not supported on this platform (Chromium 156 exposes navigator.ml behind the "
               "WebMachineLearningNeuralNetwork feature)")
CONFIGS = [("tfjs", "wasm"), ("tfjs", "webgl"), ("tfjs", "webgpu"), ("tfjs", "cpu"), ("tflite", "wasm"),
           ("ort", "wasm"), ("ort", "webgpu"), ("ort", "webnn"), ("litert", "wasm"), ("litert", "webgpu"),
           ("litert", "webnn")]


def _row(runtime: str, backend: str, threads: int) -> dict:
    native = runtime == "tflite-native"
    err = WEBNN_ERROR if backend == "webnn" else None
    gpu = backend in ("webgl", "webgpu")
    flags = (["vs-native-cpu", "software-gpu"] if gpu else []) + (["threads-in-effect=1"] if threads == 2 and
                                                                   runtime == "tfjs" else [])
    ok = err is None
    return {"target": "local", "browser": "native" if native else "chromium", "model": "mobilenet_v2",
            "runtime": runtime, "backend": backend,
            "backend_in_effect": ("webgpu-partial" if runtime == "litert" and backend == "webgpu" else backend)
            if ok else None,
            "native_backend": None if native else "xnnpack", "native_runtime": "tflite-native", "threads": threads,
            "browser_median_ms": None if native or not ok else 123.456, "browser_ci95_ms": [120.01, 126.99],
            "native_median_ms": 45.678, "gap": None if native or not ok else 2.7, "gap_ci95": [2.61, 2.79],
            "validity": "valid" if ok else "invalid", "first_inference_ms": 1234.5 if ok else None,
            "peak_memory_mb": 412.0 if ok else None, "memory_ratio": 29.0 if ok else None,
            "max_abs_diff": 1.2e-5 if ok and not native else None, "top1_match": True if ok and not native else None,
            "precision": 0.019 if ok else None, "flags": flags, "error": err}


def default_rows() -> list[dict]:
    rows = [_row("tflite-native", "xnnpack", t) for t in (1, 2)]
    rows += [_row(rt, be, t) for rt, be in CONFIGS for t in (1, 2)]
    return rows


def _render(rows, *, wide=False, terminal=False) -> str:
    buf = io.StringIO()
    render_table(rows, console=Console(file=buf, force_terminal=terminal, width=80, color_system=None), wide=wide)
    return buf.getvalue()


def test_default_sweep_table_fits_120_columns(monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    rows = default_rows()
    out = _render(rows)
    widths = [len(line) for line in out.splitlines()]
    assert max(widths) <= 120, "\n".join(line for line in out.splitlines() if len(line) > 120)
    flat = re.sub(r"\s+", " ", out)
    assert WEBNN_ERROR in flat  # whole, as a note under the table
    assert out.count("ERROR [1]") == 4 and "[2]" not in out  # each webnn row points at the one note
    assert flat.count(WEBNN_ERROR) == 1
    for word in ("mobilenet_v2", "2.7x", "vs-native-cpu", "threads-in-effect=1", "45.7"):
        assert word in flat, word


def test_wide_keeps_every_cell_on_one_line(monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    rows = default_rows()
    out = _render(rows, wide=True)
    assert max(len(line) for line in out.splitlines()) > 120
    assert sum(WEBNN_ERROR in line for line in out.splitlines()) == 4  # in its row, whole, no notes
    assert "ERROR [1]" not in out


def test_json_and_csv_do_not_change(tmp_path):
    rows = default_rows()
    csv_before = rows_to_csv(rows)
    _render(rows)
    assert rows_to_csv(rows) == csv_before and json.loads(json.dumps(rows)) == default_rows()


def test_cli_wide_flag_exists():
    for cmd in (["sweep", "--help"], ["report", "--help"]):
        p = subprocess.run(MWI + cmd, capture_output=True, text=True, timeout=60,
                           env={**os.environ, "COLUMNS": "200"})
        assert "--wide" in p.stdout, cmd


def test_qoe_table_fits_too(monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    qrows = [{"target": "R58M12345", "browser": "com.android.chrome", "model": m, "runtime": rt, "backend": be,
              "threads": 1, "qoe_mode": mode, "gui_task_median_ms": 4.2, "gui_task_p90_ms": 9.9,
              "gui_delay_pct": None if mode == "baseline" else 37.0, "gui_delay_ci95": [30.1, 44.9], "fps": 58.3,
              "long_frame_share": 0.12, "input_delay_ms_p50": 16.4, "inferences_per_s": 12.5,
              "flags": ["software-gpu"], "error": WEBNN_ERROR if be == "webnn" else None}
             for m in ("mobilenet_v2", "resnet50") for rt, be in (("tfjs", "wasm"), ("ort", "webnn"))
             for mode in ("baseline", "main", "worker")]
    out = _render(qrows)
    assert max(len(line) for line in out.splitlines()) <= 120, out
    assert re.sub(r"\s+", " ", out).count(WEBNN_ERROR) == 1 and "ERROR [1]" in out


def test_a_narrow_terminal_wraps_between_words_never_inside_one(monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    flat = " ".join(_render(default_rows()).split())
    for word in ("tflite-native/xnnpack", "threads-in-effect=1", "vs-native-cpu,", "validity", "max|diff|"):
        assert word in flat, word
