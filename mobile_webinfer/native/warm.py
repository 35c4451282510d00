"""The host side of a paired cell's native reference: a warm child process (native/warm_worker.py)
that loaded the model once and runs a block of inferences each time it is asked.

    with WarmNative(model_path, inputs, threads=1) as nat:   # loads, first inference, warm-up
        lat = nat.block(500)                                  # ~0.5 s of back-to-back inferences
    nat.outputs                                               # the last inference's outputs

The child's own clock times every inference (as `run_isolated` does); between blocks it waits on
its stdin, so it never competes with the browser for the CPU.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CommandTimeout, MeasurementError

PREFIX = "MWI "
MODE = "warm-process"


class WarmNative:
    """A native child kept warm for a paired cell (host LiteRT)."""

    def __init__(self, model_path: Path, input_paths: list[tuple[Path, str, list[int]]], *, threads: int,
                 backend: str = "xnnpack", warmups: int = 3, max_warmups: int = 0, warmup_window: int = 5,
                 warmup_drift: float = 0.05, warmup_time_s: float = 5.0, timeout_s: float = 120.0,
                 output_names: list[str] | None = None, input_names: list[str] | None = None):
        self.threads, self.backend, self.timeout_s = int(threads), backend, timeout_s
        self._tmp = tempfile.TemporaryDirectory(prefix="mwi-warm-")
        self._out = Path(self._tmp.name) / "outputs.npz"
        self._spec = {"model": str(model_path), "inputs": [[str(p), dt, list(sh)] for p, dt, sh in input_paths],
                      "threads": self.threads, "backend": backend, "warmups": warmups, "max_warmups": max_warmups,
                      "warmup_window": warmup_window, "warmup_drift": warmup_drift, "warmup_time_s": warmup_time_s,
                      "output_names": output_names, "input_names": input_names, "out": str(self._out)}
        self._proc: subprocess.Popen[str] | None = None
        self._sel: selectors.BaseSelector | None = None
        self._buf = ""
        self.ready: dict[str, Any] = {}
        self.outputs: list[np.ndarray] | None = None
        self.peak_rss_mb: float | None = None

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> WarmNative:
        self._proc = subprocess.Popen([sys.executable, "-m", "mobile_webinfer.native.warm_worker"],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                      text=True, env=dict(os.environ))
        self._sel = selectors.DefaultSelector()
        assert self._proc.stdout is not None
        os.set_blocking(self._proc.stdout.fileno(), False)
        self._sel.register(self._proc.stdout, selectors.EVENT_READ)
        try:
            self._send(self._spec)
            self.ready = self._answer(self.timeout_s, "loading the model")
        except BaseException:
            self.close()
            raise
        return self

    def __enter__(self) -> WarmNative:
        return self if self._proc is not None else self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        p = self._proc
        if p is not None and p.poll() is None:
            p.kill()
            p.wait(timeout=10)
        if self._sel is not None:
            self._sel.close()
            self._sel = None
        self._tmp.cleanup()

    # -- the rounds ------------------------------------------------------------------------
    def block(self, ms: float, *, at_least: int = 3, at_most: int = 0, warm: int = 1,
              warm_ms: float = 0.0) -> list[float]:
        """`warm` untimed inferences, more until `warm_ms` passed (re-warm after the pause), then
        inferences back to back for `ms` milliseconds (at least `at_least`, at most `at_most` when
        given): their latencies (ms)."""
        self._send({"cmd": "block", "ms": float(ms), "min": int(at_least), "max": int(at_most), "warm": int(warm),
                    "warm_ms": float(warm_ms)})
        got = self._answer(self.timeout_s + ms / 1000, "a block")
        return [float(x) for x in got["latencies_ms"]]

    def finish(self) -> list[np.ndarray]:
        """End the child: its last outputs (the reference for output agreement)."""
        self._send({"cmd": "end"})
        got = self._answer(self.timeout_s, "writing its outputs")
        self.peak_rss_mb = got.get("peak_rss_mb")
        with np.load(self._out) as data:
            self.outputs = [data[f"out{i}"] for i in range(int(got["n_outputs"]))]
        if self._proc is not None:
            self._proc.wait(timeout=10)
        return self.outputs

    def info(self) -> dict[str, Any]:
        """What the child said when it was ready: `setup_ms`, `first_inference_ms`, `warmup_ms`, `runtime`."""
        return dict(self.ready)

    # -- the pipe ---------------------------------------------------------------------------
    def _send(self, obj: dict[str, Any]) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        try:
            self._proc.stdin.write(json.dumps(obj) + "\n")
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise MeasurementError(f"the warm native process ended (exit {self._proc.poll()})") from None

    def _answer(self, timeout_s: float, what: str) -> dict[str, Any]:
        assert self._proc is not None and self._proc.stdout is not None and self._sel is not None
        t_end = time.monotonic() + timeout_s
        while True:
            while "\n" in self._buf:
                line, self._buf = self._buf.split("\n", 1)
                if line.startswith(PREFIX):
                    got = json.loads(line[len(PREFIX):])
                    if "error" in got:
                        raise MeasurementError(f"warm native process: {got['error']}")
                    return got
            left = t_end - time.monotonic()
            if left <= 0:
                raise CommandTimeout(f"the warm native process gave no answer while {what} in {timeout_s:.0f} s")
            if not self._sel.select(min(left, 1.0)):
                if self._proc.poll() is not None:
                    raise MeasurementError(f"the warm native process died while {what} (exit {self._proc.returncode})")
                continue
            chunk = self._proc.stdout.read()
            if chunk:
                self._buf += chunk
            elif self._proc.poll() is not None:
                raise MeasurementError(f"the warm native process died while {what} (exit {self._proc.returncode})")


__all__ = ["MODE", "WarmNative"]
