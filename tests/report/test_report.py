"""The report: Parquet files that keep every value, the HTML folder, the CLI contract, run comparison."""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from mobile_webinfer.errors import StoreError
from mobile_webinfer.htmlreport import compare_runs, write_parquet_files, write_report
from mobile_webinfer.htmlreport.html import FLAG_WORDS, explain_flag
from mobile_webinfer.htmlreport.parquet import ATTEMPT_COLUMNS, CELL_COLUMNS, JSON_ROW_KEYS, SAMPLE_COLUMNS
from mobile_webinfer.report import ROW_KEYS, build_rows
from mobile_webinfer.store import RunStore
from tests.report.synthetic import make_run
from tests.sweep_helpers import run_mwi

README = Path(__file__).resolve().parents[2] / "README.md"


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def test_cells_parquet_keeps_every_row_value_and_every_latency(phone_run):
    write_parquet_files(phone_run)
    table = pq.read_table(phone_run / "cells.parquet")
    assert set(ROW_KEYS) | {"run_id"} <= set(table.column_names)
    rows = build_rows(RunStore.open(phone_run).results())
    by_conf = {(r["target"], r["browser"], r["model"], r["runtime"], r["backend"], r["threads"]): r for r in rows}
    recs = {r["key"]: r for r in RunStore.open(phone_run).results()}
    got = table.to_pylist()
    assert sum(1 for g in got if g["final"]) == len(recs)
    assert any(not g["final"] and g["status"] == "throttled" for g in got)  # an earlier try is its own row
    for g in got:
        row = by_conf[(g["target"], g["browser"], g["model"], g["runtime"], g["backend"], g["threads"])]
        for k in ROW_KEYS:
            v = json.loads(g[k]) if k in JSON_ROW_KEYS and g[k] is not None else g[k]
            assert _same(v, row[k]), (k, v, row[k])
        if g["final"]:
            rec = recs[g["key"]]
            assert g["latencies_ms"] == rec.get("latencies_ms")
            assert g["warmup_ms"] == rec["warmup_ms"] and g["status"] == rec["status"]
            assert g["cell_first_inference_ms"] == rec["first_inference_ms"]
    frame = pd.read_parquet(phone_run / "cells.parquet")
    assert len(frame) == len(got) and frame["run_id"].nunique() == 1


def test_samples_parquet_keeps_every_sample(phone_run):
    write_parquet_files(phone_run)
    lines = (phone_run / "samples.jsonl").read_text().splitlines()
    t = pq.read_table(phone_run / "samples.parquet")
    assert [c for c, _ in SAMPLE_COLUMNS] == t.column_names and t.num_rows == len(lines) == 3000
    for line, got in zip(lines, t.to_pylist(), strict=True):
        src = json.loads(line)
        assert json.loads(got["raw"]) == src
        assert got["probe"] == src["probe"] and got["t_s"] == src["t_s"] and got["key"] == src["key"]
        d = src["data"]
        if src["probe"] == "thermal":
            assert got["thermal_status"] == d["status"] and got["thermal_max_c"] == max(d["temperatures"].values())
        elif src["probe"] == "battery":
            assert got["battery_temp_c"] == d["temperature_c"] and got["thermal_status"] is None
        elif src["probe"] == "meminfo":
            assert got["memory_mb"] == pytest.approx(d["total_pss_kb"] / 1024)
        elif src["probe"] == "cpu":
            freqs = [v for v in d["freq_khz"].values() if v is not None]
            assert got["cpu_freq_max_mhz"] == (max(freqs) / 1000 if freqs else None)
        assert got["time_s"] is not None and got["time_s"] >= got["t_s"]
    assert len(pd.read_parquet(phone_run / "samples.parquet")) == 3000


def test_parquet_rebuilt_only_when_the_results_are_newer(tmp_path):
    run = make_run(tmp_path, targets=("R58M12345",), models=1, repeats=1, samples=50)
    first = write_parquet_files(run)
    assert set(first.rebuilt) == {"cells", "samples"}
    assert write_parquet_files(run).rebuilt == ()
    shard = next(run.glob("results*.jsonl"))
    later = time.time() + 5
    os.utime(shard, (later, later))
    assert set(write_parquet_files(run).rebuilt) == {"cells", "samples"}


def test_a_torn_last_sample_line_is_not_a_sample(tmp_path):
    run = make_run(tmp_path, targets=("R58M12345",), models=1, repeats=1, samples=20)
    with open(run / "samples.jsonl", "a") as f:
        f.write('{"schema_version":2,"t_s":9.0,"probe":"therm')
    write_parquet_files(run)
    assert pq.read_table(run / "samples.parquet").num_rows == 20


def test_report_folder_has_every_target_and_its_figures(phone_run):
    index = write_report(phone_run)
    assert index == phone_run / "report" / "index.html"
    text = index.read_text()
    for serial in ("R58M12345", "8BKX1Q2F"):
        assert f'data-target="{serial}"' in text
    assert "16.9x" in text and "15.8x" in text and "334.6x" in text and "+67.2%" in text and "(study)" in text
    assert "renderer-crashed" in text and "thermal-throttled" in text
    imgs = [p.name for p in (phone_run / "report").glob("*.png")]
    assert any("conditions" in n for n in imgs) and any("frames" in n for n in imgs)
    for name in imgs:
        assert f'src="{name}"' in text
    assert "http://" not in text and "https://" not in text  # nothing fetched from the network


def test_flags_are_explained_in_words():
    assert "fewer threads" in explain_flag("paired-at-threads-in-effect=1")
    assert "some repeats failed" in explain_flag("2-of-3-repeats-failed")
    assert explain_flag("webgpu-partial(10/20)").startswith("only part")
    assert len(FLAG_WORDS) > 15


def test_cli_report_writes_html_last_and_parquet_json_and_csv_stay_stdout_only(tmp_path):
    run = make_run(tmp_path, targets=("R58M12345",), models=1, repeats=2, samples=200)
    js = run_mwi("report", str(run), "--json")
    assert isinstance(json.loads(js.stdout), list)
    run_mwi("report", str(run), "--csv")
    assert not (run / "report").exists() and not (run / "cells.parquet").exists()
    proc = run_mwi("report", str(run))
    last = proc.stdout.strip().splitlines()[-1]
    assert Path(last) == run / "report" / "index.html" and Path(last).is_file()
    assert (run / "cells.parquet").is_file() and (run / "samples.parquet").is_file()
    other = make_run(tmp_path / "b", targets=("R58M12345",), models=1, repeats=1)
    proc = run_mwi("report", str(other), "--no-html")
    assert not (other / "report").exists() and (other / "cells.parquet").is_file()


def test_cli_bad_run_dir_is_one_line(tmp_path):
    proc = run_mwi("report", str(tmp_path), check=False)
    assert proc.returncode != 0
    assert proc.stderr.strip().count("\n") == 0 and "not a run directory" in proc.stderr
    with pytest.raises(StoreError, match="not a directory"):
        write_report(tmp_path / "missing")


def test_compare_json_contract_and_significance(tmp_path):
    a = make_run(tmp_path / "a", targets=("R58M12345",), models=1, repeats=2, faults=False)
    b = make_run(tmp_path / "b", targets=("8BKX1Q2F",), models=1, repeats=2, faults=False, slower=2.0)
    out = json.loads(run_mwi("report", str(a), str(b), "--json").stdout)
    assert out and all({"key", "median_a_ms", "median_b_ms", "ratio", "ratio_ci95", "significant"} <= set(c)
                       for c in out)
    browser = [c for c in out if "tflite-native" not in c["key"]]
    native = [c for c in out if "tflite-native" in c["key"]]
    assert browser and all(c["significant"] and 1.6 < c["ratio"] < 2.5 for c in browser)
    assert native and all(0.9 < c["ratio"] < 1.1 for c in native)  # native unchanged: same seed
    same = compare_runs([a, a])
    assert same and all(c.ratio == 1.0 and not c.significant for c in same if c.ratio_ci95)
    proc = run_mwi("report", str(a), str(b))
    page = Path(proc.stdout.strip().splitlines()[-1])
    assert page.name == "index.html" and page.is_file() and "significant" in page.read_text()


def test_readme_documents_every_parquet_column():
    text = README.read_text()
    names = [c.name for c in CELL_COLUMNS] + [n for n, _, _ in ATTEMPT_COLUMNS] + [n for n, _ in SAMPLE_COLUMNS]
    missing = [n for n in names if f"`{n}`" not in text]
    assert not missing, f"README does not document: {missing}"
    assert "pd.read_parquet" in text


def test_largest_value_of_open_mappings_matches_a_json_reading():
    """Sensor and core names differ per phone: the vectorised reading of `temperatures` / `freq_khz`
    agrees with json.loads on every shape, falling back to it for anything unusual."""
    import json
    import math

    import pyarrow as pa

    from mobile_webinfer.htmlreport.parquet import _max_of_objects

    objects = ['{"cpu0":2400000,"cpu1":null,"cpu7":1.8e6}', "{}", '{"a": null}', '{ "skin-therm" : -3.5 , "bat":33}',
               '{"x":1}', '{"a:b":7}']
    for batch in (objects, objects + ['{"s":"hot"}'], objects + ['{"n":{"deep":1}}'], objects + ['{"odd, name":40.5}'],
                  objects + ['{"l":[1,2]}']):
        got = _max_of_objects(pa.array(batch, type=pa.large_string()))
        for text, value in zip(batch, got, strict=True):
            d = json.loads(text)
            nums = [v for v in d.values() if isinstance(v, (int, float)) and not isinstance(v, bool)]
            want = max(nums) if nums else math.nan
            assert (math.isnan(want) and math.isnan(value)) or value == want, (text, value)
