"""The store: append-only JSON Lines, torn-tail repair, newer schemas refused, resume keys."""

import json
import os

import pytest

from mobile_webinfer.errors import StoreError
from mobile_webinfer.store import SCHEMA_VERSION, JsonlWriter, RunStore, read_jsonl


def _rec(key, status="ok", target="local"):
    return {"key": key, "cell": {"target": target}, "status": status}


def test_create_append_reopen(tmp_path):
    store = RunStore.create(tmp_path, {"spec": {"models": ["tiny_cnn"]}})
    assert store.run_dir.parent == tmp_path / "runs"
    store.append_result(_rec("a"))
    store.append_result(_rec("b", status="error"))
    store.append_result({**_rec("c", status="error"), "infra": True})
    again = RunStore.open(store.run_dir)
    assert {r["key"] for r in again.results()} == {"a", "b", "c"}
    assert again.done_keys() == {"a", "b", "c"}
    assert again.done_keys(retry_failed=True) == {"a", "b"}  # only the infrastructure failure is retried
    assert again.manifest()["spec"] == {"models": ["tiny_cnn"]}
    assert all(r["schema_version"] == SCHEMA_VERSION for r in again.results())


def test_torn_last_line_is_cut_before_next_append(tmp_path):
    path = tmp_path / "results.jsonl"
    w = JsonlWriter(path)
    w.append({"key": "a"})
    with open(path, "a") as f:
        f.write('{"key": "b", "cell": {"tar')  # a crash mid-write
    assert [r["key"] for r in read_jsonl(path)] == ["a"]  # readers skip the torn tail
    JsonlWriter(path).append({"key": "c"})  # the next process's writer repairs before appending
    lines = path.read_text().splitlines()
    assert [json.loads(l)["key"] for l in lines] == ["a", "c"]


def test_complete_but_invalid_last_line_is_repaired(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"key": "a"}\n{"key": \n')
    w = JsonlWriter(path)
    assert w.repair() > 0
    assert path.read_text() == '{"key": "a"}\n'


def test_bad_middle_line_is_an_error(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"key": "a"}\nnot json\n{"key": "c"}\n')
    with pytest.raises(StoreError, match="line 2"):
        list(read_jsonl(path))


def test_newer_schema_refused(tmp_path):
    store = RunStore.create(tmp_path, {})
    store.append_result(_rec("a"))
    path = store.run_dir / "results.jsonl"
    rec = json.loads(path.read_text())
    rec["schema_version"] = 99
    path.write_text(json.dumps(rec) + "\n")
    with pytest.raises(StoreError, match="newer"):
        RunStore.open(store.run_dir).results()
    m = json.loads((store.run_dir / "manifest.json").read_text())
    m["schema_version"] = 99
    (store.run_dir / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(StoreError):
        RunStore.open(store.run_dir)


def test_not_a_run_dir(tmp_path):
    with pytest.raises(StoreError, match="not a run directory"):
        RunStore.open(tmp_path)


def test_phone_shards_are_merged_and_last_record_wins(tmp_path):
    store = RunStore.create(tmp_path, {})
    store.append_result(_rec("p1|x", status="error", target="127.0.0.1:40001"))
    store.append_result(_rec("p2|x", target="emulator-5554"))
    store.append_result(_rec("p1|x", status="ok", target="127.0.0.1:40001"))
    names = sorted(p.name for p in store.run_dir.glob("results*.jsonl"))
    assert names == ["results.127.0.0.1_40001.jsonl", "results.emulator-5554.jsonl"]
    by_key = {r["key"]: r["status"] for r in store.results()}
    assert by_key == {"p1|x": "ok", "p2|x": "ok"}


def test_records_are_fsynced_lines(tmp_path, monkeypatch):
    calls = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(fd), real(fd)))
    store = RunStore.create(tmp_path, {})
    n = len(calls)
    store.append_result(_rec("a"))
    assert len(calls) > n


def test_update_manifest_is_atomic_and_keeps_fields(tmp_path):
    store = RunStore.create(tmp_path, {"spec": {"a": 1}})
    store.update_manifest(lambda m: m.setdefault("targets", {}).update({"local": {"cpu": "x"}}))
    m = store.manifest()
    assert m["spec"] == {"a": 1} and m["targets"]["local"]["cpu"] == "x" and "updated_at" in m
    assert not list(store.run_dir.glob(".*.tmp"))


def _infra(key, target="S1"):
    return {**_rec(key, status="error", target=target), "infra": True, "error_kind": "GateFault"}


def test_resume_reruns_the_failures_that_tripped_a_quarantine_and_retry_failed_only_infra(tmp_path):
    """Issue 22 item 6: the infrastructure failures in a row that quarantined a phone are not done;
    an isolated infra failure is re-run by --retry-failed only; a measurement error or a policy skip never."""
    store = RunStore.create(tmp_path, {"spec": {}})
    store.append_result(_infra("lone"))                       # one infra failure, then the phone went on
    store.append_result(_rec("ok1", target="S1"))
    store.append_result(_rec("pageerr", status="error", target="S1"))                      # a measurement error
    store.append_result({**_rec("ceiling", status="skipped", target="S1"), "error_kind": "time-ceiling"})
    store.append_result(_infra("t1"))
    store.append_result(_rec("other-phone", target="S2"))   # another phone's record does not break S1's streak
    store.append_result(_infra("t2"))
    for k in ("q1", "q2"):
        store.append_result({**_rec(k, status="skipped", target="S1"), "error_kind": "skipped-device-lost",
                             "infra": True})
    again = RunStore.open(store.run_dir)
    assert again.done_keys() == {"lone", "ok1", "pageerr", "ceiling", "other-phone"}
    assert again.done_keys(retry_failed=True) == {"ok1", "pageerr", "ceiling", "other-phone"}
    again.append_result(_rec("t1", target="S1"))  # the resumed run measured it: done now
    assert "t1" in RunStore.open(store.run_dir).done_keys()


def test_a_quarantine_on_the_last_cells_is_resumed_too(tmp_path):
    """The budget tripped on a phone's last cells: no skipped-device-lost record follows, the run's
    --max-infra-failures (manifest) says the streak was a quarantine."""
    store = RunStore.create(tmp_path, {"spec": {"max_infra_failures": 2}})
    store.append_result(_rec("ok1", target="S1"))
    store.append_result(_infra("lone"))
    store.append_result(_rec("ok2", target="S1"))
    store.append_result(_infra("t1"))
    store.append_result(_infra("t2"))
    store.append_result(_infra("other", target="S2"))  # one failure at the end of S2: under the budget
    assert RunStore.open(store.run_dir).done_keys() == {"ok1", "lone", "ok2", "other"}
