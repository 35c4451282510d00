"""End to end on the local target: real headless Chromium, real TF.js / TFLite-web / ORT-web,
real host TFLite; a sweep killed mid-run resumes without losing or duplicating a cell."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from mobile_webinfer.store import SCHEMA_VERSION
from tests.sweep_helpers import MWI
from tests.sweep_helpers import read_results as _records
from tests.sweep_helpers import run_mwi as _mwi

pytestmark = pytest.mark.browser

CONTRACT = {"target", "model", "runtime", "backend", "threads", "browser_median_ms", "browser_ci95_ms",
            "native_median_ms", "gap", "gap_ci95", "first_inference_ms", "setup_ms", "peak_memory_mb", "model_mb",
            "max_abs_diff", "top1_match", "flags", "error"}


def test_quick_sweep_prints_table_and_run_dir_and_report_contract(tmp_path):
    proc = _mwi("sweep", "--quick", "--models", "tiny_cnn", "--runtimes", "tfjs,tflite,ort", "--backends", "wasm",
                "--threads", "1", "--out", str(tmp_path))
    run_dir = Path(proc.stdout.strip().splitlines()[-1])
    assert run_dir.parent == tmp_path / "runs" and (run_dir / "manifest.json").is_file()
    assert "gap" in proc.stdout and "tiny_cnn" in proc.stdout
    rows = json.loads(_mwi("report", str(run_dir), "--json").stdout)
    assert {(r["runtime"], r["backend"]) for r in rows} == {("tflite-native", "xnnpack"), ("tfjs", "wasm"),
                                                           ("tflite", "wasm"), ("ort", "wasm")}
    for r in rows:
        assert CONTRACT <= set(r), CONTRACT - set(r)
        assert r["error"] is None, r
        if r["runtime"] != "tflite-native":
            assert r["browser_median_ms"] > 0 and r["gap"] > 0 and r["native_median_ms"] > 0
            lo, hi = r["browser_ci95_ms"]
            assert lo <= r["browser_median_ms"] <= hi
            # same seeded input, same weights: outputs agree with native TFLite
            assert r["max_abs_diff"] < 1e-4 and r["top1_match"] is True
            assert r["peak_memory_mb"] > r["model_mb"]
    m = json.loads((run_dir / "manifest.json").read_text())
    assert m["schema_version"] == SCHEMA_VERSION and m["models"]["tiny_cnn"]["files"]["tflite"]["sha256"]
    assert m["targets"]["local"]["cpu_count"] >= 1
    frameworks = m["versions"]["local"]["frameworks"]
    assert any("tfjs" in k for k in frameworks) and any("ort" in k or "onnx" in k for k in frameworks)
    recs = _records(run_dir)
    browser = [r for r in recs if r["cell"]["runtime"] != "tflite-native"]
    for r in browser:
        eff = r["in_effect"]
        assert eff["backend"] == "wasm" and eff["cross_origin_isolated"] is True
        assert len(r["latencies_ms"]) >= 3 and r["first_inference_ms"] > 0 and r["warmup_ms"]
        assert r["memory"]["peak_by_type_mb"].get("renderer", 0) > 0
    csv = _mwi("report", str(run_dir), "--csv").stdout
    assert csv.splitlines()[0].startswith("target,") and len(csv.splitlines()) == len(rows) + 1


def test_killed_sweep_resumes_without_loss_or_duplicates(tmp_path):
    args = ["sweep", "--quick", "--models", "tiny_cnn", "--runtimes", "tfjs", "--backends", "wasm,cpu",
            "--threads", "1", "--repeats", "3", "--out", str(tmp_path)]
    proc = subprocess.Popen(MWI + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    run_dir = None
    t_end = time.monotonic() + 300
    try:
        while time.monotonic() < t_end:
            runs = list((tmp_path / "runs").glob("*")) if (tmp_path / "runs").exists() else []
            if runs and len(_records(runs[0])) >= 5:  # 3 native + 2 browser cells stored
                run_dir = runs[0]
                break
            assert proc.poll() is None, proc.stderr.read()[-2000:]
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the host process and its Chromium, mid-cell
        proc.wait()
    assert run_dir is not None, "sweep did not store 5 cells in time"
    before = (run_dir / "results.jsonl").read_bytes()
    keys_before = [r["key"] for r in _records(run_dir)]
    # a crash mid-write leaves a torn line: the resume must cut it, not choke on it
    with open(run_dir / "results.jsonl", "ab") as f:
        f.write(b'{"key": "torn')
    out = _mwi("sweep", "--resume", str(run_dir))
    assert out.stdout.strip().splitlines()[-1] == str(run_dir)
    recs = _records(run_dir)
    keys = [r["key"] for r in recs]
    assert len(keys) == len(set(keys)), "a cell was stored twice"
    assert len(keys) == 3 + 3 * 2  # native x3 repeats + (wasm, cpu) x3 repeats
    assert keys[: len(keys_before)] == keys_before
    assert (run_dir / "results.jsonl").read_bytes().startswith(before), "finished cells were rewritten"
    m = json.loads((run_dir / "manifest.json").read_text())
    assert m["resumed_at"]
    assert all(r["status"] == "ok" for r in recs), [r.get("error") for r in recs]


def test_bad_input_gives_one_line_errors(tmp_path):
    p = _mwi("sweep", "--models", "no_such_model", "--out", str(tmp_path), check=False)
    assert p.returncode == 2 and p.stderr.strip().count("\n") == 0 and "no_such_model" in p.stderr
    p = _mwi("sweep", "--backends", "cuda", "--out", str(tmp_path), check=False)
    assert p.returncode == 2 and "cuda" in p.stderr
    p = _mwi("report", str(tmp_path), check=False)
    assert p.returncode == 1 and "not a run directory" in p.stderr
    assert not (tmp_path / "runs").exists()


def test_resume_measures_again_what_another_model_or_schema_wrote(tmp_path):
    """A cell's identity includes the model file's sha256 and the record schema: on --resume, cells
    stored with another model version (a rebuild) or by an older tool are measured again, and the
    report reads only the new records (never a mix)."""
    proc = _mwi("sweep", "--quick", "--models", "tiny_cnn", "--runtimes", "tfjs", "--backends", "wasm",
                "--threads", "1", "--repeats", "2", "--no-native", "--no-capabilities", "--out", str(tmp_path))
    run_dir = Path(proc.stdout.strip().splitlines()[-1])
    shard = run_dir / "results.jsonl"
    recs = [json.loads(line) for line in shard.read_text().splitlines()]
    assert len(recs) == 2
    real_sha = recs[0]["model_sha256"]
    recs[0]["model_sha256"] = "0" * 64       # as if measured on a model since rebuilt
    recs[1]["schema_version"] = 1            # as if written by the first-wave tool
    shard.write_text("".join(json.dumps(r) + "\n" for r in recs))
    _mwi("sweep", "--resume", str(run_dir))
    after = _records(run_dir)
    assert len(after) == 4  # both cells measured again, appended
    latest = {r["key"]: r for r in after}
    assert all(r["model_sha256"] == real_sha and r["schema_version"] == SCHEMA_VERSION for r in latest.values())
    _mwi("sweep", "--resume", str(run_dir))  # now everything is current: nothing runs again
    assert len(_records(run_dir)) == 4
    m = json.loads((run_dir / "manifest.json").read_text())
    assert m["models"]["tiny_cnn"]["versions"][0]["files"]["tfjs"]["sha256"]
    assert len(m["resumed_at"]) == 2


def test_a_cached_model_file_changed_in_place_is_rebuilt(tmp_path):
    """Cached models are checked by sha256 when a run starts, not by size."""
    from mobile_webinfer.models.build import ensure_built
    from mobile_webinfer.store import RunStore
    from mobile_webinfer.sweep import Runner, SweepSpec

    mf = ensure_built("tiny_cnn")
    path = mf.file("tflite")
    good = mf.sha256("tflite")
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # same size, other bytes
    path.write_bytes(bytes(data))
    assert not mf.verify_files() and mf.verify_files(hashes=True)  # a size check cannot see it
    store = RunStore.create(tmp_path, {"spec": {}})
    got = Runner(SweepSpec(models=["tiny_cnn"]), store).models()["tiny_cnn"]
    assert got.sha256("tflite") == good and not got.verify_files(hashes=True)
