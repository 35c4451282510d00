"""`mwi sweep --profile-ops` on the local target (real headless Chromium, tiny_cnn): profiles and
their raw exports are stored apart, never in the latency records; `mwi report --ops --json` gives
the contract rows; `--pair-ort-with ort-native` pairs ort cells with host ONNX Runtime."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mobile_webinfer.parsers.op_profile import parse_ort_profile, parse_tfjs_profile
from mobile_webinfer.sweep.op_profiles import class_totals, load_profiles
from tests.sweep_helpers import read_results, run_mwi

pytestmark = pytest.mark.browser
CONTRACT = ("target", "model", "runtime", "backend", "threads", "op_class", "count", "browser_ms", "native_ms",
            "ratio", "share", "excess_ms")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ops")
    proc = run_mwi("sweep", "--quick", "--models", "tiny_cnn", "--runtimes", "tfjs,ort", "--backends", "wasm",
                   "--threads", "1", "--repeats", "1", "--native-runtimes", "tflite-native,ort-native",
                   "--profile-ops", "--no-html", "--out", str(out))
    return Path(proc.stdout.strip().splitlines()[-1])


def test_profiles_are_stored_apart_from_latency_records(run_dir):
    recs = read_results(run_dir)
    keys = sorted(r["key"] for r in recs)
    assert keys == sorted(["local|native|tiny_cnn|tflite-native|xnnpack|t1|r0",
                           "local|native|tiny_cnn|ort-native|cpu|t1|r0",
                           "local|chromium|tiny_cnn|tfjs|wasm|t1|r0", "local|chromium|tiny_cnn|ort|wasm|t1|r0"])
    assert all("op_profile" not in json.dumps(r) for r in recs)  # no profiled page load became a cell
    profs = {(p.runtime, p.backend): p for p in load_profiles(run_dir)}
    assert {k for k, p in profs.items() if p.status == "ok"} == {("tfjs", "wasm"), ("ort", "wasm"),
                                                                  ("ort-native", "cpu")}
    # LiteRT's Python interpreter has no per-operator profiler: recorded, with the reason
    assert profs[("tflite-native", "xnnpack")].status == "unsupported"
    assert "no per-operator profiler" in profs[("tflite-native", "xnnpack")].error
    raw = run_dir / profs[("tfjs", "wasm")].raw
    p = parse_tfjs_profile(raw.read_text())  # the page's own tf.profile kernel list, kept raw
    assert p.runs and p.runs >= 3 and any(o.op_type == "FusedConv2D" for o in p.ops)
    assert p.total_ms and 0 < p.op_sum_ms <= p.total_ms   # the page's wall time around each profiled run holds its kernels
    assert (run_dir / profs[("ort-native", "cpu")].raw).read_text().lstrip().startswith("[")


def test_ort_web_profile_from_the_page(run_dir):
    """ONNX Runtime Web's own session profiler (enableProfiling, endProfiling) in the page: the raw
    chrome-trace kept, the first inference and warm-ups skipped, tiny_cnn's operators classified."""
    sp = next(p for p in load_profiles(run_dir) if (p.runtime, p.backend) == ("ort", "wasm"))
    assert sp.source == "onnxruntime" and sp.skip_runs >= 2  # first inference + the page's warm-ups
    p = parse_ort_profile((run_dir / sp.raw).read_text(), skip_runs=sp.skip_runs)
    assert p.runs and p.runs >= 3 and p.total_ms
    assert 0 < p.op_sum_ms <= 1.05 * p.total_ms  # the kernels run inside each model_run
    classes = class_totals(p)
    assert "other" not in classes, [o.op_type for o in p.ops]
    assert classes["convolution"][0] == 3 and classes["depthwise"][0] == 1
    assert {"pooling", "matmul", "softmax"} <= set(classes)


def test_ort_native_agrees_with_litert_in_the_sweep(run_dir):
    ort = next(r for r in read_results(run_dir) if "|ort-native|" in r["key"])
    assert ort["status"] == "ok" and ort["agreement"]["max_abs_diff"] < 1e-5


def test_report_ops_json_contract(run_dir):
    rows = json.loads(run_mwi("report", str(run_dir), "--ops", "--json").stdout)
    assert rows and all(all(k in r for k in CONTRACT) for r in rows)
    tfjs = [r for r in rows if r["runtime"] == "tfjs"]
    assert sum(r["op_class"] == "runtime-overhead" for r in tfjs) == 1
    assert tfjs[-1]["op_class"] == "runtime-overhead"
    ops = [r for r in tfjs if r["op_class"] != "runtime-overhead"]
    assert {r["native_runtime"] for r in tfjs} == {"ort-native"}  # LiteRT's Python API cannot profile
    paired = [r["excess_ms"] for r in ops if r["excess_ms"] is not None]
    assert paired == sorted(paired, reverse=True) and "convolution" in {r["op_class"] for r in ops}
    # the shares of the operators and the overhead make up the whole inference
    assert sum(r["share"] for r in tfjs) == pytest.approx(1.0, abs=1e-3)
    # TF.js's overhead: the page's wall time of the profiled runs minus their kernels, never below 0
    tp = next(p for p in load_profiles(run_dir) if p.runtime == "tfjs" and p.status == "ok").parse(run_dir)
    assert tp.total_ms and tfjs[-1]["browser_ms"] == pytest.approx(tp.total_ms - tp.op_sum_ms, abs=1e-3)
    assert tfjs[-1]["browser_ms"] >= 0
    # what profiling cost: the profiled runs' whole time over the unprofiled median, on every row of the cell
    unprof = next(r for r in json.loads(run_mwi("report", str(run_dir), "--json", "--no-html").stdout)
                  if r["runtime"] == "tfjs")["browser_median_ms"]
    assert all(r["profiled_slowdown"] == pytest.approx(tp.total_ms / unprof, abs=1e-4) for r in tfjs)
    # ORT times its whole runs too: the native overhead is model_run - operators of the same runs, never below 0
    over = tfjs[-1]["native_ms"]
    nat = next(p for p in load_profiles(run_dir) if p.runtime == "ort-native" and p.status == "ok").parse(run_dir)
    assert nat.total_ms and over == pytest.approx(nat.total_ms - nat.op_sum_ms, abs=1e-3) and over >= 0


def test_pair_ort_with_ort_native(run_dir):
    default = json.loads(run_mwi("report", str(run_dir), "--json", "--no-html").stdout)
    paired = json.loads(run_mwi("report", str(run_dir), "--json", "--no-html", "--pair-ort-with",
                                "ort-native").stdout)
    row = lambda rows: next(r for r in rows if r["runtime"] == "ort")  # noqa: E731
    assert (row(default)["native_runtime"], row(default)["native_backend"]) == ("tflite-native", "xnnpack")
    assert (row(paired)["native_runtime"], row(paired)["native_backend"]) == ("ort-native", "cpu")
    tf = lambda rows: next(r for r in rows if r["runtime"] == "tfjs")  # noqa: E731
    assert tf(paired)["native_runtime"] == "tflite-native"  # only ort cells change pairing


def test_html_report_shows_excess_by_operator_class_in_chromium(run_dir):
    """The HTML report of a profiled run has the per-operator part: the bar chart of excess ms by
    operator class (loaded in real Chromium), its table, and the configurations without a profile."""
    from mobile_webinfer.browsers.local_chromium import LocalChromium
    from mobile_webinfer.htmlreport import write_report

    index = write_report(run_dir)
    assert (index.parent / "local-ops.png").stat().st_size > 5_000
    with LocalChromium(webgl=False, webgpu=False) as browser:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(index.as_uri(), wait_until="load")
        assert page.locator("#ops").count() == 1
        w = page.eval_on_selector("img[src='local-ops.png']", "e => e.naturalWidth")
        assert w > 0
        classes = page.eval_on_selector_all("table.ops tbody tr td:nth-child(2)", "els => els.map(e => e.textContent)")
        assert "runtime-overhead" in classes and "convolution" in classes
        missing = page.eval_on_selector("ul.ops-missing", "e => e.textContent")
        assert "tflite-native/xnnpack" in missing and "no per-operator profiler" in missing
        assert not errors, errors
