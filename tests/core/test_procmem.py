"""Process-tree memory from /proc: types from Chromium command lines, live descendants, the
host memory probe run by the one Sampler."""

import subprocess
import sys
import time

from mobile_webinfer.hostproc import descendants, process_type
from mobile_webinfer.probes.hostmem import HOST, ProcessTreeMemoryProbe, memory_peaks
from mobile_webinfer.probes.sampler import Sampler


def test_process_type_from_split_or_rewritten_cmdlines():
    assert process_type(["/usr/lib/chromium/chromium", "--headless", "--user-data-dir=/tmp/x"]) == "browser"
    assert process_type(["/usr/lib/chromium/chromium --type=renderer --lang=en"]) == "renderer"
    assert process_type(["chromium", "--type=gpu-process"]) == "gpu"
    assert process_type(["chromium --type=utility --utility-sub-type=network.mojom.NetworkService"]) == "utility"
    assert process_type(["chromium --type=zygote"]) == "zygote"
    assert process_type(["chromium --type=crashpad-handler"]) == "other"


def test_sampler_follows_a_live_process_tree():
    code = "import subprocess,sys,time; c=subprocess.Popen([sys.executable,'-c','import time; x=bytearray(30<<20); time.sleep(30)']); time.sleep(30)"
    parent = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 10
        while len(descendants(parent.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        tree = descendants(parent.pid)
        assert tree[0] == parent.pid and len(tree) == 2
        time.sleep(0.5)
        rows: list = []
        probe = ProcessTreeMemoryProbe(lambda: descendants(parent.pid))
        with Sampler(HOST, [probe], 0.05, rows.append, per_probe_interval=False):
            time.sleep(0.4)
        assert all(r["probe"] == "procmem" and r["ok"] for r in rows)
        peaks = memory_peaks(rows, 0.05)
        assert peaks.extra["samples"] >= 3 and peaks.peak_total_mb > 30  # the child's 30 MB bytearray
        assert peaks.peak_by_type_mb["browser"] == peaks.peak_total_mb
        assert peaks.extra["sampler_cost_s"] >= 0
        assert memory_peaks([], 0.05).peak_total_mb is None  # no sample: no number, never a 0
    finally:
        for p in descendants(parent.pid)[::-1]:
            subprocess.run(["kill", "-9", str(p)])
        parent.wait()


def test_pss_is_reread_only_when_rss_moves_or_ages():
    # A child whose memory only moves when told to: the test process's own RSS moves with
    # whatever else pytest does (allocator reuse, threads), which made this check flaky.
    grow = "import sys\nblobs = []\nprint('ready', flush=True)\nfor line in sys.stdin:\n" \
        "    if line.startswith('free'):\n        blobs.pop()\n        print('freed', flush=True)\n" \
        "        continue\n" \
        "    b = bytearray(16 << 20)\n    b[::4096] = b'x' * len(b[::4096])\n    blobs.append(b)\n" \
        "    del b\n    print('grown', flush=True)\n"

    def tell(word: str) -> None:
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(word + "\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() in ("grown", "freed")

    child = subprocess.Popen([sys.executable, "-c", grow], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdin is not None
        assert child.stdout.readline().strip() == "ready"
        now = [100.0]
        listed = []

        def pids():
            listed.append(1)
            return [child.pid]

        probe = ProcessTreeMemoryProbe(pids, clock=lambda: now[0])
        first = probe.sample(HOST)
        assert probe.pss_reads == 1 and first.processes == 1 and first.total_pss_mb > 0
        now[0] += 0.2
        again = probe.sample(HOST)
        assert probe.pss_reads == 1 and again.total_pss_mb == first.total_pss_mb  # RSS still: PSS kept
        tell("grow")  # RSS grows by 16 MB, a new high: PSS follows RSS at once, and is read afresh
        now[0] += 0.2  # once PSS_MIN_GAP_S has passed since the last read
        soon = probe.sample(HOST)
        assert probe.pss_reads == 1 and soon.total_pss_mb > first.total_pss_mb + 8
        now[0] += probe.PSS_MIN_GAP_S
        grown = probe.sample(HOST)
        assert probe.pss_reads == 2 and grown.total_pss_mb > first.total_pss_mb + 8
        tell("free")  # the heap swings down and up again below its high: PSS follows RSS, no walk
        now[0] += 0.2
        freed = probe.sample(HOST)
        assert probe.pss_reads == 2 and freed.total_pss_mb < grown.total_pss_mb - 8
        tell("grow")
        now[0] += 0.2
        again2 = probe.sample(HOST)
        assert probe.pss_reads == 2 and abs(again2.total_pss_mb - grown.total_pss_mb) < 2
        now[0] += probe.PSS_MAX_AGE_S
        probe.sample(HOST)
        assert probe.pss_reads == 3  # too old: read again
        assert len(listed) == 3  # the process list: re-listed once a second (t=0, 1.6, 11.6), not every sample
        probe.reset()
        probe.sample(HOST)
        assert probe.pss_reads == 1 and len(listed) == 4
    finally:
        child.kill()
        child.wait()
