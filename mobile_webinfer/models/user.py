"""`mwi models add`: register a user's own .tflite / .onnx / TF.js graph model.

The file is copied into ``<models_dir>/<name>/`` with a manifest like a zoo model's:
sha256 and bytes, inputs/outputs read from the file itself, seeded sample inputs, and
reference outputs from running the file once on this computer (TFLite / onnxruntime).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from ..errors import ModelError, UsageError
from ..paths import models_dir as default_models_dir
from .catalog import known_names, validate_model_name
from .inputs import write_bin
from .manifest import SCHEMA_VERSION, ModelManifest, file_entry, file_sha256, load_manifest, write_manifest

SAMPLE_SEED = 0
_TF_DTYPES = {"DT_FLOAT": "float32", "DT_INT32": "int32", "DT_INT64": "int64", "DT_UINT8": "uint8",
              "DT_INT8": "int8", "DT_BOOL": "bool"}
_ORT_DTYPES = {"tensor(float)": "float32", "tensor(int32)": "int32", "tensor(int64)": "int64",
               "tensor(uint8)": "uint8", "tensor(int8)": "int8", "tensor(bool)": "bool",
               "tensor(float16)": "float16"}


def detect_kind(path: Path) -> str:
    """``tflite``, ``onnx`` or ``tfjs`` (a graph-model model.json); UsageError otherwise."""
    suffix = path.suffix.lower()
    if suffix == ".tflite":
        return "tflite"
    if suffix == ".onnx":
        return "onnx"
    if suffix == ".json":
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise UsageError(f"{path}: not readable JSON ({exc})") from exc
        if not isinstance(data, dict) or "modelTopology" not in data or "weightsManifest" not in data:
            raise UsageError(f"{path}: not a TF.js model.json (needs modelTopology and weightsManifest)")
        if data.get("format") not in (None, "graph-model"):
            raise UsageError(f"{path}: TF.js {data.get('format')!r}; only graph models are supported")
        return "tfjs"
    raise UsageError(f"{path}: unsupported model file (use .tflite, .onnx or a TF.js model.json)")


def default_name(path: Path, kind: str) -> str:
    stem = path.resolve().parent.name if kind == "tfjs" and path.stem == "model" else path.stem
    name = re.sub(r"[^a-z0-9_]+", "_", stem.lower()).strip("_")
    if not name or not name[0].isalpha():
        name = f"m_{name}" if name else "user_model"
    return name[:64]


def _static_shape(shape: Any, what: str) -> list[int]:
    """A fixed shape: a dynamic first (batch) dimension becomes 1; other dynamic dims fail."""
    out = []
    for i, d in enumerate(shape):
        if isinstance(d, (int, np.integer)) and int(d) > 0:
            out.append(int(d))
        elif i == 0:
            out.append(1)
        else:
            raise UsageError(f"{what}: dimension {i} is dynamic ({d!r}); give the model static shapes")
    return out


def _tflite_io(path: Path) -> tuple[list[dict], list[dict], dict[str, list[str]], int | None]:
    from ai_edge_litert.interpreter import Interpreter

    try:
        it = Interpreter(model_path=str(path))
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"{path}: TFLite cannot load it: {exc}") from exc
    sigs = it.get_signature_list()
    if len(sigs) == 1:
        key = next(iter(sigs))
        runner = it.get_signature_runner(key)
        ins, outs = runner.get_input_details(), runner.get_output_details()
        inputs = [(k, d) for k, d in ins.items()]
        outputs = [(k, d) for k, d in outs.items()]
    else:
        inputs = [(d["name"], d) for d in it.get_input_details()]
        outputs = [(d["name"], d) for d in it.get_output_details()]

    def desc(k: str, d: dict) -> dict:
        sig = d.get("shape_signature")
        shape = sig if sig is not None and len(sig) else d["shape"]
        return {"name": k, "shape": _static_shape(list(shape), f"input {k}"), "dtype": np.dtype(d["dtype"]).name}

    io = {"inputs": [d["name"] for _, d in inputs], "outputs": [d["name"] for _, d in outputs]}
    return [desc(k, d) for k, d in inputs], [{"name": k} for k, _ in outputs], io, _tflite_params(it)


def _tflite_params(it: Any) -> int | None:
    """Elements of constant tensors (op inputs that no op produces and the model does not take)."""
    try:
        ops = it._get_ops_details()  # noqa: SLF001 - no public API lists op operands
        produced = {t for op in ops for t in op["outputs"]}
        model_inputs = {d["index"] for d in it.get_input_details()}
        consts = {t for op in ops for t in op["inputs"] if t >= 0} - produced - model_inputs
        details = {d["index"]: d for d in it.get_tensor_details()}
        return int(sum(int(np.prod(details[t]["shape"])) for t in consts if t in details))
    except Exception:  # noqa: BLE001 - informative only
        return None


def _onnx_io(path: Path) -> tuple[list[dict], list[dict], dict[str, list[str]], int | None]:
    import onnxruntime as ort

    try:
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"{path}: onnxruntime cannot load it: {str(exc).splitlines()[0][:300]}") from exc
    inputs = []
    for i in sess.get_inputs():
        if i.type not in _ORT_DTYPES:
            raise UsageError(f"{path}: input {i.name} has unsupported type {i.type}")
        inputs.append({"name": i.name, "shape": _static_shape(i.shape, f"input {i.name}"), "dtype": _ORT_DTYPES[i.type]})
    outputs = [{"name": o.name} for o in sess.get_outputs()]
    params = None
    try:
        import onnx

        model = onnx.load(str(path), load_external_data=False)
        params = int(sum(int(np.prod(t.dims)) for t in model.graph.initializer))
    except Exception:  # noqa: BLE001
        pass
    return inputs, outputs, {"inputs": [i["name"] for i in inputs], "outputs": [o["name"] for o in outputs]}, params


def _tfjs_io(path: Path, data: dict) -> tuple[list[dict], list[dict], dict[str, list[str]], int | None]:
    sig = (data.get("userDefinedMetadata") or {}).get("signature") or data.get("signature") or {}
    sin, sout = sig.get("inputs") or {}, sig.get("outputs") or {}
    if not sin or not sout:
        raise UsageError(f"{path}: the model.json has no signature (inputs/outputs); convert it with a signature")
    inputs, outputs = [], []
    for key, t in sin.items():
        dtype = _TF_DTYPES.get(t.get("dtype", ""))
        if dtype is None:
            raise UsageError(f"{path}: input {key} has unsupported dtype {t.get('dtype')}")
        dims = [int(d.get("size", -1)) for d in (t.get("tensorShape") or {}).get("dim", [])]
        inputs.append({"name": key, "shape": _static_shape(dims, f"input {key}"), "dtype": dtype})
    for key, t in sout.items():
        dims = [int(d.get("size", -1)) for d in (t.get("tensorShape") or {}).get("dim", [])]
        outputs.append({"name": key, "shape": dims, "dtype": _TF_DTYPES.get(t.get("dtype", ""), "float32")})
    io = {"inputs": [t["name"] for t in sin.values()], "outputs": [t["name"] for t in sout.values()]}
    params = sum(int(np.prod(w.get("shape") or [1])) for g in data["weightsManifest"] for w in g.get("weights", []))
    return inputs, outputs, io, params


def _tfjs_weight_paths(path: Path, data: dict) -> list[str]:
    out = []
    for group in data["weightsManifest"]:
        for p in group.get("paths", []):
            pp = PurePosixPath(p)
            if pp.is_absolute() or ".." in pp.parts or "\\" in p or not p:
                raise UsageError(f"{path}: weight path {p!r} leaves the model folder")
            if not (path.parent / pp).is_file():
                raise UsageError(f"{path}: weight file {p} is missing next to model.json")
            out.append(p)
    return out


def _sample(spec: dict, index: int) -> np.ndarray:
    rng = np.random.default_rng([SAMPLE_SEED, index])
    dt = np.dtype(spec["dtype"])
    if dt.kind == "f":
        return rng.uniform(0.0, 1.0, size=spec["shape"]).astype(dt)
    if dt.kind == "b":
        return rng.integers(0, 2, size=spec["shape"]).astype(bool)
    return rng.integers(0, 2, size=spec["shape"]).astype(dt)  # 0/1: a valid id, mask or class for any model


def add_user_model(file: Path, *, name: str | None = None, task: str = "custom", force: bool = False,
                   models_dir: Path | None = None) -> ModelManifest:
    """Copy a user's model into the models folder and write its manifest; returns it."""
    t0 = time.monotonic()
    file = Path(file)
    if not file.is_file():
        raise UsageError(f"{file}: no such file")
    kind = detect_kind(file)
    name = validate_model_name(name or default_name(file, kind))
    if name in known_names():
        raise UsageError(f"{name!r} is a zoo model name; choose another with --name")
    root = Path(models_dir or default_models_dir())
    root.mkdir(parents=True, exist_ok=True)
    from .build import model_lock, remove_stale_temps

    with model_lock(name, root):
        remove_stale_temps(name, root)
        return _add_locked(file, kind, name, task, force, root, t0)


def _add_locked(file: Path, kind: str, name: str, task: str, force: bool, root: Path, t0: float) -> ModelManifest:
    existing = load_manifest(name, root) if (root / name).exists() else None
    if (root / name).exists():
        if existing is None or not existing.user_model:
            raise UsageError(f"{root / name} exists and is not a user model; choose another --name")
        if not force:
            raise UsageError(f"user model {name!r} exists; add --force to replace it")
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.add-", dir=root))
    os.chmod(tmp, 0o755)
    try:
        if kind == "tflite":
            rel = "model.tflite"
            shutil.copyfile(file, tmp / rel)
            inputs, outputs, io, params = _tflite_io(tmp / rel)
            files = {"tflite": file_entry(tmp, rel)}
        elif kind == "onnx":
            rel = "model.onnx"
            shutil.copyfile(file, tmp / rel)
            inputs, outputs, io, params = _onnx_io(tmp / rel)
            files = {"onnx": file_entry(tmp, rel)}
        else:
            data = json.loads(file.read_text())
            weights = _tfjs_weight_paths(file, data)
            (tmp / "tfjs").mkdir()
            shutil.copyfile(file, tmp / "tfjs" / "model.json")
            for p in weights:
                (tmp / "tfjs" / p).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(file.parent / p, tmp / "tfjs" / p)
            inputs, outputs, io, params = _tfjs_io(file, data)
            entry = file_entry(tmp, "tfjs/model.json")
            wentries = [file_entry(tmp, f"tfjs/{p}") for p in weights]
            entry["bytes"] += sum(w["bytes"] for w in wentries)
            entry["weights"] = wentries
            files = {"tfjs": entry}

        samples = [_sample(s, i) for i, s in enumerate(inputs)]
        sample_inputs = []
        for i, (s, arr) in enumerate(zip(inputs, samples, strict=True)):
            p = f"input_{i}.bin"
            write_bin(arr, tmp / p)
            sample_inputs.append({"name": s["name"], "path": p, "shape": list(arr.shape), "dtype": str(arr.dtype),
                                  "seed": SAMPLE_SEED, "sha256": file_sha256(tmp / p)})
        notes = [f"user model added from {file.name}; sample integer inputs are 0/1",
                 "params counts the elements of the file's constant tensors (after any BatchNorm folding)"]
        refs: list[np.ndarray] = []
        if kind == "tflite":
            from .build import run_tflite

            refs = run_tflite(tmp / "model.tflite", io, samples)
        elif kind == "onnx":
            from .build import run_onnx

            refs = run_onnx(tmp / "model.onnx", io, samples)
        else:
            notes.append("no reference outputs: TF.js models are not run on the host when added")
        if refs:
            outputs = [{"name": o["name"], "shape": list(r.shape), "dtype": str(r.dtype)} for o, r in zip(outputs, refs, strict=True)]
        reference_outputs = []
        for j, (o, r) in enumerate(zip(outputs, refs, strict=False)):
            p = f"reference_output_{j}.bin"
            write_bin(r, tmp / p)
            reference_outputs.append({"name": o["name"], "path": p, "shape": list(r.shape), "dtype": str(r.dtype)})
        manifest = {
            "schema_version": SCHEMA_VERSION, "name": name, "task": task, "architecture": f"user {kind} file",
            "seed": SAMPLE_SEED, "params": params, "reference_params": None, "flops": None,
            "inputs": inputs, "outputs": outputs, "files": files, "io_names": {kind: io},
            "sample_inputs": sample_inputs, "reference_outputs": reference_outputs,
            "verification": {}, "converters": {}, "runtime_support": {},
            "notes": notes, "source": {"path": str(file.resolve()), "sha256": file_sha256(file)},
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "build_seconds": round(time.monotonic() - t0, 3), "user_model": True,
        }
        write_manifest(tmp, manifest)
        from .build import _swap_into_place

        _swap_into_place(tmp, root / name)
        return ModelManifest(name=name, dir=root / name, data=manifest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
