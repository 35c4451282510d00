"""`mwi sweep --profile-ops` on a (fake) phone, end to end over adb: the native cell's profile is
`benchmark_model --enable_op_profiling=true` run as its own process (the fake phone runs the pushed
tiny_cnn and prints TFLite's tables from the model's own operators), the page profile of TF.js
comes from the phone's browser, both through the same Target.profile path as this computer; the
raw exports are stored apart and never become latency records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mobile_webinfer.parsers.op_profile import parse_benchmark_op_profile
from mobile_webinfer.sweep.op_profiles import class_totals, load_profiles
from tests.fakephone.bench import stand_in_elf
from tests.sweep_helpers import read_results, run_mwi

pytestmark = pytest.mark.browser


def test_phone_profiles_through_the_target_contract(fake_phone, tmp_path):
    bm = tmp_path / "benchmark_model"
    bm.write_bytes(stand_in_elf())
    pixel = fake_phone("pixel")
    proc = run_mwi("sweep", "--target", pixel.serial, "--models", "tiny_cnn", "--runtimes", "tfjs",
                   "--backends", "wasm", "--threads", "1", "--quick", "--repeats", "1", "--iterations", "5",
                   "--native-backends", "xnnpack", "--browsers", "com.android.chrome", "--benchmark-model", str(bm),
                   "--cooldown-timeout", "20", "--profile-ops", "--no-html", "--out", str(tmp_path / "out"),
                   timeout=600)
    run_dir = Path(proc.stdout.strip().splitlines()[-1])
    recs = read_results(run_dir)
    assert {r["key"].split("|")[3] for r in recs} == {"tfjs", "tflite-native"}
    assert all(r["status"] == "ok" for r in recs), [(r["key"], r.get("error")) for r in recs]
    assert all("op_profile" not in json.dumps(r) and "Operator-wise" not in json.dumps(r) for r in recs)
    # benchmark_model ran for the latency cell(s) without the profiler (a noisy cell may get extra
    # repeats), and once apart with it
    runs = [c for c in pixel.commands if "benchmark_model" in c and "--graph=" in c]
    profiled = [c for c in runs if "--enable_op_profiling=true" in c]
    assert len(profiled) == 1 and len(runs) - len(profiled) == sum("|tflite-native|" in r["key"] for r in recs), runs
    profs = {(p.runtime, p.backend): p for p in load_profiles(run_dir)}
    assert set(profs) == {("tfjs", "wasm"), ("tflite-native", "xnnpack")}
    nat = profs[("tflite-native", "xnnpack")]
    assert nat.status == "ok" and nat.source == "benchmark_model" and nat.raw.startswith("profiles/raw/")
    p = parse_benchmark_op_profile((run_dir / nat.raw).read_text())
    # each operator's ms is printed with 3 decimals (as benchmark_model does): up to 0.0005 ms off each, which
    # is a few % of tiny_cnn's ~0.04 ms on a fast host
    assert p.runs and p.total_ms and p.op_sum_ms == pytest.approx(p.total_ms, rel=0.02, abs=0.0005 * len(p.ops))
    classes = class_totals(p)  # tiny_cnn's operators, by XNNPACK's names
    assert classes["convolution"][0] == 3 and classes["depthwise"][0] == 1 and "other" not in classes
    rows = json.loads(run_mwi("report", str(run_dir), "--ops", "--json").stdout)
    tfjs = [r for r in rows if r["runtime"] == "tfjs"]
    assert {r["native_runtime"] for r in tfjs} == {"tflite-native"}  # on a phone: the same file's native LiteRT
    assert tfjs[-1]["op_class"] == "runtime-overhead" and sum(r["share"] for r in tfjs) == pytest.approx(1, abs=1e-3)
    conv = next(r for r in tfjs if r["op_class"] == "convolution")
    assert conv["native_ms"] and conv["excess_ms"] == pytest.approx(conv["browser_ms"] - conv["native_ms"], abs=1e-4)
