"""Converters: Keras model -> SavedModel -> .tflite (fp32 / fp16 / int8), TF.js graph model, ONNX.

Every format is converted from the same SavedModel, whose one signature ``serving_default``
has the canonical input names with fixed batch-1 shapes and a dict of canonical output names.
TensorFlow, tensorflowjs and tf2onnx are imported inside the functions (slow imports).
"""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ModelError
from .archs import ArchSpec

SIGNATURE_KEY = "serving_default"
ONNX_OPSET = 17
TFLITE_VARIANTS = {"tflite": "fp32", "tflite_fp16": "fp16", "tflite_int8": "int8"}
TFLITE_FILES = {"tflite": "model.tflite", "tflite_fp16": "model_fp16.tflite", "tflite_int8": "model_int8.tflite"}
FORMATS = ("tflite", "tflite_fp16", "tflite_int8", "tfjs", "onnx")
# One shard for all TF.js weights: many shards hung page loads under a serial server.
TFJS_SHARD_BYTES = 1 << 31

# TF.js fused ops whose bias operand must be rank 1 on the wasm backend.
_TFJS_FUSED_BIAS_OPS = {"_FusedConv2D", "FusedDepthwiseConv2dNative", "_FusedMatMul"}
# Ops known to lack a kernel on at least one TF.js backend (checked in the op list).
TFJS_RISKY_OPS = {
    "Einsum": "no kernel on the wasm backend",
    "Erf": "exact GELU; not converted / no wasm kernel",
    "Softplus": "missing on TF.js wasm in the study's harness (Mish/Softplus)",
    "NonMaxSuppressionV5": "NMS runs on CPU only (async) in TF.js",
}


def output_names(spec: ArchSpec, n_outputs: int) -> list[str]:
    """Canonical output names: the spec's, else output_0, output_1..."""
    if spec.outputs:
        if len(spec.outputs) != n_outputs:
            raise ModelError(f"{spec.name}: spec names {len(spec.outputs)} outputs, the model has {n_outputs}")
        return list(spec.outputs)
    return [f"output_{j}" for j in range(n_outputs)]


def export_saved_model(model: Any, spec: ArchSpec, out_dir: Path) -> list[str]:
    """Write ``model`` as a SavedModel with one fixed-shape signature; return canonical output names.

    The signature takes the spec's inputs by name (batch 1, static shapes) and returns a
    dict {canonical output name: tensor}.  Written with keras.export.ExportArchive.
    """
    import tensorflow as tf

    sig = [tf.TensorSpec(i.shape, i.dtype, name=i.name) for i in spec.inputs]
    n_out = len(model.outputs)
    names = output_names(spec, n_out)

    def serve(*args: Any) -> dict[str, Any]:
        out = model(list(args) if len(args) > 1 else args[0], training=False)
        if isinstance(out, dict):
            raise ModelError(f"{spec.name}: dict outputs are not supported; return a list")
        outs = list(out) if isinstance(out, (list, tuple)) else [out]
        return {n: o for n, o in zip(names, outs, strict=True)}

    # keras.export.ExportArchive: a plain tf.Module holding a Keras 3 model gave .tflite files
    # whose variables were never initialized (READ_VARIABLE -> NaN outputs).
    import keras

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(name=SIGNATURE_KEY, fn=serve, input_signature=sig)
    try:
        archive.write_out(str(out_dir), verbose=False)
    except Exception as exc:  # noqa: BLE001 - any TF failure is a model build failure
        raise ModelError(f"{spec.name}: SavedModel export failed: {_short(exc)}") from exc
    return names


def to_tflite(saved_model_dir: Path, out_path: Path, variant: str = "fp32") -> None:
    """Convert the SavedModel to .tflite: ``fp32``, ``fp16`` (float16 weights) or ``int8``
    (dynamic-range: int8 weights, float activations)."""
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir), signature_keys=[SIGNATURE_KEY])
    if variant == "fp16":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.target_spec.supported_types = [tf.float16]
    elif variant == "int8":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    elif variant != "fp32":
        raise ValueError(f"unknown tflite variant {variant!r}")
    try:
        data = conv.convert()
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"TFLite {variant} conversion failed: {_short(exc)}") from exc
    out_path.write_bytes(data)


def tflite_io_names(path: Path) -> dict[str, Any]:
    """Tensor names of a .tflite file.

    Returns {"inputs": [...], "outputs": [...], "signature": {"inputs": [...], "outputs": [...]}}
    where ``signature`` holds the signature keys (canonical names) when the file has a
    signature, in the same order as the tensor names.
    """
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path))
    sigs = it.get_signature_list()
    if SIGNATURE_KEY in sigs:
        runner = it.get_signature_runner(SIGNATURE_KEY)
        ins = runner.get_input_details()
        outs = runner.get_output_details()
        in_keys, out_keys = list(ins), list(outs)
        return {
            "inputs": [ins[k]["name"] for k in in_keys],
            "outputs": [outs[k]["name"] for k in out_keys],
            "signature": {"inputs": in_keys, "outputs": out_keys},
        }
    return {
        "inputs": [d["name"] for d in it.get_input_details()],
        "outputs": [d["name"] for d in it.get_output_details()],
        "signature": None,
    }


def tflite_ops(path: Path) -> dict[str, int]:
    """Operators of a .tflite file and the highest version of each ({"CONV_2D": 5, ...}).

    Op versions decide which (older) runtimes can load a file: a runtime refuses an op
    version newer than its kernels.
    """
    from tensorflow.lite.python import schema_py_generated as schema

    buf = Path(path).read_bytes()
    model = schema.Model.GetRootAsModel(buf, 0)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    out: dict[str, int] = {}
    for i in range(model.OperatorCodesLength()):
        oc = model.OperatorCodes(i)
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        custom = oc.CustomCode()
        name = f"CUSTOM:{custom.decode()}" if custom else names.get(code, f"BUILTIN_{code}")
        out[name] = max(out.get(name, 0), int(oc.Version()))
    return dict(sorted(out.items()))


def _import_tfjs_converter() -> Any:
    """Import tensorflowjs' SavedModel converter inside the TF 2.21 environment.

    tensorflowjs 4.22 is installed without its dependencies (they downgrade TF).  Its
    package imports tensorflow_decision_forests (only to register TFDF ops) and jax (only
    for convert_jax) at import time; when those are absent, empty placeholder modules
    stand in during that import and are removed again afterwards (keras and others look
    for a real jax in sys.modules).
    """
    import importlib.util

    import keras  # noqa: F401  - import before the placeholders exist (keras probes for jax)

    def absent(mod: str) -> bool:
        return mod not in sys.modules and importlib.util.find_spec(mod) is None

    placeholders: dict[str, types.ModuleType] = {}
    if absent("tensorflow_decision_forests"):
        placeholders["tensorflow_decision_forests"] = types.ModuleType("tensorflow_decision_forests")
    if absent("jax"):
        jax = types.ModuleType("jax")
        exp = types.ModuleType("jax.experimental")
        exp.jax2tf = None  # type: ignore[attr-defined]
        jax.experimental = exp  # type: ignore[attr-defined]
        placeholders.update({"jax": jax, "jax.experimental": exp})
    sys.modules.update(placeholders)
    try:
        from tensorflowjs.converters import tf_saved_model_conversion_v2 as conv
    except ImportError as exc:
        raise ModelError(
            f"cannot import the TF.js converter ({exc}); install it with "
            "`pip install --no-deps tensorflowjs==4.22.0 tensorflow-hub==0.16.1 tf-keras==2.21.0`"
        ) from exc
    finally:
        for mod, placeholder in placeholders.items():
            if sys.modules.get(mod) is placeholder:
                del sys.modules[mod]
    return conv


def tfjs_version() -> str | None:
    """Installed tensorflowjs version (package metadata; no import)."""
    return _dist_version("tensorflowjs")


def to_tfjs(saved_model_dir: Path, out_dir: Path, input_names: Sequence[str] = (),
            output_names: Sequence[str] = ()) -> dict[str, Any]:
    """Convert the SavedModel to a TF.js graph model (one weight shard) and make it wasm-safe.

    Returns {"ops": sorted op list, "fixes": [...], "risky_ops": {op: why}}.
    """
    conv = _import_tfjs_converter()
    try:
        conv.convert_tf_saved_model(
            str(saved_model_dir), str(out_dir), signature_def=SIGNATURE_KEY, saved_model_tags="serve",
            weight_shard_size_bytes=TFJS_SHARD_BYTES, strip_debug_ops=True,
        )
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"TF.js conversion failed: {_short(exc)}") from exc
    model_json = out_dir / "model.json"
    data = json.loads(model_json.read_text())
    fixes = flatten_fused_biases(data)
    fixes += unfuse_activations(data)
    if input_names or output_names:
        tensor_keys = signature_tensor_keys(saved_model_dir)
        fixes += rekey_tfjs_signature(data, tensor_keys, input_names, output_names)
    if fixes:
        model_json.write_text(json.dumps(data))
    ops = tfjs_ops(data)
    return {"ops": ops, "fixes": fixes, "risky_ops": {o: TFJS_RISKY_OPS[o] for o in ops if o in TFJS_RISKY_OPS}}


# Activations every TF.js backend (cpu, wasm, webgl, webgpu) implements inside fused ops.
TFJS_FUSABLE_ACTIVATIONS = {"Relu", "Relu6", "Elu", "Sigmoid", "LeakyRelu", "Prelu"}


def unfuse_activations(model_json: dict[str, Any]) -> list[str]:
    """Split activations TF.js cannot fuse (e.g. Tanh) out of _FusedMatMul / _FusedConv2D, in place.

    Grappler fuses MatMul+BiasAdd+Tanh; TF.js backends then fail with "Activation tanh has
    not been implemented".  The fused node keeps its other ops under a new name and a plain
    activation node takes the original name, so every consumer is unchanged.
    """
    import base64

    nodes = (model_json.get("modelTopology") or {}).get("node", [])
    names = {n.get("name") for n in nodes}
    added: list[dict[str, Any]] = []
    fixed: list[str] = []
    for n in nodes:
        if n.get("op") not in _TFJS_FUSED_BIAS_OPS:
            continue
        ops_attr = ((n.get("attr") or {}).get("fused_ops") or {}).get("list") or {}
        fused = [base64.b64decode(x).decode() for x in ops_attr.get("s", [])]
        if len(fused) < 2 or fused[-1] in TFJS_FUSABLE_ACTIVATIONS:
            continue
        act = fused[-1]
        pre = f"{n['name']}/mwi_preact"
        if pre in names:
            raise ModelError(f"TF.js: node name {pre} already exists")
        ops_attr["s"] = [base64.b64encode(x.encode()).decode() for x in fused[:-1]]
        original = n["name"]
        n["name"] = pre
        attr = {"T": n["attr"]["T"]} if "T" in (n.get("attr") or {}) else {}
        added.append({"name": original, "op": act, "input": [pre], "attr": attr})
        fixed.append(f"{original}: {act} split out of {n['op']}")
    nodes.extend(added)
    return fixed


def signature_tensor_keys(saved_model_dir: Path) -> dict[str, str]:
    """{graph tensor name: signature key} for the inputs and outputs of the serving signature.

    The function's flat inputs/outputs follow ``tf.nest.flatten`` of its structured
    signature (dict keys sorted), which pairs each tensor name with its key.
    """
    import tensorflow as tf

    fn = tf.saved_model.load(str(saved_model_dir)).signatures[SIGNATURE_KEY]
    _args, kwargs = fn.structured_input_signature
    in_keys = tf.nest.flatten({k: k for k in kwargs})
    out_keys = tf.nest.flatten({k: k for k in fn.structured_outputs})
    pairs = list(zip([t.name for t in fn.inputs[: len(in_keys)]], in_keys, strict=False))
    pairs += list(zip([t.name for t in fn.outputs], out_keys, strict=False))
    return dict(pairs)


def rekey_tfjs_signature(model_json: dict[str, Any], tensor_keys: dict[str, str], input_names: Sequence[str],
                         output_names: Sequence[str]) -> list[str]:
    """Key the model.json signature by the canonical input/output names, in place.

    The TF.js converter matches signature keys by dtype and shape only; when several
    inputs or outputs share both it keys them by tensor name ("Identity_3:0").  Returns
    a note per key changed; ModelError if a canonical name cannot be placed.
    """
    fixes: list[str] = []
    sigs: list[Any] = [model_json.get("signature")]
    udm = model_json.get("userDefinedMetadata") or {}
    if isinstance(udm.get("signature"), dict):
        sigs.append(udm["signature"])
    for sig in sigs:
        if not isinstance(sig, dict):
            continue
        for part, wanted in (("inputs", input_names), ("outputs", output_names)):
            entries = sig.get(part) or {}
            if not wanted:
                continue
            new: dict[str, Any] = {}
            for key, info in entries.items():
                tensor = str(info.get("name", ""))
                canon = key if key in wanted else tensor_keys.get(tensor, tensor_keys.get(f"{tensor}:0"))
                if canon is None and tensor.split(":")[0] in wanted:
                    canon = tensor.split(":")[0]
                if canon is None or canon in new:
                    raise ModelError(f"TF.js signature: cannot tell which {part[:-1]} {key!r} (tensor {tensor}) is")
                if canon != key and sig is sigs[0]:
                    fixes.append(f"signature {part[:-1]} {key} -> {canon}")
                new[canon] = info
            missing = [n for n in wanted if n not in new]
            if missing:
                raise ModelError(f"TF.js signature lacks {part} {missing}; has {list(entries)}")
            sig[part] = {n: new[n] for n in wanted}
    return fixes


def tfjs_ops(model_json: dict[str, Any]) -> list[str]:
    """Sorted distinct ops of a TF.js graph model (main graph and functions)."""
    topo = model_json.get("modelTopology") or {}
    ops = {n.get("op") for n in topo.get("node", [])}
    for fn in (topo.get("library") or {}).get("function", []):
        ops.update(n.get("op") for n in fn.get("nodeDef", []))
    return sorted(o for o in ops if o)


def flatten_fused_biases(model_json: dict[str, Any]) -> list[str]:
    """Give fused conv/matmul ops a rank-1 bias: reshape [1,1,1,C] bias weights to [C] in place.

    Keras 3 adds conv biases as a broadcast of shape [1,1,1,C]; grappler fuses that into
    _FusedConv2D with a rank-4 bias, which the TF.js wasm backend rejects.  The bytes are
    the same, only the declared shape changes; a weight is touched only when every node
    that reads it uses it as the bias of a fused op.  Returns the names of the weights fixed.
    """
    nodes = (model_json.get("modelTopology") or {}).get("node", [])
    readers: dict[str, list[tuple[str, int]]] = {}
    for n in nodes:
        for k, inp in enumerate(n.get("input", [])):
            readers.setdefault(inp.split(":")[0].lstrip("^"), []).append((n.get("op", ""), k))
    fixed: list[str] = []
    for group in model_json.get("weightsManifest", []):
        for w in group.get("weights", []):
            shape = w.get("shape") or []
            uses = readers.get(w["name"], [])
            if len(shape) < 2 or not uses or any(d != 1 for d in shape[:-1]):
                continue
            if all(op in _TFJS_FUSED_BIAS_OPS and k == 2 for op, k in uses):
                w["shape"] = [shape[-1]]
                fixed.append(w["name"])
    return fixed


def tfjs_io_names(model_json: dict[str, Any], inputs: Sequence[str], outputs: Sequence[str]) -> dict[str, Any]:
    """Tensor names the TF.js GraphModel uses, in canonical order (from the model.json signature)."""
    sig = ((model_json.get("userDefinedMetadata") or {}).get("signature")
           or model_json.get("signature") or {})
    sin, sout = sig.get("inputs") or {}, sig.get("outputs") or {}
    try:
        return {
            "inputs": [sin[n]["name"] for n in inputs],
            "outputs": [sout[n]["name"] for n in outputs],
            "signature": {"inputs": list(inputs), "outputs": list(outputs)},
        }
    except KeyError as exc:
        raise ModelError(f"TF.js model.json signature lacks {exc}; has inputs {list(sin)} outputs {list(sout)}") from exc


def to_onnx(saved_model_dir: Path, spec: ArchSpec, out_path: Path, opset: int = ONNX_OPSET) -> None:
    """Convert the SavedModel's serving signature to ONNX (frozen first, as `python -m tf2onnx.convert
    --saved-model` does): inputs keep their canonical names and static shapes, outputs are
    named by the signature keys.

    Converting the restored tf.function directly turned captured constants (e.g. the
    normalization constants of EfficientNetV2) into extra graph inputs.
    """
    from tf2onnx import convert as tf2onnx_convert
    from tf2onnx import tf_loader

    try:
        graph_def, inputs, outputs, tensors_to_rename = tf_loader.from_saved_model(
            str(saved_model_dir), None, None, tag="serve", signatures=[SIGNATURE_KEY],
            return_tensors_to_rename=True)
        tf2onnx_convert.from_graph_def(graph_def, input_names=inputs, output_names=outputs, opset=opset,
                                       tensors_to_rename=tensors_to_rename, output_path=str(out_path))
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"{spec.name}: ONNX conversion failed: {_short(exc)}") from exc


def onnx_io_names(path: Path) -> dict[str, Any]:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return {"inputs": [i.name for i in sess.get_inputs()], "outputs": [o.name for o in sess.get_outputs()]}


def converter_versions() -> dict[str, str | None]:
    """Versions of every converter used (recorded in each manifest)."""
    out: dict[str, str | None] = {}
    for mod in ("tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime", "ai_edge_litert"):
        try:
            m = __import__(mod)
            out[mod] = str(getattr(m, "__version__", None) or _dist_version(mod))
        except Exception:  # noqa: BLE001
            out[mod] = None
    out["tensorflowjs"] = tfjs_version()
    return out


def _dist_version(mod: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(mod.replace("_", "-"))
    except PackageNotFoundError:
        return None


def _short(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    text = lines[-1] if lines else exc.__class__.__name__
    return f"{exc.__class__.__name__}: {text[:300]}"
