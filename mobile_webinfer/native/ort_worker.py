"""Child process for one host ONNX Runtime run or profile: JSON spec on stdin, JSON on stdout."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np


def main() -> int:
    from ..errors import MwiError
    from .ort_host import profile_inprocess, run_inprocess

    spec = json.loads(sys.stdin.read())
    inputs = [np.fromfile(p, dtype=np.dtype(dt).newbyteorder("<")).reshape(sh).astype(dt)
              for p, dt, sh in spec["inputs"]]
    try:
        if spec["mode"] == "profile":
            trace = profile_inprocess(Path(spec["model"]), inputs, threads=spec["threads"],
                                      warmups=spec["warmups"], iterations=spec["iterations"],
                                      out_dir=Path(spec["out_dir"]), input_names=spec.get("input_names"))
            print(json.dumps({"trace": str(trace)}))
            return 0
        res = run_inprocess(Path(spec["model"]), inputs, threads=spec["threads"], backend=spec["backend"],
                            warmups=spec["warmups"], iterations=spec["iterations"],
                            min_iterations=spec["min_iterations"], time_budget_s=spec["time_budget_s"],
                            output_names=spec.get("output_names"), input_names=spec.get("input_names"),
                            record_timestamps=bool(spec.get("record_timestamps")))
    except MwiError as exc:
        print(exc.one_line(), file=sys.stderr)
        return 1
    arrays: dict[str, Any] = {f"out{i}": o for i, o in enumerate(res.outputs)}
    np.savez(spec["out"], **arrays)
    meta = res.to_json()
    meta["n_outputs"] = len(res.outputs)
    print(json.dumps(meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
