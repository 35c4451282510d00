"""Sweep files and --dry-run: the plan, without measuring anything."""

import dataclasses
import subprocess
import sys
from pathlib import Path

from mobile_webinfer.sweep import SweepSpec, plan_cells

MWI = [sys.executable, "-m", "mobile_webinfer"]
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sweep.toml"


def test_plan_order_and_thread_rules():
    spec = SweepSpec(models=["m"], runtimes=["tfjs", "ort"], backends=["wasm", "webgl", "cpu"], threads=[2, 1],
                     repeats=2)
    cells = plan_cells(spec, "local", ["chromium"], ["xnnpack"])
    keys = [c.key for c in cells]
    # issue 21: repeat by repeat, every configuration once, native references included, in a seeded order
    assert [c.repeat for c in cells] == [0] * (len(cells) // 2) + [1] * (len(cells) // 2)
    assert sum(c.is_native for c in cells) == 4
    places = {tuple(i for i, c in enumerate(plan_cells(dataclasses.replace(spec, order_seed=s), "local", ["chromium"],
                                                         ["xnnpack"])) if c.is_native) for s in range(6)}
    assert len(places) > 1  # the native references move with the seed: not all first
    again = plan_cells(spec, "local", ["chromium"], ["xnnpack"])
    assert [c.key for c in again] == keys  # the same seed, the same order
    other = plan_cells(dataclasses.replace(spec, order_seed=7), "local", ["chromium"], ["xnnpack"])
    assert sorted(c.key for c in other) == sorted(keys) and [c.key for c in other] != keys
    browser = [c for c in cells if not c.is_native]
    assert {(c.backend, c.threads) for c in browser if c.runtime == "tfjs"} == {("wasm", 1), ("wasm", 2),
                                                                               ("webgl", 1), ("cpu", 1)}
    assert {(c.backend, c.threads) for c in browser if c.runtime == "ort"} == {("wasm", 1), ("wasm", 2)}
    assert len(keys) == len(set(keys))


def test_example_spec_dry_run_and_flags_override(tmp_path):
    p = subprocess.run(MWI + ["sweep", "--spec", str(EXAMPLE), "--dry-run"], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.strip().splitlines()
    assert "cells; estimated" in lines[-1]
    n = int(lines[-1].split()[0])
    assert n == len(lines) - 1 and any("|mobilenet_v2|" in l for l in lines)
    p2 = subprocess.run(MWI + ["sweep", "--spec", str(EXAMPLE), "--dry-run", "--models", "tiny_cnn", "--threads", "1",
                               "--repeats", "1"], capture_output=True, text=True, timeout=120)
    lines2 = p2.stdout.strip().splitlines()
    assert all("|tiny_cnn|" in l for l in lines2[:-1]) and int(lines2[-1].split()[0]) < n
    assert not (tmp_path / "runs").exists()


def test_bad_spec_files_are_one_line_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('models = ["tiny_cnn"]\nthreadz = [1]\n')
    p = subprocess.run(MWI + ["sweep", "--spec", str(bad), "--dry-run"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "threadz" in p.stderr and p.stderr.count("\n") == 1
    bad.write_text("models = [\n")
    p = subprocess.run(MWI + ["sweep", "--spec", str(bad), "--dry-run"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "TOML" in p.stderr
    p = subprocess.run(MWI + ["sweep", "--spec", str(tmp_path / "none.toml")], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 2 and "not found" in p.stderr
