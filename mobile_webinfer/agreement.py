"""Output agreement: browser outputs against native outputs for the same seeded input.

The page sends each output either whole (`values`) or as a deterministic strided sample
(`sample`, `stride`): element i of the sample is element i*stride of the flat output.
"""

from __future__ import annotations

import math

import numpy as np


def output_scale(ref: np.ndarray) -> float:
    """Peak |value| of a reference output (tiny floor so an all-zero output still compares)."""
    return max(float(np.max(np.abs(ref))) if ref.size else 0.0, 1e-6)


def strided_max_abs_diff(values: np.ndarray, stride: int, reference: np.ndarray) -> float | None:
    """max |values[i] - reference.flat[i * stride]| (the page's whole output: stride 1); None when the
    sample does not fit the reference.  The one comparison rule of every agreement in mwi."""
    ref = np.asarray(reference, dtype=np.float64).ravel()[::max(1, stride)][: values.size]
    if ref.size != values.size:
        return None
    diff = float(np.max(np.abs(np.asarray(values, dtype=np.float64) - ref))) if values.size else 0.0
    return diff if math.isfinite(diff) else float("inf")


def _page_values(out: dict) -> tuple[np.ndarray, int] | None:
    if out.get("values") is not None:
        return np.asarray(out["values"], dtype=np.float64), 1
    if out.get("sample") is not None:
        return np.asarray(out["sample"], dtype=np.float64), int(out.get("stride") or 1)
    return None


def compare(page_outputs: list[dict], native_outputs: list[np.ndarray], *, task: str = "") -> dict:
    """max |browser - native| over every compared element, top-1 match for classifiers."""
    if len(page_outputs) != len(native_outputs):
        return {"ok": False, "reason": f"{len(page_outputs)} browser outputs vs {len(native_outputs)} native",
                "max_abs_diff": None, "top1_match": None}
    per, worst, compared = [], 0.0, 0
    top1 = None
    for i, (po, no) in enumerate(zip(page_outputs, native_outputs, strict=True)):
        flat = np.asarray(no, dtype=np.float64).ravel()
        got = _page_values(po)
        if got is None:
            return {"ok": False, "reason": f"output {i} carries no values", "max_abs_diff": None,
                    "top1_match": None}
        vals, stride = got
        ref = flat[::stride][: vals.size]
        found = strided_max_abs_diff(vals, stride, flat)
        if found is None:
            return {"ok": False, "reason": f"output {i}: {vals.size} values vs {ref.size} native",
                    "max_abs_diff": None, "top1_match": None}
        diff = found
        worst = max(worst, diff)
        compared += int(vals.size)
        scale = float(np.max(np.abs(ref))) if ref.size else 0.0
        per.append({"name": po.get("name"), "max_abs_diff": diff, "compared": int(vals.size),
                    "stride": stride, "ref_max_abs": scale})
        if i == 0 and task == "classification":
            page_top = po.get("topk") or []
            if page_top:
                top1 = int(page_top[0][0]) == int(np.argmax(flat))
            elif stride == 1:
                top1 = int(np.argmax(vals)) == int(np.argmax(flat))
    return {"ok": True, "max_abs_diff": worst if math.isfinite(worst) else None, "top1_match": top1,
            "compared_elements": compared, "outputs": per}


#: relative tolerance (of the reference output's peak |value|) a browser backend's outputs may differ by
#: before the cell is `invalid`: GPU backends compute in fp16 on many phones; the CPU ones in fp32.  A
#: model's manifest may set its own (`agreement_tolerance_rel`).  Far wider than rounding: a cell past it
#: computed something else (a lost GPU context, a broken kernel), and its fast number is not published.
DISAGREE = "outputs-disagree"
TOLERANCE_REL = {"webgl": 0.1, "webgpu": 0.1, "gpu": 0.1}
DEFAULT_TOLERANCE_REL = 0.02


def tolerance_for(backend: str, model_tolerance: float | None = None) -> float:
    if isinstance(model_tolerance, (int, float)) and not isinstance(model_tolerance, bool) and model_tolerance > 0:
        return float(model_tolerance)
    return TOLERANCE_REL.get(backend, DEFAULT_TOLERANCE_REL)


def disagreement(result: dict, tol_rel: float) -> str | None:
    """Why `compare`'s result is past the tolerance (`outputs-disagree: output logits differs by 0.8 of
    its peak 1.0 (allowed 0.1 relative)`), else None.  A comparison that could not be made says nothing."""
    if not result.get("ok"):
        return None
    for i, o in enumerate(result.get("outputs") or []):
        diff, peak = o.get("max_abs_diff"), max(float(o.get("ref_max_abs") or 0.0), 1e-6)
        if diff is not None and (not math.isfinite(diff) or diff > tol_rel * peak):
            return (f"{DISAGREE}: output {o.get('name') or i} differs from the reference by {diff:.3g} "
                    f"(peak |value| {peak:.3g}; allowed {tol_rel:g} relative)")
    return None
