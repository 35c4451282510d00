"""benchmark_model pushed to the fake phone really runs the pushed model on the host."""

from __future__ import annotations

import re

import pytest

from tests.fakephone.bench import stand_in_elf
from tests.fakephone.pytest_fixtures import start_fake_phone


BIN = "/data/local/tmp/benchmark_model"
GRAPH = "/data/local/tmp/tiny.tflite"


@pytest.fixture(scope="module")
def bench_phone(adb_server, tiny_model, tmp_path_factory):
    handle = start_fake_phone(adb_server, "pixel")
    fake_bin = tmp_path_factory.mktemp("bin") / "benchmark_model"
    fake_bin.write_bytes(stand_in_elf())  # an aarch64 ELF header: the fake runs the model itself
    d = handle.device()
    d.sync.push(str(fake_bin), BIN)
    d.sync.push(str(tiny_model), GRAPH)
    yield handle
    handle.stop()


def run(handle, *flags: str):
    return handle.device().shell2(" ".join([BIN, f"--graph={GRAPH}", *flags]), v2=True, timeout=120)


def test_not_executable_until_chmod(bench_phone):
    bench_phone.device().shell2(f"chmod 644 {BIN}", v2=True)
    r = run(bench_phone)
    assert r.returncode == 126 and "Permission denied" in r.stderr
    assert bench_phone.device().shell2(f"chmod 755 {BIN}", v2=True).returncode == 0


def test_cpu_xnnpack_output_format(bench_phone):
    bench_phone.device().shell2(f"chmod 755 {BIN}", v2=True)
    r = run(bench_phone, "--num_threads=2", "--use_xnnpack=true", "--warmup_runs=2", "--num_runs=20",
            "--min_secs=0.1", "--warmup_min_secs=0.05")
    assert r.returncode == 0, r.stderr
    log = r.stderr  # TFLite logs to stderr, like the real binary
    lines = log.splitlines()
    assert lines[0] == "INFO: STARTING!"
    assert "INFO: Num threads: [2]" in lines
    assert f"INFO: Graph: [{GRAPH}]" in lines
    assert "INFO: #threads used for CPU inference: [2]" in lines
    assert "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." in lines
    m = re.search(r"VERBOSE: Replacing (\d+) out of (\d+) node\(s\) with delegate \(TfLiteXNNPackDelegate\)", log)
    assert m and int(m.group(2)) >= 5 and int(m.group(1)) < int(m.group(2))  # CUMSUM is not XNNPACK
    counts = re.findall(r"^INFO: count=(\d+) ", log, re.M)
    assert len(counts) == 2 and int(counts[0]) >= 2 and int(counts[1]) >= 20
    timing = re.search(r"^INFO: Inference timings in us: Init: (\d+), First inference: (\d+), "
                       r"Warmup \(avg\): ([\d.e+]+), Inference \(avg\): ([\d.e+]+)$", log, re.M)
    assert timing and 0 < float(timing.group(4)) < 1e6
    assert re.search(r"^INFO: Memory footprint delta from the start of the tool \(MB\): init=[\d.]+ "
                     r"overall=[\d.]+$", log, re.M)
    assert "INFO: The input model file size (MB): " in log


def test_gpu_prints_partial_delegation_with_op_count(bench_phone):
    from ai_edge_litert.interpreter import Interpreter

    bench_phone.device().shell2(f"chmod 755 {BIN}", v2=True)
    r = run(bench_phone, "--use_gpu=true", "--num_runs=5", "--min_secs=0.05", "--warmup_min_secs=0.01")
    assert r.returncode == 0, r.stderr
    assert "INFO: Use gpu: [1]" in r.stderr
    m = re.search(r"INFO: Replacing (\d+) out of (\d+) node\(s\) with delegate \(TfLiteGpuDelegateV2\) node, "
                  r"yielding (\d+) partitions", r.stderr)
    assert m
    pulled = bench_phone.device().sync.read_bytes(GRAPH)
    ops = Interpreter(model_content=pulled)._get_ops_details()
    assert int(m.group(2)) == len(ops)
    assert int(m.group(1)) == len(ops) - sum(op["op_name"] == "CUMSUM" for op in ops)
    assert "partially executed by the delegate" in r.stderr


def test_missing_graph_and_bad_flag(bench_phone):
    bench_phone.device().shell2(f"chmod 755 {BIN}", v2=True)
    r = bench_phone.device().shell2(f"{BIN} --graph=/data/local/tmp/none.tflite", v2=True)
    assert r.returncode == 1 and "Could not open" in r.stderr
    r = bench_phone.device().shell2(f"{BIN} --graph={GRAPH} --bogus=1", v2=True)
    assert r.returncode == 1 and "bogus" in r.stderr
    r = bench_phone.device().shell2("/data/local/tmp/nothing_here --x=1", v2=True)
    assert r.returncode == 127 and "inaccessible or not found" in r.stderr


def test_the_fake_runs_only_an_elf_for_its_abi(bench_phone, tmp_path):
    """A script or a binary for another CPU is not run as benchmark_model (the kernel refuses it)."""
    d = bench_phone.device()
    for name, data in (("script", b"#!/bin/sh\necho benchmark\n"), ("x86_64", stand_in_elf(e_machine=62))):
        f = tmp_path / name
        f.write_bytes(data)
        d.sync.push(str(f), f"/data/local/tmp/benchmark_model_{name}")
        d.shell2(["chmod", "755", f"/data/local/tmp/benchmark_model_{name}"])
        r = d.shell2([f"/data/local/tmp/benchmark_model_{name}", f"--graph={GRAPH}"], v2=True)
        assert r.returncode == 126 and "Exec format error" in r.output, (name, r)
