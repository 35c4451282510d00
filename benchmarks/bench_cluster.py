"""The cluster driver's ingestion: how many records and samples per second one `mwi sweep
--cluster` driver takes in from its phones' nodes, and what bounds it.

    .venv/bin/python -m benchmarks.bench_cluster [--phones 8] [--cells 25] [--samples 60] [--scale 2]

Synthetic workers stand in for phones: one Ray actor per "phone" (a private Ray started on
127.0.0.1, no dashboard, stopped at the end) answers each `measure` call with a PhoneHost-shaped
reply (a ~1.4 KB cell record, `--samples` sampler rows, one small output array) at once.  The
driver side is the real one: one thread per phone (as `run_sweep` runs them) calls the actor,
waits on the ObjectRef, rebuilds the `CellRecord` and stores it with `RunStore.append_result`
(flushed and fsynced) and the samples with `append_samples`.  The same replies are also ingested
without Ray (store only), so the ratio shows which of the two bounds the driver.

Bars (rates: measured >= bar): records/s through Ray >= 20; samples/s through Ray >= 1000 (a phone yields a cell every 10-60 s).
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import threading
import time
from collections.abc import Sequence
from typing import Any

from mobile_webinfer.cluster.ray_cluster import _raise_reply
from mobile_webinfer.records import CellRecord
from mobile_webinfer.store import RunStore

from ._common import Bar, Report, main_guard, parser, scaled
from .bench_store import cell_record

RECORDS_BAR_PER_S = 20.0
SAMPLES_BAR_PER_S = 1000.0


def reply(phone: int, i: int, n_samples: int) -> dict[str, Any]:
    """What `PhoneHost.measure` answers for one cell (values synthetic, seeded)."""
    import numpy as np

    rng = random.Random(phone * 100_003 + i)
    rec = cell_record(i, rng)
    target = f"phone{phone}"
    rec["cell"]["target"] = target
    rec["key"] = target + rec["key"][len("local"):]
    rec["node"] = f"node{phone % 4}"
    samples = [{"t": round(j * 0.25, 3), "probe": "meminfo", "package": "com.android.chrome",
                "total_pss_kb": 300_000 + rng.randrange(50_000), "by_type_kb": {"Native Heap": 90_000}}
               for j in range(n_samples)]
    return {"ok": True, "value": {"record": rec, "samples": samples,
                                  "outputs": [np.arange(1000, dtype=np.float32)]}}


def ingest(store: RunStore, got: dict[str, Any]) -> int:
    """The driver's part for one cell: unwrap, rebuild the record, store it and its samples."""
    value = _raise_reply(got, "bench")
    rec = CellRecord.from_json(value["record"])
    store.append_result(rec.to_json())
    store.append_samples({**s, "key": rec.key} for s in value["samples"])
    return len(value["samples"])


def run(argv: Sequence[str] | None) -> int:
    ap = parser(__doc__ or "")
    ap.add_argument("--phones", type=int, default=8)
    ap.add_argument("--cells", type=int, default=25, help="cells per phone")
    ap.add_argument("--samples", type=int, default=60, help="sampler rows per cell")
    args = ap.parse_args(argv)
    root = tempfile.mkdtemp(prefix="mwi-bench-cluster-", dir="/tmp")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # bind 127.0.0.1 only
    os.environ["RAY_TMPDIR"] = root
    import logging

    import ray

    report = Report("bench_cluster")
    try:
        ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)

        @ray.remote(num_cpus=0)
        class SyntheticPhone:
            def __init__(self, phone: int, n_samples: int):
                self.phone, self.n = phone, n_samples

            def measure(self, i: int) -> dict[str, Any]:
                return reply(self.phone, i, self.n)

        phones = [SyntheticPhone.remote(p, args.samples) for p in range(args.phones)]  # type: ignore[attr-defined]
        ray.get([a.measure.remote(0) for a in phones])  # actors up before the clock starts

        def timed(label: str, work: Any) -> tuple[float, int, int]:
            store = RunStore.create(__import__("pathlib").Path(root) / label, {"tool": "bench"}, label=label)
            counts = {"records": 0, "samples": 0}
            lock = threading.Lock()

            def one(p: int) -> None:
                for i in range(args.cells):
                    n = ingest(store, work(p, i))
                    with lock:
                        counts["records"] += 1
                        counts["samples"] += n

            threads = [threading.Thread(target=one, args=(p,)) for p in range(args.phones)]
            t0 = time.perf_counter()
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            return time.perf_counter() - t0, counts["records"], counts["samples"]

        wall_ray, recs, samples = timed("ray", lambda p, i: ray.get(phones[p].measure.remote(i)))
        cached = {(p, i): reply(p, i, args.samples) for p in range(args.phones) for i in range(args.cells)}
        wall_local, _r, _s = timed("store-only", lambda p, i: cached[(p, i)])
        rec_rate, sample_rate = recs / wall_ray, samples / wall_ray
        local_rate = recs / wall_local
        note = (f"{args.phones} phones x {args.cells} cells x {args.samples} samples, one thread per phone; "
                f"store-only (no Ray) {local_rate:.0f} records/s, Ray path / store-only "
                f"{rec_rate / local_rate:.2f}; wall {wall_ray:.2f} s")
        report.add(Bar("ingest_records_per_s", rec_rate, scaled(RECORDS_BAR_PER_S, args.scale, higher_is_better=True),
                       higher_is_better=True, note=note))
        report.add(Bar("ingest_samples_per_s", sample_rate,
                       scaled(SAMPLES_BAR_PER_S, args.scale, higher_is_better=True), higher_is_better=True,
                       note="sampler rows stored per second through the same path"))
    finally:
        ray.shutdown()
        shutil.rmtree(root, ignore_errors=True)
    return report.finish()


if __name__ == "__main__":
    main_guard(run)
