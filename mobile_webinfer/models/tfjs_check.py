"""Check a converted TF.js graph model by running it in Node (cpu and wasm backends).

Uses the pages' pinned npm packages (``pages/node_modules``, or ``MWI_NODE_MODULES``).
When Node or those packages are absent the check is recorded as not run (the browser
pages still check agreement at sweep time); a backend that runs but disagrees, or fails,
fails the build.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..agreement import output_scale
from ..errors import ModelError
from ..paths import PAGES_DIR

SCRIPT = Path(__file__).with_name("tfjs_check.js")
BACKENDS = ("cpu", "wasm")
# The pure-JS cpu backend runs ~1 GFLOP/s: above this many FLOPs only wasm is checked.
CPU_BACKEND_MAX_FLOPS = 20e9


def plan(flops: int | None) -> tuple[tuple[str, ...], float]:
    """Backends to run and the time allowed, from the model's FLOPs."""
    f = float(flops or 0)
    backends = BACKENDS if f <= CPU_BACKEND_MAX_FLOPS else ("wasm",)
    return backends, min(3600.0, 300.0 + f / 2e8)


def node_modules_dir() -> Path | None:
    env = os.environ.get("MWI_NODE_MODULES")
    cand = Path(env) if env else PAGES_DIR / "node_modules"
    needed = ("@tensorflow/tfjs-core", "@tensorflow/tfjs-converter", "@tensorflow/tfjs-backend-cpu",
              "@tensorflow/tfjs-backend-wasm")
    if all((cand / n / "package.json").is_file() for n in needed):
        return cand
    return None


def check_tfjs_model(model_json: Path, io: dict[str, list[str]], inputs: Sequence[np.ndarray],
                     ref: Sequence[np.ndarray], tol: float, name: str, flops: int | None = None) -> dict[str, Any]:
    """Run the model on each Node backend; returns {"checked", "backends": {b: {ok, max_abs_diff|error}},
    "max_abs_diff", "ok"}.  Raises ModelError when a backend fails or disagrees with Keras."""
    node = shutil.which("node")
    mods = node_modules_dir()
    if node is None or mods is None:
        why = "node not found" if node is None else "TF.js npm packages not installed (pages/node_modules)"
        return {"checked": False, "ok": None, "reason": why}
    with tempfile.TemporaryDirectory(prefix="mwi-tfjs-check-") as td:
        req_inputs = []
        for i, (tname, arr) in enumerate(zip(io["inputs"], inputs, strict=True)):
            p = Path(td) / f"in{i}.bin"
            a = np.ascontiguousarray(arr.astype("<i4" if arr.dtype.kind in "iu" else "<f4"))
            p.write_bytes(a.tobytes())
            req_inputs.append({"name": tname.split(":")[0], "path": str(p), "shape": list(arr.shape),
                               "dtype": "int32" if arr.dtype.kind in "iu" else "float32"})
        req = Path(td) / "req.json"
        backends, timeout_s = plan(flops)
        req.write_text(json.dumps({"backends": list(backends), "inputs": req_inputs,
                                   "outputs": [o for o in io["outputs"]]}))
        try:
            proc = subprocess.run([node, str(SCRIPT), str(mods), str(model_json), str(req)], capture_output=True,
                                  text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired as exc:
            raise ModelError(f"{name}: TF.js check in node timed out after {timeout_s:.0f}s") from exc
    if proc.returncode != 0:
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])[:400]
        raise ModelError(f"{name}: TF.js check in node failed (exit {proc.returncode}): {tail}")
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise ModelError(f"{name}: TF.js check in node printed no result")
    results = json.loads(lines[-1])["results"]
    out: dict[str, Any] = {"checked": True, "backends": {}}
    worst = 0.0
    for backend in backends:
        r = results.get(backend) or {"ok": False, "error": "no result"}
        if not r.get("ok"):
            raise ModelError(f"{name}: TF.js {backend} backend (node) failed: {r.get('error')}")
        diff = 0.0
        for j, (flat, refo) in enumerate(zip(r["outputs"], ref, strict=True)):
            got = np.asarray(flat, dtype=np.float64)
            if got.size != refo.size:
                raise ModelError(f"{name}: TF.js {backend} output {j} has {got.size} values, Keras {refo.size}")
            d = float(np.max(np.abs(got - refo.astype(np.float64).ravel()))) if got.size else 0.0
            scale = output_scale(refo)
            if not np.isfinite(d) or d > tol * scale:
                raise ModelError(f"{name}: TF.js {backend} output {j} differs from Keras by {d:.3g} "
                                 f"(allowed {tol * scale:.3g})")
            diff = max(diff, d)
        out["backends"][backend] = {"ok": True, "max_abs_diff": diff}
        worst = max(worst, diff)
    out["max_abs_diff"] = worst
    out["ok"] = True
    return out
