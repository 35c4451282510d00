"""History and the gate over real runs: local tiny_cnn sweeps (and `mwi check --confirm` measuring
again on this computer through the sweep machinery), and a fake phone's run over the real adb server."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mobile_webinfer.history import analyse, open_lab
from tests.fakephone.bench import stand_in_elf
from tests.history.synthetic import SCHEMA_COLUMNS
from tests.sweep_helpers import run_mwi

pytestmark = pytest.mark.browser

SWEEP = ("--models", "tiny_cnn", "--runtimes", "tfjs", "--backends", "wasm", "--threads", "1", "--repeats", "1",
         "--quick")


def _sweep(out: Path, *extra: str) -> Path:
    proc = run_mwi("sweep", *SWEEP, *extra, "--out", str(out))
    return Path(proc.stdout.strip().splitlines()[-1])


def _scaled_copy(run: Path, dest: Path, factor: float) -> Path:
    """A copy of a real run with every browser latency (and its CI) times `factor` (only cells.parquet
    is edited), dated before every real run: a baseline that the real runs look slower than (factor < 1),
    or a run that looks slower than the real one (factor > 1)."""
    shutil.copytree(run, dest)
    t = pq.read_table(dest / "cells.parquet")
    for name in ("browser_median_ms", "browser_ci95_ms"):
        i = t.column_names.index(name)
        vals = t.column(name).to_pylist()
        scaled = [None if v is None else ([x * factor for x in v] if isinstance(v, list) else v * factor)
                  for v in vals]
        arr = pa.array(scaled, type=t.schema.field(name).type)
        t = t.set_column(i, name, arr)
    man = json.loads((dest / "manifest.json").read_text())
    man["created_at"] = "2000-01-01T00:00:00.000+00:00"  # older than every real run
    (dest / "manifest.json").write_text(json.dumps(man))
    pq.write_table(t, dest / "cells.parquet")
    return dest


def test_local_runs_history_and_confirmed_gate(tmp_path):
    lab = tmp_path / "lab"
    first = _sweep(lab)
    second = _sweep(lab)
    h = analyse(open_lab([lab]))
    assert not h.unreadable
    ids = {s.key.id: s for s in h.series}
    assert set(ids) == {"local|chromium|tiny_cnn|tfjs|wasm|t1", "local|native|tiny_cnn|tflite-native|xnnpack|t1"}
    web = ids["local|chromium|tiny_cnn|tfjs|wasm|t1"]
    assert [p.run_id for p in web.points] == [first.name, second.name]
    assert web.points[0].browser_version and web.points[0].runtime_version == "4.22.0"
    assert web.points[0].ci95_ms is not None and web.points[0].gap is not None

    # the generated histories (tests, benchmark) have the columns and types of a real cells.parquet
    real = pq.read_schema(first / "cells.parquet")
    assert set(SCHEMA_COLUMNS) <= set(real.names)
    assert all(real.field(n).type in (t, pa.null()) for n, t in SCHEMA_COLUMNS.items()), real

    base = _scaled_copy(first, lab / "runs" / "00000000-000000-baseline", 0.3)
    p = run_mwi("check", str(second), "--baseline", str(base), "--confirm", "--json", check=False)
    assert p.returncode == 4, (p.stdout, p.stderr)
    verdict = json.loads(p.stdout)
    rows = {r["config"]: r for r in verdict["rows"]}
    row = rows["local|chromium|tiny_cnn|tfjs|wasm|t1"]
    assert row["status"] == "regressed" and row["confirm"].startswith("regressed"), row
    again = Path(verdict["confirm_run"])
    assert again.parent == lab / "history" / "confirm" / "runs" and (again / "results.jsonl").is_file()
    keys = {json.loads(line)["key"] for line in (again / "results.jsonl").read_text().splitlines()}
    assert any("|tfjs|wasm|t1|" in k for k in keys) and any("tflite-native" in k for k in keys)
    # the confirmation run is kept apart: the lab's history does not count it
    assert len(open_lab([lab]).runs) == 3

    # a run that only looked slow: measured again, it is not, so the gate does not fail
    looks_slow = _scaled_copy(first, tmp_path / "other" / "runs" / "looks-slow", 3.0)
    p = run_mwi("check", str(looks_slow), "--baseline", str(first), "--threshold", "100%", "--confirm", "--json",
                check=False)
    assert p.returncode == 0, (p.stdout, p.stderr)
    row = {r["config"]: r for r in json.loads(p.stdout)["rows"]}["local|chromium|tiny_cnn|tfjs|wasm|t1"]
    assert row["status"] == "not-confirmed" and not row["confirm"].startswith("regressed"), row


def test_a_fake_phone_run_in_the_history(fake_phone, tmp_path):
    phone = fake_phone("pixel")
    bm = tmp_path / "benchmark_model"
    bm.write_bytes(stand_in_elf())
    run = _sweep(tmp_path / "lab", "--target", phone.serial, "--native-backends", "cpu", "--benchmark-model",
                 str(bm), "--cooldown-timeout", "20")
    h = analyse(open_lab([tmp_path / "lab"]))
    assert not h.unreadable
    web = [s for s in h.series if s.key.runtime == "tfjs"]
    assert web and all(s.key.target == phone.serial for s in h.series)
    fp = json.loads((run / "manifest.json").read_text())["targets"][phone.serial]
    assert web[0].key.device_model == fp["model"]
    assert web[0].points[0].build == fp["fingerprint"] and web[0].points[0].browser_version
    assert any(s.key.runtime == "tflite-native" for s in h.series)
    p = run_mwi("history", str(tmp_path / "lab"), "--all")
    assert phone.serial in p.stdout
