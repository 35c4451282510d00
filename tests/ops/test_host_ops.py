"""ort-native on the host: runs in a child process, agrees with LiteRT on tiny_cnn, and its
profiler's export (produced here from tiny_cnn) parses into classified operators."""

from __future__ import annotations

import os

import numpy as np
import pytest

from mobile_webinfer.models.build import ensure_built
from mobile_webinfer.native import host, ort_host
from mobile_webinfer.parsers.op_profile import parse_ort_profile
from mobile_webinfer.records import CellRecord
from mobile_webinfer.sweep.op_profiles import class_totals
from mobile_webinfer.vocab import RUNTIME_FORMAT, Cell


def _inputs(m):
    return [(m.dir / s["path"], s["dtype"], s["shape"]) for s in m.data["sample_inputs"]]


@pytest.fixture(scope="module")
def tiny():
    return ensure_built("tiny_cnn")


def test_ort_native_vocabulary():
    c = Cell("local", "native", "tiny_cnn", "ort-native", "cpu", 1, 0)
    assert c.is_native and RUNTIME_FORMAT["ort-native"] == "onnx"


@pytest.mark.parametrize("threads", [1, 2])
def test_ort_native_runs_and_agrees_with_litert(tiny, threads):
    res = ort_host.run_isolated(tiny.file("onnx"), _inputs(tiny), threads=threads, warmups=2, iterations=8,
                                min_iterations=3)
    assert res.runtime.startswith("onnxruntime ") and res.threads == threads and res.backend == "cpu"
    assert len(res.latencies_ms) == 8 and len(res.warmup_ms) == 2 and all(x > 0 for x in res.latencies_ms)
    assert res.peak_rss_mb >= res.rss_after_load_mb > 0
    ref = host.run_isolated(tiny.file("tflite"), _inputs(tiny), threads=1, iterations=3, min_iterations=1)
    assert len(res.outputs) == len(ref.outputs) == 1
    np.testing.assert_allclose(res.outputs[0], ref.outputs[0], atol=1e-5)
    rec = CellRecord.from_host_native(res, runtime="ort-native")
    assert rec.eff.runtime == "ort-native" and "onnxruntime" in rec.eff.versions


def test_ort_native_bad_backend_is_one_line(tiny):
    with pytest.raises(Exception, match="ort-native backend 'xnnpack' not available") as e:
        ort_host.run_isolated(tiny.file("onnx"), _inputs(tiny), threads=1, backend="xnnpack", iterations=1)
    assert "\n" not in str(e.value)


def test_ort_profile_of_tiny_cnn(tiny, tmp_path):
    trace = ort_host.profile_isolated(tiny.file("onnx"), _inputs(tiny), threads=1, out_dir=tmp_path, warmups=2,
                                      iterations=10)
    p = parse_ort_profile(trace.read_text(), skip_runs=2)
    assert p.source == "onnxruntime" and p.runs == 10
    # kernels run inside model_run: per run the operator sum cannot exceed it (medians: a little slack)
    assert 0 < p.op_sum_ms <= 1.05 * p.total_ms
    classes = class_totals(p)
    assert "other" not in classes, [o.op_type for o in p.ops]
    assert classes["convolution"][0] == 3 and classes["depthwise"][0] == 1  # the shapes say which Conv is depthwise
    assert {"pooling", "matmul", "softmax"} <= set(classes)


@pytest.mark.skipif(not os.environ.get("MWI_SLOW"), reason="builds MobileNetV2 (set MWI_SLOW=1)")
def test_ort_operator_sum_within_10pct_of_unprofiled_latency_mobilenet_v2(tmp_path):
    """ORT times every kernel by wall clock; on a real model the kernels are the inference.  (On
    tiny_cnn, ~0.1 ms, the profiler's own cost per kernel is of the order of the kernels.)"""
    m = ensure_built("mobilenet_v2")
    res = ort_host.run_isolated(m.file("onnx"), _inputs(m), threads=1, warmups=3, iterations=30)
    trace = ort_host.profile_isolated(m.file("onnx"), _inputs(m), threads=1, out_dir=tmp_path, warmups=3,
                                      iterations=30)
    p = parse_ort_profile(trace.read_text(), skip_runs=3)
    med = float(np.median(res.latencies_ms))
    assert abs(p.op_sum_ms - med) <= 0.10 * med, (p.op_sum_ms, med)
