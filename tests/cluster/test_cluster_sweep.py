"""`mwi sweep --cluster` / `mwi devices --cluster` on a two-node Ray cluster on this machine:
each node a "host" with its own adb server and fake phone (see conftest.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.sweep_helpers import MWI, read_results, run_mwi

pytestmark = pytest.mark.browser


def _sweep_args(bm: Path, out: Path) -> list[str]:
    return ["sweep", "--models", "tiny_cnn", "--runtimes", "tfjs", "--backends", "wasm", "--threads", "1",
            "--repeats", "1", "--quick", "--native-backends", "cpu", "--benchmark-model", str(bm),
            "--cooldown-timeout", "20", "--no-capabilities", "--out", str(out)]


def _local_plan(host, bm: Path, out: Path) -> set[str]:
    """The keys a local sweep of this host's phone would write (its own adb server, no Ray)."""
    env = dict(host.server.env)
    proc = run_mwi(*_sweep_args(bm, out), "--target", host.phone.serial, "--dry-run", env=env, timeout=300)
    return {line.strip() for line in proc.stdout.splitlines() if line.count("|") == 6}


def _ok(r: dict) -> bool:
    return r["status"] == "ok"


def _owner(two_hosts) -> dict[str, str]:
    return {h.phone.serial: h.node_id for h in two_hosts.hosts}


def test_bad_address_and_no_ray_are_one_line(tmp_path):
    bad = run_mwi("sweep", "--cluster", "not an address", "--out", str(tmp_path), check=False, timeout=60)
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "HOST:PORT" in bad.stderr
    dead = run_mwi("devices", "--cluster", "127.0.0.1:1", check=False, timeout=60)
    assert dead.returncode == 3 and "cannot reach a Ray cluster at 127.0.0.1:1" in dead.stderr
    no_ray = subprocess.run([sys.executable, "-c", "import sys; sys.modules['ray'] = None; "
                             "from mobile_webinfer.cli import main; sys.argv = ['mwi', 'sweep', '--cluster', "
                             "'127.0.0.1:1']; main()"], capture_output=True, text=True, timeout=60)
    assert no_ray.returncode == 2 and no_ray.stderr.strip().count("\n") == 0, no_ray.stderr
    assert "pip install 'mobile-webinfer[cluster]'" in no_ray.stderr


def test_ray_missing_names_the_install_line():
    from mobile_webinfer.cluster import INSTALL_HINT

    code = ("import sys; sys.modules['ray'] = None\n"
            "from mobile_webinfer.cluster.ray_cluster import _ray\n"
            "from mobile_webinfer.errors import UsageError\n"
            "try:\n    _ray()\nexcept UsageError as e:\n    print(e.one_line())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == INSTALL_HINT and "mobile-webinfer[cluster]" in out.stdout


def test_devices_lists_each_nodes_phone(two_hosts):
    proc = run_mwi("devices", "--cluster", two_hosts.address, "--json", env=two_hosts.driver_env(), timeout=300)
    rows = json.loads(proc.stdout)
    assert {r["serial"]: r["node"] for r in rows} == _owner(two_hosts)
    assert all(r["state"] == "device" and r["model"] for r in rows)


def test_sweep_runs_each_phone_on_its_own_node(two_hosts, tmp_path, bm_binary):
    t0 = time.monotonic()
    proc = run_mwi(*_sweep_args(bm_binary, tmp_path / "out"), "--cluster", two_hosts.address,
                   env=two_hosts.driver_env(), timeout=900)
    wall = time.monotonic() - t0
    run_dir = Path(proc.stdout.strip().splitlines()[-1])
    recs = read_results(run_dir)
    owner = _owner(two_hosts)
    assert recs and all(_ok(r) for r in recs), [(r["key"], r.get("error")) for r in recs]
    for r in recs:  # every cell ran on the node its phone is plugged into
        assert r["node"] == owner[r["cell"]["target"]], r["key"]
    # the run directory holds what two local sweeps would write: the same keys, one shard per phone
    want: set[str] = set()
    for h in two_hosts.hosts:
        want |= _local_plan(h, bm_binary, tmp_path / "plan")
    assert Counter(r["key"] for r in recs) == Counter(want)
    assert sorted(p.name for p in run_dir.glob("results*.jsonl")) == sorted(
        f"results.{s.replace(':', '_')}.jsonl" for s in owner)
    m = json.loads((run_dir / "manifest.json").read_text())
    for serial, node in owner.items():
        assert m["targets"][serial]["node"] == node
    # models reached each node by content: each node's own models directory, same sha256 as the driver's
    for h in two_hosts.hosts:
        node_mf = json.loads((Path(h.models_dir) / "tiny_cnn" / "manifest.json").read_text())
        assert node_mf["files"]["tfjs"]["sha256"] == m["models"]["tiny_cnn"]["files"]["tfjs"]["sha256"]
    # agreement still computed on the driver, from the node's outputs
    assert all(r["agreement"]["ok"] for r in recs if r["cell"]["runtime"] != "tflite-native" and r["status"] == "ok")
    print(f"two-node cluster sweep: {len(recs)} cells in {wall:.1f} s")


def test_node_killed_midway_then_resume(two_hosts, tmp_path, bm_binary):
    a, b = two_hosts.hosts
    out = tmp_path / "out"
    driver = subprocess.Popen(MWI + _sweep_args(bm_binary, out) + ["--cluster", two_hosts.address],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=two_hosts.driver_env())
    shard_b = f"results.{b.phone.serial.replace(':', '_')}.jsonl"
    t_end = time.monotonic() + 600
    try:
        while time.monotonic() < t_end:  # kill B's node once its first cell is stored
            shards = list(out.glob(f"runs/*/{shard_b}"))
            if shards and shards[0].read_text().strip():
                break
            assert driver.poll() is None, driver.communicate()
            time.sleep(0.5)
        else:
            pytest.fail("phone B never stored a cell")
        old_b = b.node_id
        two_hosts.kill_node(b)
        stdout, stderr = driver.communicate(timeout=600)
    finally:
        if driver.poll() is None:
            driver.kill()
    # B's lost cells stay unstored or are recorded skipped-device-lost (resumable): exit 3, never a
    # silent 0 with cells left unmeasured
    assert driver.returncode == 3, stderr[-3000:]
    assert b.phone.serial in stderr and "--resume" in stderr
    run_dir = Path(stdout.strip().splitlines()[-1])
    plan = _local_plan(a, bm_binary, tmp_path / "plan") | _local_plan(b, bm_binary, tmp_path / "plan")
    first = read_results(run_dir)
    assert all(_ok(r) for r in first if r["cell"]["target"] == a.phone.serial)
    a_done = {r["key"] for r in first if r["cell"]["target"] == a.phone.serial}
    assert a_done == {k for k in plan if k.startswith(a.phone.serial + "|")}  # A finished everything
    b_ok = {r["key"] for r in first if r["cell"]["target"] == b.phone.serial and r["status"] == "ok"}
    assert b_ok and b_ok != {k for k in plan if k.startswith(b.phone.serial + "|")}  # B stopped midway
    assert all(r["node"] == old_b for r in first if r["key"] in b_ok)

    two_hosts.add_node(b)  # the host comes back (a new Ray node, the same phone)
    run_mwi("sweep", "--resume", str(run_dir), "--cluster", two_hosts.address, env=two_hosts.driver_env(),
            timeout=900)
    recs = read_results(run_dir)
    ok = Counter(r["key"] for r in recs if r["status"] != "skipped")
    assert set(ok) == plan and max(ok.values()) == 1, ok  # complete, nothing measured twice
    for r in recs:
        if r["status"] == "ok" and r["cell"]["target"] == b.phone.serial and r["key"] not in b_ok:
            assert r["node"] == b.node_id != old_b
    assert {r["node"] for r in recs if r["status"] == "ok" and r["cell"]["target"] == a.phone.serial} == {a.node_id}


def test_qoe_cells_run_on_the_phones_node(two_hosts, tmp_path):
    """`mwi qoe --cluster`: the QoE page, its `input tap`s and its rounds run on the node the phone is on."""
    host = two_hosts.hosts[0]
    proc = run_mwi("qoe", "--models", "tiny_cnn", "--runtimes", "tfjs", "--backends", "wasm", "--threads", "1",
                   "--repeats", "1", "--qoe-rounds", "2", "--browsers", "com.android.chrome", "--cooldown-timeout",
                   "20", "--no-capabilities", "--no-html", "--target", host.phone.serial,
                   "--cluster", two_hosts.address, "--out", str(tmp_path), env=two_hosts.driver_env(), timeout=600)
    run_dir = Path(proc.stdout.strip().splitlines()[-1])
    recs = {r["cell"]["qoe_mode"]: r for r in read_results(run_dir)}
    assert set(recs) == {"baseline", "main", "worker"}, list(recs)
    for mode, r in recs.items():
        assert _ok(r) and r["node"] == host.node_id, (mode, r.get("error"), r.get("node"))
        q = r["qoe"]
        assert {t["round"] for t in q["tasks"]} == {0, 1}   # --qoe-rounds reached the node
        assert q["tap_source"] == "adb shell input tap" and q["taps"], mode
    rows = {r["qoe_mode"]: r for r in json.loads(run_mwi("report", str(run_dir), "--json", "--no-html").stdout)}
    assert rows["main"]["gui_delay_pct"] is not None and rows["worker"]["inferences_per_s"] > 0
