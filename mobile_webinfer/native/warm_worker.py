"""Child process of a paired cell: the native reference, warm, running blocks on the host's word.

Lines of JSON on stdin, answers on stdout prefixed `MWI ` (a runtime's own prints never pass for
an answer).  First line: the spec (model, inputs, threads, backend, warm-up rule, outputs file);
the child loads the model, runs the first inference and warms up, then answers `ready`.  Then
`{"cmd": "block", "ms": M, "min": K}` runs inferences back to back for M ms (at least K) and
answers their latencies; `{"cmd": "end"}` writes the last outputs and ends.  Between blocks it
waits on stdin: no inference, no CPU.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

PREFIX = "MWI "


def _say(obj: dict[str, Any]) -> None:
    sys.stdout.write(PREFIX + json.dumps(obj) + "\n")
    sys.stdout.flush()


#: re-warm: at most this many untimed inferences, however short (as the page: targets/pairing.py)
WARM_CAP = 100


def block(invoke: Any, ms: float, at_least: int, at_most: int = 0, warm: int = 0,
          warm_ms: float = 0.0) -> tuple[list[float], Any]:
    """`warm` untimed inferences, more until `warm_ms` passed (re-warm after the pause), then
    inferences back to back for `ms` milliseconds (at least `at_least`, at most `at_most` when
    given): their latencies."""
    lat: list[float] = []
    out = None
    w, tw = 0, time.perf_counter()
    while w < warm or (warm_ms > 0 and w < WARM_CAP and (time.perf_counter() - tw) * 1000 < warm_ms):
        out = invoke()
        w += 1
    t0 = time.perf_counter()
    while len(lat) < at_least or ((time.perf_counter() - t0) * 1000 < ms and (not at_most or len(lat) < at_most)):
        t = time.perf_counter()
        out = invoke()
        lat.append(round((time.perf_counter() - t) * 1000, 4))
    return lat, out


def main() -> int:
    from ..errors import MwiError
    from ..stats import WarmupRule, warm_up
    from .host import _peak_rss_mb, load_invoker

    spec = json.loads(sys.stdin.readline())
    inputs = [np.fromfile(p, dtype=np.dtype(dt).newbyteorder("<")).reshape(sh).astype(dt)
              for p, dt, sh in spec["inputs"]]
    try:
        invoke, setup_ms, version = load_invoker(Path(spec["model"]), inputs, threads=spec["threads"],
                                                 backend=spec["backend"], output_names=spec.get("output_names"),
                                                 input_names=spec.get("input_names"))
        t = time.perf_counter()
        outputs = invoke()
        first_ms = (time.perf_counter() - t) * 1000
        w = int(spec.get("warmups", 3))
        rule = WarmupRule(min_runs=w, max_runs=max(w, int(spec.get("max_warmups") or w)),
                          window=int(spec.get("warmup_window", 5)), drift=float(spec.get("warmup_drift", 0.05)),
                          max_time_s=float(spec.get("warmup_time_s", 5.0)))
        warm, converged = warm_up(invoke, rule, time.perf_counter)
    except MwiError as exc:
        _say({"error": exc.one_line()})
        return 1
    _say({"ready": True, "setup_ms": setup_ms, "first_inference_ms": first_ms, "warmup_ms": warm,
          "warmup_converged": converged, "runtime": version})
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd.get("cmd") == "block":
            lat, out = block(invoke, float(cmd.get("ms", 500)), int(cmd.get("min", 3)), int(cmd.get("max", 0)),
                             int(cmd.get("warm", 0)), float(cmd.get("warm_ms", 0.0)))
            if out is not None:
                outputs = out
            _say({"latencies_ms": lat})
        elif cmd.get("cmd") == "end":
            arrays: dict[str, Any] = {f"out{i}": np.array(o) for i, o in enumerate(outputs)}
            np.savez(spec["out"], **arrays)
            _say({"n_outputs": len(outputs), "peak_rss_mb": _peak_rss_mb()})
            return 0
        else:
            _say({"error": f"unknown command {cmd.get('cmd')!r}"})
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
