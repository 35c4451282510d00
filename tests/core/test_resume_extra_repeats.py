"""Issue 22 item 4: a resumed run whose store holds extra repeats (`--precision`) measured on a model
since rebuilt never pools them with the new model's loads (local target, not --quick)."""

import json
from pathlib import Path

import pytest

from tests.sweep_helpers import read_results as _records
from tests.sweep_helpers import run_mwi as _mwi

pytestmark = pytest.mark.browser


def test_resume_after_a_rebuild_does_not_pool_old_extra_repeats(tmp_path):
    proc = _mwi("sweep", "--models", "tiny_cnn", "--runtimes", "tfjs", "--backends", "wasm", "--threads", "1",
                "--repeats", "1", "--no-native", "--no-capabilities", "--warmups", "2", "--iterations", "30",
                "--time-budget", "1", "--precision", "0.5", "--max-time-per-cell", "120", "--out", str(tmp_path))
    run_dir = Path(proc.stdout.strip().splitlines()[-1])
    shard = run_dir / "results.jsonl"
    # the planned load (an extra repeat may follow it on a noisy host: the store is rewritten below anyway)
    stored = [json.loads(line) for line in shard.read_text().splitlines()]
    recs = [r for r in stored if r["cell"]["repeat"] == min(x["cell"]["repeat"] for x in stored)]
    assert len(recs) == 1 and json.loads((run_dir / "manifest.json").read_text())["spec"]["budget"]["max_repeat_factor"] > 1
    real_sha = recs[0]["model_sha256"]
    # the store as a run before a model rebuild left it: the planned load and one extra repeat (r2,
    # --precision) measured on the old model, the extra load 10x slower so that pooling it would show
    extra = json.loads(json.dumps(recs[0]))
    extra["cell"]["repeat"] = 2
    extra["key"] = extra["key"].rsplit("|r", 1)[0] + "|r2"
    extra["latencies_ms"] = [10 * x for x in extra["latencies_ms"]] * 3
    for r in (*recs, extra):
        r["model_sha256"] = "0" * 64
    shard.write_text("".join(json.dumps(r) + "\n" for r in (*recs, extra)))
    _mwi("sweep", "--resume", str(run_dir))
    latest = {r["key"]: r for r in _records(run_dir)}
    current = [r for r in latest.values() if r["model_sha256"] == real_sha]
    assert len(current) >= 1  # the planned load measured again on the current model (an extra repeat may follow)
    (row,) = json.loads(_mwi("report", str(run_dir), "--json").stdout)
    assert row["repeats"] == len(current)  # the old extra repeat (r2 of the old model) is left out, or re-run
    stale = [r for r in latest.values() if r["model_sha256"] != real_sha]
    assert all(r["key"].endswith("|r2") for r in stale)
    fast = max(max(r["latencies_ms"]) for r in current)
    assert row["browser_median_ms"] <= fast  # never pulled toward the 10x old load
