"""Which cells can give a per-operator profile (`mwi sweep --profile-ops`), and the page's profile
as a `ProfileCapture`.  Shared by every target: the same runtime / backend profiles (or says why
not) on this computer and on a phone.

A profile is only taken where the runtime times each kernel by wall clock on the CPU, so that its
operator sum can be set against the unprofiled whole inference and against a native CPU kernel:
TF.js wasm / cpu (`tf.profile`), ONNX Runtime Web wasm (its session profiler), ONNX Runtime
natively (its profiler) and TFLite's `benchmark_model --enable_op_profiling=true` on phones.
"""

from __future__ import annotations

import json

from ..errors import MeasurementError
from ..records import CellRecord
from ..vocab import NATIVE_RUNTIME, ORT_NATIVE_RUNTIME, Cell
from .contract import ProfileCapture

PROFILE_WARMUPS = 3  # native profiled processes: warm-up inferences inside the export, skipped by the parser
PROFILE_RUNS = 20    # profiled inferences (the page profiles min(iterations, 20) after its warm-ups)

#: browser runtime -> backends whose page profiles operators by wall clock
PAGE_PROFILERS: dict[str, tuple[str, ...]] = {"tfjs": ("wasm", "cpu"), "ort": ("wasm",), "litert": ("wasm",)}

GPU_KERNEL_TIMES = ("{rt} on {be}: kernel times are GPU timer queries or CPU-side dispatch, not wall time per "
                    "kernel, so an operator sum is not comparable with the whole inference or a native CPU "
                    "kernel; not profiled")
NO_PROFILER = {
    "tflite": "tfjs-tflite 0.0.1-alpha.10 exposes no per-operator profiler",
    # the page's own words for wasm (pages/adapters/litert.js PROFILER_MISSING); the same for every backend
    "litert": "@litertjs/core 2.5.3 exposes no per-operator profiler (no profiling option or binding in its JS API)",
}
HOST_LITERT = ("LiteRT's Python interpreter (ai_edge_litert) has no per-operator profiler; on this computer the "
               "native operators come from ONNX Runtime (ort-native)")


def profile_gap(cell: Cell, *, phone: bool) -> str:
    """Why `cell` gives no per-operator profile ("" when it does)."""
    if cell.is_native:
        if cell.runtime == NATIVE_RUNTIME:
            return "" if phone else HOST_LITERT
        if cell.runtime == ORT_NATIVE_RUNTIME:
            return "ONNX Runtime native cells run on this computer only" if phone else ""
        return f"no per-operator profiler for native runtime {cell.runtime!r}"
    if cell.runtime in NO_PROFILER and cell.backend not in PAGE_PROFILERS.get(cell.runtime, ()):
        return NO_PROFILER[cell.runtime]
    if cell.backend in PAGE_PROFILERS.get(cell.runtime, ()):
        return ""
    return GPU_KERNEL_TIMES.format(rt=cell.runtime, be=cell.backend)


def capture_from_page(cell: Cell, rec: CellRecord) -> ProfileCapture:
    """The profiled page load's `op_profile` (the page's raw export), or its `unsupported` reason."""
    prof = (rec.extra.get("page") or {}).get("op_profile")
    if rec.ok and isinstance(prof, dict) and prof.get("runs"):
        return ProfileCapture(source=str(prof.get("source") or ""), raw=json.dumps(prof["runs"]),
                              skip_runs=int(prof.get("skip_runs") or 0))
    if rec.error_kind == "unsupported":
        return ProfileCapture(unsupported=(rec.error or "unsupported").removeprefix("unsupported: "))
    raise MeasurementError(f"{cell.key}: no per-operator profile: {rec.error or 'the page posted none'}")


__all__ = ["HOST_LITERT", "NO_PROFILER", "PAGE_PROFILERS", "PROFILE_RUNS", "PROFILE_WARMUPS", "capture_from_page", "profile_gap"]
