"""A phone's native half of a paired cell (issue 21): one `benchmark_model` run per block.

TFLite's prebuilt `benchmark_model` cannot stay warm and wait for the host's word, so each block
is its own run of about the block's length (`--min_secs` = `--max_secs`, `--num_runs` at least a
few, one warm-up run that re-warms after the pause), timed by benchmark_model itself; the round
keeps its median and count (benchmark_model prints a summary, not each run).  Each run loads the
model again (its `Init`), outside the timed inferences.  Mode `benchmark_model-chunks`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...errors import MeasurementError
from ...vocab import Cell

if TYPE_CHECKING:
    from .target import AndroidTarget

MODE = "benchmark_model-chunks"


class BenchmarkChunks:
    """`NativeBlocks` over a phone's benchmark_model (binary and model pushed once)."""

    def __init__(self, t: AndroidTarget, remote_bin: str, remote_model: str, cell: Cell, backend: str,
                 threads: int, timeout_s: float = 120.0):
        self.t, self.remote_bin, self.remote_model = t, remote_bin, remote_model
        self.backend, self.threads, self.timeout_s = backend, int(threads), timeout_s
        self.cell = cell
        self._init_ms: float | None = None

    def __enter__(self) -> BenchmarkChunks:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def block(self, ms: float, *, at_least: int = 3, at_most: int = 0, warm: int = 1, warm_ms: float = 0.0) -> Any:
        from ...parsers import parse_benchmark_model
        from ..pairing import NativeBlock

        secs = max(0.01, ms / 1000)
        argv = [self.remote_bin, f"--graph={self.remote_model}", f"--num_threads={self.threads}",
                f"--warmup_runs={max(1, warm)}", f"--warmup_min_secs={max(0.0, warm_ms) / 1000:g}", f"--num_runs={max(1, at_least)}",
                f"--min_secs={secs:g}", f"--max_secs={secs:g}",
                f"--use_xnnpack={'true' if self.backend == 'xnnpack' else 'false'}"]
        res = self.t.dev.shell(argv, timeout=self.timeout_s + secs, check=False)
        text = res.stdout + "\n" + res.stderr
        if res.exit_code != 0:
            raise MeasurementError(f"benchmark_model exited {res.exit_code}: "
                                   f"{' | '.join(text.strip().splitlines()[-2:])[:300]}")
        bm = parse_benchmark_model(text, source=f"{self.t.serial}: benchmark_model (paired block)")
        if self._init_ms is None and bm.init_us is not None:
            self._init_ms = bm.init_us / 1000
        med = bm.inference.median_us if bm.inference and bm.inference.median_us is not None else bm.inference_avg_us
        return NativeBlock(median_ms=None if med is None else med / 1000, n=int(bm.count or 0))

    def info(self) -> dict[str, Any]:
        return {"setup_ms": self._init_ms, "runtime": "benchmark_model"}

    def finish(self) -> None:
        return None  # benchmark_model writes no outputs: the reference stays host-native


def start_chunks(t: AndroidTarget, cell: Cell, manifest: Any, backend: str, threads: int,
                 timeout_s: float) -> BenchmarkChunks:
    """Push the binary and model (once per phone) and return the block runner; raises MeasurementError
    where there is no benchmark_model for this phone (the cell is then measured unpaired, saying so)."""
    from ...vocab import NATIVE_RUNTIME, RUNTIME_FORMAT
    from .native_cell import benchmark_model_path

    binary = benchmark_model_path(t.abi, t.benchmark_model)
    if binary is None:
        raise MeasurementError(f"no benchmark_model binary for {t.abi or 'this ABI'} (mwi devices setup "
                               f"{t.serial}, or --benchmark-model PATH)")
    remote_bin = t.push_once(binary, "benchmark_model", executable=True)
    fmt = RUNTIME_FORMAT[NATIVE_RUNTIME]
    remote_model = t.push_once(manifest.file(fmt), f"{cell.model}.tflite", manifest.sha256(fmt))
    return BenchmarkChunks(t, remote_bin, remote_model, cell, backend, threads, timeout_s)


__all__ = ["MODE", "BenchmarkChunks", "start_chunks"]
