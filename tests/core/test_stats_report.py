"""Statistics and the gap table built from records (no browser needed)."""

import numpy as np
import pytest

from mobile_webinfer.agreement import compare
from mobile_webinfer.report import ROW_KEYS, build_rows, rows_to_csv
from mobile_webinfer.stats import ratio_ci, stability_flags, summarize


def test_summary_ci_brackets_the_median_and_is_reproducible():
    rng = np.random.default_rng(1)
    groups = [list(rng.normal(10, 0.2, 30)), list(rng.normal(10.5, 0.2, 30)), list(rng.normal(9.8, 0.2, 30))]
    s = summarize(groups)
    assert s.n == 90 and s.groups == 3
    assert s.ci95[0] <= s.median <= s.ci95[1]
    assert summarize(groups).ci95 == s.ci95
    assert s.between_group_cv is not None and s.between_group_cv < 0.1
    assert stability_flags(s, groups) == []


def test_between_page_load_variance_widens_the_ci_and_flags():
    tight = summarize([[10.0, 10.1, 9.9] * 10])
    loads = [[10.0, 10.1, 9.9] * 10, [14.0, 14.1, 13.9] * 10, [7.0, 7.1, 6.9] * 10]
    spread = summarize(loads)
    assert (spread.ci95[1] - spread.ci95[0]) > (tight.ci95[1] - tight.ci95[0])
    assert stability_flags(spread, loads) == ["unstable-between-loads"]  # the level that is noisy is named


def test_few_samples_flag_and_empty():
    assert "few-samples" in stability_flags(summarize([[1.0, 2.0, 3.0]]))
    assert summarize([]) is None and summarize([[float("nan")]]) is None


def test_ratio_ci():
    ci = ratio_ci([[20.0, 21.0, 19.0] * 10], [[10.0, 10.5, 9.5] * 10])
    assert ci[0] < 2.0 < ci[1] or abs(ci[0] - 2.0) < 0.2


def _cell(runtime, backend, threads, repeat, lat, status="ok", **extra):
    rec = {"key": f"local|chromium|m|{runtime}|{backend}|t{threads}|r{repeat}",
           "cell": {"target": "local", "browser": "native" if runtime == "tflite-native" else "chromium",
                    "model": "m", "runtime": runtime, "backend": backend, "threads": threads, "repeat": repeat},
           "status": status, "latencies_ms": lat, "first_inference_ms": 50.0, "setup_ms": 100.0,
           "model_bytes": 2_000_000, "memory": {"peak_total_mb": 400.0}, "flags": [],
           "in_effect": {"threads": threads}}
    rec.update(extra)
    return rec


def test_gap_pairs_like_with_like():
    recs = [
        _cell("tflite-native", "xnnpack", 1, 0, [10.0] * 20),
        _cell("tflite-native", "xnnpack", 2, 0, [6.0] * 20),
        _cell("tfjs", "wasm", 1, 0, [30.0] * 20, agreement={"ok": True, "max_abs_diff": 1e-6, "top1_match": True}),
        _cell("tfjs", "wasm", 2, 0, [18.0] * 20),
        _cell("tfjs", "webgl", 1, 0, [100.0] * 20, in_effect={"threads": None, "software_gpu": True}),
        _cell("ort", "webgpu", 1, 0, None, status="error", error="backend_fallback: asked webgpu got wasm",
              latencies_ms=None),
    ]
    rows = {(r["runtime"], r["backend"], r["threads"]): r for r in build_rows(recs)}
    assert set(ROW_KEYS) <= set(next(iter(rows.values())))
    w1 = rows[("tfjs", "wasm", 1)]
    assert w1["gap"] == pytest.approx(3.0) and w1["native_median_ms"] == 10.0
    assert w1["max_abs_diff"] == 1e-6 and w1["top1_match"] is True
    assert w1["peak_memory_mb"] == 400.0 and w1["model_mb"] == 2.0
    assert rows[("tfjs", "wasm", 2)]["gap"] == pytest.approx(3.0)
    gl = rows[("tfjs", "webgl", 1)]
    assert gl["gap"] == pytest.approx(10.0) and "vs-native-cpu" in gl["flags"]
    bad = rows[("ort", "webgpu", 1)]
    assert bad["gap"] is None and bad["browser_median_ms"] is None and "backend_fallback" in bad["error"]
    assert "ort" in rows_to_csv(list(rows.values()))


def test_threads_in_effect_decide_the_pairing():
    recs = [
        _cell("tflite-native", "xnnpack", 1, 0, [10.0] * 20),
        _cell("tflite-native", "xnnpack", 2, 0, [5.0] * 20),
        _cell("tfjs", "wasm", 2, 0, [30.0] * 20, in_effect={"threads": 1}),
    ]
    row = [r for r in build_rows(recs) if r["runtime"] == "tfjs"][0]
    assert row["native_median_ms"] == 10.0 and row["gap"] == pytest.approx(3.0)
    assert "paired-at-threads-in-effect=1" in row["flags"]


def test_agreement_whole_and_strided():
    native = [np.arange(10, dtype=np.float32).reshape(1, 10)]
    whole = compare([{"values": list(np.arange(10) + 1e-4), "topk": [[9, 9.0]]}], native, task="classification")
    assert whole["ok"] and whole["max_abs_diff"] == pytest.approx(1e-4) and whole["top1_match"] is True
    strided = compare([{"sample": [0.0, 3.0, 6.5, 9.0], "stride": 3}], native)
    assert strided["max_abs_diff"] == pytest.approx(0.5) and strided["compared_elements"] == 4
    wrong = compare([{"values": [0.0] * 10, "topk": [[0, 0.0]]}], native, task="classification")
    assert wrong["top1_match"] is False
    assert compare([], native)["ok"] is False


def test_partially_delegated_gpu_is_never_shown_as_gpu():
    recs = [_cell("tflite-native", "gpu", 1, 0, [5.0] * 20, in_effect={"backend": "gpu-partial", "threads": 1},
                  flags=["gpu-partial(7/9)"])]
    (row,) = build_rows(recs)
    assert row["backend"] == "gpu" and row["backend_in_effect"] == "gpu-partial"
    assert "gpu-partial(7/9)" in row["flags"]
