"""Build a zoo model: seeded Keras model -> SavedModel -> every format -> checks -> manifest.

Builds go into a hidden temp folder next to the final one and are renamed into place at
the end, so a crash never leaves a half model that looks built.  A lock file per model
keeps two concurrent builds of the same model apart.  ``ensure_built`` is idempotent and
fast when the model is already built.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ..agreement import output_scale
from ..errors import ModelError, UsageError
from ..paths import models_dir as default_models_dir
from . import convert
from .archs import Arch
from .catalog import check_model_name, get_arch, validate_model_name
from .inputs import make_inputs, write_bin
from .isolated import native_chatter_filtered
from .manifest import SCHEMA_VERSION, ModelManifest, file_entry, write_manifest
from .manifest import load_manifest_for_build as load_manifest

DEFAULT_SEED = 0
# Bump when the conversion pipeline changes in a way that changes the files: cached builds
# made by an older pipeline are then rebuilt.
PIPELINE_VERSION = 2
Progress = Callable[[str], None]

# Max |diff| allowed per output, as a fraction of that output's peak |reference| value.
TOLERANCES = {"tflite": 1e-4, "onnx": 1e-4, "tfjs": 1e-4, "tflite_fp16": 2e-2, "tflite_int8": 0.5}


KNOWN_RUNTIME_SUPPORT = {
    "tflite": "loads in ai-edge-litert (host), TFLite benchmark_model and @tensorflow/tfjs-tflite",
    "tflite_fp16": "float16 weights dequantized at load; same loaders as fp32",
    "tflite_int8": (
        "dynamic-range int8 written by TF 2.21 uses newer op versions: loads in ai-edge-litert 2.3 here; "
        "@tensorflow/tfjs-tflite 0.0.1-alpha.10, tflite-runtime 2.14 and older phones' TFLite may refuse "
        "it (\"Can't initialize model\")"
    ),
    "tfjs": "TF.js graph model, one weight shard; fused-op biases flattened to rank 1 for the wasm backend",
    "onnx": f"opset {convert.ONNX_OPSET}, static batch-1 shapes (onnxruntime / onnxruntime-web)",
}


def quiet_tensorflow() -> None:
    """Keep TensorFlow's C++ info/warning logs off the terminal (unless the user set the level).

    Effective only before TensorFlow is first imported; MWI_DEBUG keeps every log.
    """
    if os.environ.get("MWI_DEBUG"):
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # conversion prints harmless E-level noise
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    import logging

    for name in ("tensorflow", "absl", "tf2onnx", "h5py"):  # deprecation chatter; failures still raise
        logging.getLogger(name).setLevel(logging.ERROR)


@contextlib.contextmanager
def model_lock(name: str, models_dir: Path) -> Iterator[None]:
    """Exclusive per-model build lock (``<models_dir>/.locks/<name>.lock``); blocks until free."""
    lock_dir = models_dir / ".locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / f"{name}.lock", "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _wanted_formats(formats: Sequence[str] | None) -> list[str]:
    if not formats:
        return list(convert.FORMATS)
    bad = [f for f in formats if f not in convert.FORMATS]
    if bad:
        raise UsageError(f"unknown format(s) {', '.join(bad)}; known: {', '.join(convert.FORMATS)}")
    return [f for f in convert.FORMATS if f in formats]


def is_current(m: ModelManifest | None, *, version: int, seed: int, formats: Sequence[str]) -> bool:
    """True when ``m`` was built by this architecture version, pipeline version and seed, with every
    wanted format on disk."""
    if m is None or m.user_model:
        return False
    d = m.data
    if d.get("schema_version") != SCHEMA_VERSION or d.get("arch_version") != version or d.get("seed") != seed:
        return False
    if d.get("pipeline_version") != PIPELINE_VERSION:
        return False
    if any(f not in (d.get("files") or {}) for f in formats):
        return False
    return not m.verify_files()


def needs_build(name: str, *, models_dir: Path | None = None, formats: Sequence[str] | None = None,
                seed: int = DEFAULT_SEED) -> bool:
    """True when ``ensure_built`` would build (not built, stale, or files missing)."""
    existing = load_manifest(validate_model_name(name), models_dir)
    if existing is not None and existing.user_model:
        return False
    spec = get_arch(name).spec
    return not is_current(existing, version=spec.version, seed=seed, formats=_wanted_formats(formats))


def ensure_built(name: str, *, models_dir: Path | None = None, force: bool = False,
                 progress: Progress | None = None, formats: Sequence[str] | None = None,
                 seed: int = DEFAULT_SEED) -> ModelManifest:
    """Build ``name`` unless already built (idempotent); return its manifest.

    A user-added model (``mwi models add``) is returned as it is.  ``force`` rebuilds.
    ``progress`` is called with a short label at each stage.
    """
    validate_model_name(name)
    root = Path(models_dir or default_models_dir())
    existing = load_manifest(name, root)
    if existing is not None and existing.user_model:
        return existing
    check_model_name(name, root)  # unknown: one error listing the zoo and user models
    arch = get_arch(name)
    want = _wanted_formats(formats)
    if not formats:  # formats this architecture cannot be converted to here, unless asked for by name
        want = [f for f in want if f not in arch.spec.skip_formats]
    if not force and is_current(existing, version=arch.spec.version, seed=seed, formats=want):
        return existing  # type: ignore[return-value]
    root.mkdir(parents=True, exist_ok=True)
    with model_lock(name, root):
        existing = load_manifest(name, root)  # another process may have built it meanwhile
        if not force and is_current(existing, version=arch.spec.version, seed=seed, formats=want):
            return existing  # type: ignore[return-value]
        return build_arch(arch, root, want, seed, progress or (lambda _s: None))


def build_arch(arch: Arch, root: Path, formats: Sequence[str], seed: int = DEFAULT_SEED,
               progress: Progress | None = None) -> ModelManifest:
    """Build ``arch`` into ``root/<name>`` unconditionally (callers hold the model lock).

    TensorFlow's C++ start-up chatter is kept off the terminal (`isolated.native_chatter_filtered`)."""
    with native_chatter_filtered():
        return _build_arch(arch, root, formats, seed, progress)


def _build_arch(arch: Arch, root: Path, formats: Sequence[str], seed: int = DEFAULT_SEED,
               progress: Progress | None = None) -> ModelManifest:
    """Build ``arch`` into ``root/<name>`` unconditionally (callers hold the model lock)."""
    progress = progress or (lambda _s: None)
    formats = _wanted_formats(formats)
    spec = arch.spec
    name = spec.name
    t0 = time.monotonic()
    remove_stale_temps(name, root)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.build-", dir=root))
    os.chmod(tmp, 0o755)  # mkdtemp makes 0700; the final model folder is readable like any cache
    work = Path(tempfile.mkdtemp(prefix=f".{name}.work-", dir=root))
    try:
        progress("keras")
        quiet_tensorflow()
        model = arch.build(seed)
        _realistic_weights(model, seed)
        check_distinct_weights(model, name)
        params = int(model.count_params())
        inputs = make_inputs(spec.inputs, seed)
        ref = _keras_outputs(model, inputs)

        progress("savedmodel")
        saved = work / "saved_model"
        out_names = convert.export_saved_model(model, spec, saved)
        if len(out_names) != len(ref):
            raise ModelError(f"{name}: {len(ref)} Keras outputs, {len(out_names)} signature outputs")
        model = None  # everything below reads the SavedModel: free the Keras copy first
        _release_keras()
        call = _caller(isolate=params >= ISOLATE_PARAMS)
        from .flops import count_flops_saved_model

        try:
            flops = call(count_flops_saved_model, saved)
        except Exception:  # noqa: BLE001 - FLOPs are informative; a profiler failure is not a build failure
            flops = None

        files: dict[str, Any] = {}
        io_names: dict[str, Any] = {}
        verification: dict[str, Any] = {}
        notes = list(spec.notes)
        runtime_support = {f: KNOWN_RUNTIME_SUPPORT[f] for f in formats}
        runtime_support.update(spec.runtime_support)

        for fmt in formats:
            progress(fmt)
            if fmt in convert.TFLITE_VARIANTS:
                rel = convert.TFLITE_FILES[fmt]
                call(convert.to_tflite, saved, tmp / rel, convert.TFLITE_VARIANTS[fmt])
                names = convert.tflite_io_names(tmp / rel)
                _check_signature(name, fmt, names, spec, out_names)
                io_names[fmt] = {"inputs": names["inputs"], "outputs": names["outputs"]}
                got = run_tflite(tmp / rel, names, inputs)
                files[fmt] = file_entry(tmp, rel)
            elif fmt == "onnx":
                call(convert.to_onnx, saved, spec, tmp / "model.onnx")
                names = convert.onnx_io_names(tmp / "model.onnx")
                in_names = [i.name for i in spec.inputs]
                if sorted(names["inputs"]) != sorted(in_names) or sorted(names["outputs"]) != sorted(out_names):
                    raise ModelError(f"{name}: ONNX io names {names} differ from {in_names} / {out_names}")
                io_names[fmt] = {"inputs": in_names, "outputs": list(out_names)}  # ONNX names are canonical
                got = run_onnx(tmp / "model.onnx", io_names[fmt], inputs)
                files[fmt] = file_entry(tmp, "model.onnx")
            elif fmt == "tfjs":
                info = call(convert.to_tfjs, saved, tmp / "tfjs", [i.name for i in spec.inputs], out_names)
                mj = json.loads((tmp / "tfjs" / "model.json").read_text())
                names = convert.tfjs_io_names(mj, [i.name for i in spec.inputs], out_names)
                io_names[fmt] = {"inputs": names["inputs"], "outputs": names["outputs"]}
                files[fmt] = _tfjs_files(tmp, mj)
                verification[fmt] = {"ops": info["ops"], "fixes": info["fixes"], "risky_ops": info["risky_ops"]}
                if info["risky_ops"]:
                    notes.append("TF.js graph has ops with known backend gaps: " +
                                 ", ".join(f"{k} ({v})" for k, v in info["risky_ops"].items()))
                got = None
            else:  # pragma: no cover - _wanted_formats guards this
                raise UsageError(f"unknown format {fmt}")
            if got is not None:
                verification[fmt] = compare_outputs(name, fmt, ref, got, out_names)
            if fmt in convert.TFLITE_VARIANTS:
                verification[fmt]["op_versions"] = convert.tflite_ops(tmp / convert.TFLITE_FILES[fmt])

        if "tfjs" in formats:
            progress("tfjs-check")
            from .tfjs_check import check_tfjs_model

            verification["tfjs"].update(check_tfjs_model(tmp / "tfjs" / "model.json", io_names["tfjs"], inputs,
                                                         ref, TOLERANCES["tfjs"], name, flops))

        progress("manifest")
        sample_inputs = []
        for i, (ispec, arr) in enumerate(zip(spec.inputs, inputs, strict=True)):
            rel = f"input_{i}.bin"
            write_bin(arr, tmp / rel)
            sample_inputs.append({"name": ispec.name, "path": rel, "shape": list(arr.shape),
                                  "dtype": str(arr.dtype), "seed": seed, "sha256": file_entry(tmp, rel)["sha256"]})
        reference_outputs = []
        for j, (oname, arr) in enumerate(zip(out_names, ref, strict=True)):
            rel = f"reference_output_{j}.bin"
            write_bin(arr, tmp / rel)
            reference_outputs.append({"name": oname, "path": rel, "shape": list(arr.shape), "dtype": str(arr.dtype)})

        data = {
            "schema_version": SCHEMA_VERSION,
            "name": name,
            "task": spec.task,
            "architecture": spec.reference or name,
            "arch_version": spec.version,
            "pipeline_version": PIPELINE_VERSION,
            "seed": seed,
            "params": params,
            "reference_params": spec.reference_params,
            "flops": flops,
            "inputs": [i.to_dict() for i in spec.inputs],
            "outputs": [{"name": n, "shape": list(a.shape), "dtype": str(a.dtype)} for n, a in zip(out_names, ref, strict=True)],
            "files": files,
            "io_names": io_names,
            "sample_inputs": sample_inputs,
            "reference_outputs": reference_outputs,
            "verification": verification,
            "converters": convert.converter_versions(),
            "runtime_support": runtime_support,
            "notes": notes,
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "build_seconds": round(time.monotonic() - t0, 3),
            "user_model": False,
        }
        write_manifest(tmp, data)
        final = root / name
        _swap_into_place(tmp, final)
        return ModelManifest(name=name, dir=final, data=data)
    finally:
        model = None  # drop the last reference before clearing the Keras session
        _release_keras()
        shutil.rmtree(work, ignore_errors=True)
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


# From this many parameters up, each conversion runs in a fresh process: converting VGG16
# (138 M) to TF.js in the building process grew it past 17 GB and the OOM killer stopped it.
ISOLATE_PARAMS = 1_000_000  # TF keeps memory across builds in one process: zoo models build in a child


def _caller(isolate: bool) -> Callable[..., Any]:
    """``call(fn, *args)``: in this process, or in a fresh child process that returns its memory."""
    if not isolate:
        return lambda fn, *args: fn(*args)
    from .isolated import call_isolated

    return call_isolated


def remove_stale_temps(name: str, root: Path) -> list[Path]:
    """Delete temp folders a killed build of ``name`` left behind (call with the model lock held)."""
    gone = []
    for kind in ("build", "work", "old", "add"):
        for p in root.glob(f".{name}.{kind}-*"):
            shutil.rmtree(p, ignore_errors=True)
            gone.append(p)
    return gone


def _release_keras() -> None:
    """Free the built model's graphs and weights (so `--all` in one process does not pile them up)."""
    import gc
    import sys

    if "keras" in sys.modules:
        sys.modules["keras"].backend.clear_session()
    gc.collect()


def _swap_into_place(tmp: Path, final: Path) -> None:
    """Rename the finished build over ``final`` (the old folder is moved aside, then removed)."""
    old = None
    if final.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
        os.replace(final, old / "m")
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _realistic_weights(model: Any, seed: int) -> None:
    """Replace the all-zero biases and identity BatchNorm statistics of a freshly initialized
    model by small seeded values.

    Converters fold ``x + 0`` and identity BatchNorm away, so a fresh model would not
    exercise the bias and BN paths a trained model has (e.g. the rank-4 fused bias).
    """
    rng = np.random.default_rng([seed, 7919])
    for layer in model.layers if hasattr(model, "layers") else []:
        _realistic_layer(layer, rng)


DUPLICATE_MIN_ELEMENTS = 4096


def check_distinct_weights(model: Any, name: str) -> None:
    """ModelError when large weight tensors are exact copies of each other.

    Keras 3 gives the same values every time one unseeded initializer instance is reused
    across layers; converters then store those tensors once, so file sizes and memory
    would not be those of a real model.  (Tied weights are one variable: not flagged.)
    """
    import hashlib

    seen: dict[tuple, str] = {}
    dups: list[tuple[str, str]] = []
    for v in model.weights:
        arr = np.asarray(v.numpy() if hasattr(v, "numpy") else v)
        if arr.size < DUPLICATE_MIN_ELEMENTS:
            continue
        key = (arr.shape, str(arr.dtype), hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest())
        path = getattr(v, "path", getattr(v, "name", "?"))
        if key in seen:
            dups.append((seen[key], path))
        else:
            seen[key] = path
    if dups:
        a, b = dups[0]
        raise ModelError(
            f"{name}: {len(dups)} weight tensors are exact copies of others (e.g. {b} == {a}); converters store "
            "copies once, so sizes and memory would be unrealistic. Give each layer its own initializer "
            "(a reused unseeded Keras 3 initializer returns the same values every call)")


def _realistic_layer(layer: Any, rng: np.random.Generator) -> None:
    if hasattr(layer, "layers") and layer.layers:  # nested model
        for sub in layer.layers:
            _realistic_layer(sub, rng)
        return
    if layer.__class__.__name__ == "BatchNormalization":
        ranges = {"gamma": (0.8, 1.2), "beta": (-0.1, 0.1), "moving_mean": (-0.1, 0.1),
                  "moving_variance": (0.8, 1.2)}
        weights = layer.get_weights()
        for i, v in enumerate(layer.weights):
            lo_hi = ranges.get(v.path.rsplit("/", 1)[-1])
            if lo_hi is not None:
                weights[i] = rng.uniform(*lo_hi, size=weights[i].shape).astype(weights[i].dtype)
        layer.set_weights(weights)
        return
    changed = False
    weights = layer.get_weights()
    for i, v in enumerate(layer.weights):
        if v.path.rsplit("/", 1)[-1] == "bias" and not np.any(weights[i]):
            weights[i] = rng.uniform(-0.05, 0.05, weights[i].shape).astype(weights[i].dtype)
            changed = True
    if changed:
        layer.set_weights(weights)


def _keras_outputs(model: Any, inputs: list[np.ndarray]) -> list[np.ndarray]:
    out = model(inputs if len(inputs) > 1 else inputs[0], training=False)
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    return [np.asarray(o) for o in outs]


def _check_signature(name: str, fmt: str, names: dict[str, Any], spec: Any, out_names: list[str]) -> None:
    sig = names.get("signature")
    want_in = [i.name for i in spec.inputs]
    if not sig or sorted(sig["inputs"]) != sorted(want_in) or sorted(sig["outputs"]) != sorted(out_names):
        raise ModelError(f"{name}: {fmt} signature {sig} does not match inputs {want_in} / outputs {out_names}")
    # Reorder tensor names into canonical order.
    tin = dict(zip(sig["inputs"], names["inputs"], strict=True))
    tout = dict(zip(sig["outputs"], names["outputs"], strict=True))
    names["inputs"] = [tin[n] for n in want_in]
    names["outputs"] = [tout[n] for n in out_names]
    names["signature"] = {"inputs": want_in, "outputs": list(out_names)}


def run_tflite(path: Path, names: dict[str, Any], inputs: list[np.ndarray], threads: int = 1) -> list[np.ndarray]:
    """Run a .tflite once by tensor name; outputs in the order of ``names['outputs']``."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path), num_threads=threads)
    it.allocate_tensors()
    by_name_in = {d["name"]: d["index"] for d in it.get_input_details()}
    by_name_out = {d["name"]: d["index"] for d in it.get_output_details()}
    for tname, arr in zip(names["inputs"], inputs, strict=True):
        it.set_tensor(by_name_in[tname], arr)
    it.invoke()
    return [np.array(it.get_tensor(by_name_out[t])) for t in names["outputs"]]


def run_onnx(path: Path, names: dict[str, Any], inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Run an .onnx once with onnxruntime (CPU); outputs in the order of ``names['outputs']``."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    outs = sess.run(list(names["outputs"]), dict(zip(names["inputs"], inputs, strict=True)))
    return [np.asarray(o) for o in outs]


def compare_outputs(name: str, fmt: str, ref: list[np.ndarray], got: list[np.ndarray],
                    out_names: Sequence[str]) -> dict[str, Any]:
    """Max |diff| of ``got`` against the reference; ModelError when past the format's tolerance."""
    tol = TOLERANCES[fmt]
    worst = 0.0
    per_output = {}
    ok = True
    for oname, r, g in zip(out_names, ref, got, strict=True):
        if tuple(r.shape) != tuple(g.shape):
            raise ModelError(f"{name}: {fmt} output {oname} has shape {list(g.shape)}, Keras {list(r.shape)}")
        diff = float(np.max(np.abs(r.astype(np.float64) - g.astype(np.float64)))) if r.size else 0.0
        if not np.isfinite(diff):
            diff = float("inf")
        scale = output_scale(r)
        per_output[oname] = diff
        worst = max(worst, diff)
        if diff > tol * scale:
            ok = False
            bad = (oname, diff, tol * scale)
    result = {"max_abs_diff": worst, "ok": ok, "tolerance_rel": tol, "per_output": per_output}
    if not ok:
        raise ModelError(f"{name}: {fmt} output {bad[0]} differs from Keras by {bad[1]:.3g} "
                         f"(allowed {bad[2]:.3g})")
    return result


def _tfjs_files(tmp: Path, model_json: dict[str, Any]) -> dict[str, Any]:
    main = file_entry(tmp, "tfjs/model.json")
    weights = []
    for group in model_json.get("weightsManifest", []):
        for p in group.get("paths", []):
            weights.append(file_entry(tmp, f"tfjs/{p}"))
    main["bytes"] = main["bytes"] + sum(w["bytes"] for w in weights)
    main["weights"] = weights
    return main
