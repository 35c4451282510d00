"""Child process for one host-native run: JSON spec on stdin, JSON summary on stdout.

The request / timed run / reply steps are shared with the ONNX Runtime worker (ort_worker.py).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def read_request() -> tuple[dict[str, Any], list[np.ndarray]]:
    """The JSON spec from stdin and its input tensors (little-endian raw files)."""
    spec = json.loads(sys.stdin.read())
    inputs = [np.fromfile(p, dtype=np.dtype(dt).newbyteorder("<")).reshape(sh).astype(dt)
              for p, dt, sh in spec["inputs"]]
    return spec, inputs


def timed_run(run_inprocess: Callable[..., Any], spec: dict[str, Any], inputs: list[np.ndarray]) -> Any:
    """One runtime's `run_inprocess` with the spec's settings (raises MwiError)."""
    return run_inprocess(Path(spec["model"]), inputs, threads=spec["threads"], backend=spec["backend"],
                         warmups=spec["warmups"], iterations=spec["iterations"],
                         min_iterations=spec["min_iterations"], time_budget_s=spec["time_budget_s"],
                         output_names=spec.get("output_names"), input_names=spec.get("input_names"),
                         record_timestamps=bool(spec.get("record_timestamps")), stopping=spec.get("stopping"))


def reply(res: Any, spec: dict[str, Any]) -> int:
    """Outputs to the spec's .npz, the summary as JSON on stdout."""
    arrays: dict[str, Any] = {f"out{i}": o for i, o in enumerate(res.outputs)}
    np.savez(spec["out"], **arrays)
    meta = res.to_json()
    meta["n_outputs"] = len(res.outputs)
    print(json.dumps(meta))
    return 0


def main() -> int:
    from ..errors import MwiError
    from .host import run_inprocess

    spec, inputs = read_request()
    try:
        res = timed_run(run_inprocess, spec, inputs)
    except MwiError as exc:
        print(exc.one_line(), file=sys.stderr)
        return 1
    return reply(res, spec)


if __name__ == "__main__":
    sys.exit(main())
