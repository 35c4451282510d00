"""Child process for one host ONNX Runtime run or profile: JSON spec on stdin, JSON on stdout."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> int:
    from ..errors import MwiError
    from .host_worker import read_request, reply, timed_run
    from .ort_host import profile_inprocess, run_inprocess

    spec, inputs = read_request()
    try:
        if spec["mode"] == "profile":
            trace = profile_inprocess(Path(spec["model"]), inputs, threads=spec["threads"],
                                      warmups=spec["warmups"], iterations=spec["iterations"],
                                      out_dir=Path(spec["out_dir"]), input_names=spec.get("input_names"))
            print(json.dumps({"trace": str(trace)}))
            return 0
        res = timed_run(run_inprocess, spec, inputs)
    except MwiError as exc:
        print(exc.one_line(), file=sys.stderr)
        return 1
    return reply(res, spec)


if __name__ == "__main__":
    sys.exit(main())
