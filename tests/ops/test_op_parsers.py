"""Per-operator profile parsers over real exports: benchmark_model text from public repositories
(tests/ops/fixtures, each with its provenance header), and the operator classes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mobile_webinfer.errors import ParseError
from mobile_webinfer.parsers import strip_capture_header
from mobile_webinfer.parsers.op_classes import classify
from mobile_webinfer.parsers.op_profile import parse_benchmark_op_profile, parse_ort_profile, parse_tfjs_profile
from mobile_webinfer.sweep.op_profiles import class_totals

FIX = Path(__file__).parent / "fixtures"
ALL = sorted(p.name for p in FIX.glob("*.txt"))


def body(name: str) -> str:
    return strip_capture_header((FIX / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", ALL)
def test_every_fixture_names_its_source(name):
    head = (FIX / name).read_text(encoding="utf-8").splitlines()
    assert head[0].startswith("# source: ") and "@" in head[0] and "# ---" in head


def test_tab_layout_run_order_and_summary_mobilenet_v1():
    p = parse_benchmark_op_profile(body("riscv_qemu_mobilenet_v1_op_profiling_tabs.txt"))
    assert len(p.ops) == 31 and p.runs == 50 and p.total_ms == pytest.approx(2949.9)
    assert p.ops[0].op_type == "CONV_2D" and p.ops[0].ms == pytest.approx(60.957)
    assert p.ops[-1].name == "[MobilenetV1/Predictions/Reshape_1]:30"
    assert [(t.op_type, t.count) for t in p.by_type][:2] == [("CONV_2D", 15), ("DEPTHWISE_CONV_2D", 13)]
    # the run order sums to the summary by node type, and to the whole inference
    per_type = {t.op_type: t.ms for t in p.by_type}
    assert sum(o.ms for o in p.ops if o.op_type == "CONV_2D") == pytest.approx(per_type["CONV_2D"], abs=0.01)
    assert p.op_sum_ms == pytest.approx(p.total_ms, rel=1e-3)
    classes = class_totals(p)
    assert classes["convolution"][0] == 15 and classes["depthwise"][0] == 13
    assert set(classes) == {"convolution", "depthwise", "pooling", "reshape/transpose", "softmax"}


def test_space_layout_real_android_phone_r34_hexagon_gpu():
    """A phone's own output (Snapdragon, Hexagon DSP + GPU delegates, 2 runs): the space-aligned
    layout with a [start] column; its summary by node type and its Timings line agree with the run order."""
    p = parse_benchmark_op_profile(body("android_hexagon_gpu_r34_op_profiling_spaces.txt"))
    assert len(p.ops) == 18 and p.runs == 2 and p.total_ms == pytest.approx(22.045)
    assert (p.ops[0].op_type, p.ops[0].name, p.ops[0].ms) == ("QUANTIZE", "[tfl.quantize]:0", pytest.approx(0.093))
    assert p.ops[-1].name == "[StatefulPartitionedCall:0]:95" and p.ops[-1].ms == pytest.approx(0.003)
    assert [(t.op_type, t.count) for t in p.by_type] == [
        ("CONCATENATION", 4), ("CONV_2D", 1), ("FULLY_CONNECTED", 1), ("TfLiteGpuDelegateV2", 4), ("MEAN", 1),
        ("MAX_POOL_2D", 1), ("QUANTIZE", 2), ("TfLiteHexagonDelegate", 4)]
    for t in p.by_type:  # each type's run-order rows sum to its summary row (3 decimals printed)
        assert sum(o.ms for o in p.ops if o.op_type == t.op_type) == pytest.approx(t.ms, abs=0.003), t
    assert p.op_sum_ms == pytest.approx(p.total_ms, rel=1e-3)
    classes = class_totals(p)
    assert classes["delegate-partition"][0] == 8 and classes["reshape/transpose"][0] == 4
    assert set(classes) == {"conversion", "convolution", "pooling", "delegate-partition", "reshape/transpose",
                            "matmul"}


@pytest.mark.parametrize("name,sep", [("riscv_qemu_mobilenet_v1_op_profiling_tabs.txt", "\t"),
                                      ("android_nnapi_deeplabv3_op_profiling_run_order_PARTIAL.txt", "\t"),
                                      ("android_hexagon_gpu_r34_op_profiling_spaces.txt", "  ")])
def test_both_layouts_against_the_percent_column(name, sep):
    """Every run-order row's share (its `[%]` column) is its time over the rows' sum, whatever the layout."""
    text = body(name)
    regular = text[text.index("Operator-wise Profiling Info for Regular"):]
    table = regular.split("Run Order", 1)[1].split("\n\n", 1)[0]
    rows = [ln for ln in table.splitlines()[2:] if ln.strip()]
    assert rows and all(sep in ln for ln in rows) and ("\t" in rows[0]) == (sep == "\t")
    p = parse_benchmark_op_profile(text)
    assert len(p.ops) == len(rows)
    pct = [float(ln.split("%")[0].split()[-1]) for ln in rows]
    for o, share in zip(p.ops, pct, strict=True):
        assert 100 * o.ms / p.op_sum_ms == pytest.approx(share, abs=0.02), o


def test_partial_nnapi_run_order_without_timings():
    p = parse_benchmark_op_profile(body("android_nnapi_deeplabv3_op_profiling_run_order_PARTIAL.txt"))
    assert len(p.ops) == 8 and p.runs is None and p.total_ms is None and p.by_type == ()
    assert p.ops[0].name == "[MobilenetV2/expanded_conv_16/project/add_fold, aspp0/Relu]:71"
    assert set(class_totals(p)) == {"delegate-partition", "pooling", "resize", "reduction"}
    assert p.op_sum_ms == pytest.approx(52.063, abs=1e-3)


def test_benchmark_text_without_op_profile_is_refused_in_one_line():
    with pytest.raises(ParseError, match="enable_op_profiling") as e:
        parse_benchmark_op_profile("INFO: count=50 first=1 curr=1 min=1 max=1 avg=1 std=0\n")
    assert "\n" not in str(e.value)


def test_ort_and_tfjs_bad_input():
    with pytest.raises(ParseError, match="not JSON"):
        parse_ort_profile("{")
    with pytest.raises(ParseError, match="nothing left"):
        parse_ort_profile(json.dumps([{"cat": "Session", "name": "model_run", "ts": 0, "dur": 5}]), skip_runs=1)
    with pytest.raises(ParseError, match="kernels"):
        parse_tfjs_profile(json.dumps({"newBytes": 0}))
    with pytest.raises(ParseError, match="kernelTimeMs"):
        parse_tfjs_profile(json.dumps({"kernels": [{"name": "Conv2D", "kernelTimeMs": {"error": "no timer"}}]}))


def test_tfjs_whole_run_time_from_the_pages_wall_clock():
    run = lambda conv, wall: {"kernels": [{"name": "Conv2D", "kernelTimeMs": conv}, {"name": "Relu", "kernelTimeMs": 1.0}],  # noqa: E731
                              **({"wallMs": wall} if wall is not None else {})}
    p = parse_tfjs_profile(json.dumps([run(4.0, 7.0), run(5.0, 9.0), run(6.0, 30.0)]))
    assert p.total_ms == 9.0 and p.op_sum_ms == pytest.approx(6.0)   # medians: a slow run moves neither
    # a profile stored before the page timed its runs (or one run without a time): no whole-run time
    assert parse_tfjs_profile(json.dumps([run(4.0, 7.0), run(5.0, None)])).total_ms is None
    assert parse_tfjs_profile(json.dumps([run(4.0, -1.0)])).total_ms is None


@pytest.mark.parametrize("op_type,name,cls", [
    ("Conv2D", "", "convolution"), ("CONV_2D", "", "convolution"), ("Conv", "", "convolution"),
    ("FusedConv2D", "", "convolution"), ("Convolution (NHWC, F32) GEMM", "", "convolution"),
    ("Convolution (NHWC, QC8) IGEMM", "", "convolution"), ("Convolution (NHWC, F32) DWConv", "", "depthwise"),
    ("DEPTHWISE_CONV_2D", "", "depthwise"), ("DepthwiseConv2dNative", "", "depthwise"),
    ("Conv", "block_1_depthwise/depthwise depthwise", "depthwise"),
    ("FULLY_CONNECTED", "", "matmul"), ("Gemm", "", "matmul"), ("_FusedMatMul", "", "matmul"),
    ("Fully Connected (NC, F32) GEMM", "", "matmul"), ("Add (ND, QS8)", "", "elementwise"),
    ("Relu6", "", "elementwise"), ("MaxPool", "", "pooling"), ("AVERAGE_POOL_2D", "", "pooling"),
    ("GlobalAveragePool", "", "pooling"), ("Mean", "", "pooling"), ("Reshape", "", "reshape/transpose"),
    ("Transpose (ND, X32)", "", "reshape/transpose"), ("SOFTMAX", "", "softmax"), ("NoSuchOp", "", "other"),
])
def test_operator_classes(op_type, name, cls):
    assert classify(op_type, name) == cls


def test_per_op_times_sum_to_the_median_runs_operator_time():
    """Bursty load slows different operators in different runs: a plain sum of per-operator medians
    falls below every run's total; the scaled medians sum to the median run's operator time."""
    from mobile_webinfer.parsers.op_profile import _per_op_ms
    # three operators, five runs; each run has one operator slowed 5x (a burst)
    base = [4.0, 2.0, 1.0]
    runs = [[b * (5.0 if i == j % 3 else 1.0) for i, b in enumerate(base)] for j in range(5)]
    per_op = [[r[i] for r in runs] for i in range(3)]
    ms = _per_op_ms(per_op)
    run_sums = sorted(sum(r) for r in runs)
    assert sum(ms) == pytest.approx(run_sums[2])
    assert sum(base) < run_sums[0]            # the plain sum of medians would be below every run
    # shares stay the medians' (the burst does not move an operator's share)
    assert [m / sum(ms) for m in ms] == pytest.approx([b / sum(base) for b in base])
