"""Fast checks of the zoo architectures: interface, parameter counts, shapes, determinism, ops.

Each model is built once (seeded random weights, no download) and shared by the tests of this
module; nothing is converted here (tests/zoo/test_zoo_build.py does that, marked slow).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pytest

from mobile_webinfer.models.archs import ARCH_MODULES, ArchSpec, load_arch

ZOO = ("resnet50", "vgg16", "efficientnet_v2_b0", "ssd_mobilenet_v2", "yolov5s", "movenet_thunder",
       "esrgan", "mobilebert")

# Input shapes of the catalog table.
INPUTS = {
    "resnet50": [((1, 224, 224, 3), "float32")],
    "vgg16": [((1, 224, 224, 3), "float32")],
    "efficientnet_v2_b0": [((1, 224, 224, 3), "float32")],
    "ssd_mobilenet_v2": [((1, 300, 300, 3), "float32")],
    "yolov5s": [((1, 320, 320, 3), "float32")],
    "movenet_thunder": [((1, 256, 256, 3), "float32")],
    "esrgan": [((1, 128, 128, 3), "float32")],
    "mobilebert": [((1, 128), "int32")] * 3,
}

OUTPUTS = {
    "resnet50": [(1, 1000)],
    "vgg16": [(1, 1000)],
    "efficientnet_v2_b0": [(1, 1000)],
    "ssd_mobilenet_v2": [(1, 1917, 4), (1, 1917, 91)],
    "yolov5s": [(1, 6300, 85)],
    "movenet_thunder": [(1, 64, 64, 17), (1, 64, 64, 1), (1, 64, 64, 34), (1, 64, 64, 34)],
    "esrgan": [(1, 512, 512, 3)],
    "mobilebert": [(1, 128, 512)],
}

# Exact parameter counts of our builds (Keras count_params: trainable + BatchNorm statistics).
# resnet50 / vgg16 / efficientnet_v2_b0 / esrgan equal the published counts exactly; yolov5s's
# trainable count equals Ultralytics' 7,235,389 (the 19,008 extra are BN moving mean / variance);
# mobilebert equals the google/mobilebert-uncased config counted by hand (24.58 M, paper: 25.3 M).
PARAMS = {
    "resnet50": 25_636_712,
    "vgg16": 138_357_544,
    "efficientnet_v2_b0": 7_200_312,
    "ssd_mobilenet_v2": 4_551_295,
    "yolov5s": 7_254_397,
    "movenet_thunder": 6_263_462,
    "esrgan": 16_697_987,
    "mobilebert": 24_581_888,
}

# Models whose output layers we name ourselves (the Keras applications name theirs).
NAMED_OUTPUTS = ("ssd_mobilenet_v2", "yolov5s", "movenet_thunder", "esrgan", "mobilebert")


@functools.lru_cache(maxsize=None)
def built(name: str, seed: int = 0) -> Any:
    return load_arch(name).build(seed)


def sample(name: str, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for inp in load_arch(name).spec.inputs:
        lo, hi = inp.value_range
        if inp.dtype == "int32":
            out.append(rng.integers(int(lo), int(hi), size=inp.shape).astype(np.int32))
        else:
            out.append(rng.uniform(lo, hi, size=inp.shape).astype(np.float32))
    return out


def run(model: Any, xs: list[np.ndarray]) -> list[np.ndarray]:
    out = model(xs if len(xs) > 1 else xs[0], training=False)
    return [np.asarray(o) for o in (out if isinstance(out, (list, tuple)) else [out])]


def test_every_zoo_module_is_registered() -> None:
    for name in ZOO:
        assert name in ARCH_MODULES


@pytest.mark.parametrize("name", ZOO)
def test_spec_follows_the_interface(name: str) -> None:
    arch = load_arch(name)
    spec = arch.spec
    assert isinstance(spec, ArchSpec) and spec.name == name
    assert [(i.shape, i.dtype) for i in spec.inputs] == INPUTS[name]
    assert spec.reference_params and spec.reference and spec.notes
    assert len(spec.outputs) == len(OUTPUTS[name])
    assert spec.task in {"classification", "detection", "pose", "super_resolution", "language"}


@pytest.mark.parametrize("name", ZOO)
def test_build_matches_reference_size_and_shapes(name: str) -> None:
    spec = load_arch(name).spec
    model = built(name)
    params = model.count_params()
    assert params == PARAMS[name]
    assert abs(params - spec.reference_params) <= 0.10 * spec.reference_params
    assert [(tuple(t.shape), t.dtype) for t in model.inputs] == INPUTS[name]
    assert [tuple(t.shape) for t in model.outputs] == OUTPUTS[name]
    assert [t.name for t in model.inputs] == [i.name for i in spec.inputs]
    if name in NAMED_OUTPUTS:
        assert list(model.output_names) == list(spec.outputs)


def test_yolov5s_trainable_params_equal_ultralytics() -> None:
    model = built("yolov5s")
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == 7_235_389


def test_yolov5s_uses_silu_only() -> None:
    acts = {layer.get_config()["activation"] for layer in built("yolov5s").layers
            if layer.__class__.__name__ == "Activation"}
    assert acts == {"silu"}


def test_esrgan_has_23_rrdb_of_15_convs() -> None:
    convs = [layer for layer in built("esrgan").layers if layer.__class__.__name__ == "Conv2D"]
    # conv_first + 23 * 3 * 5 + trunk + 2 upconvs + hr_conv + conv_last
    assert len(convs) == 1 + 23 * 15 + 1 + 2 + 1 + 1
    assert all(c.kernel_size == (3, 3) for c in convs)


def test_mobilebert_has_24_layers_with_4_ffns() -> None:
    names = [layer.name for layer in built("mobilebert").layers]
    assert sum(n.endswith("_attention") for n in names) == 24
    assert sum(n.endswith("_ffn3_in") for n in names) == 24
    assert not any("_ffn4_" in n for n in names)


@pytest.mark.parametrize("name", ZOO)
def test_no_two_kernels_are_identical(name: str) -> None:
    """Independent weights: a shared Keras initializer instance repeats its values per call, which
    converters then deduplicate (smaller files than the architecture really has)."""
    seen: dict[bytes, str] = {}
    for w in built(name).weights:
        if len(w.shape) < 2:
            continue  # biases / BN statistics start as constants
        key = np.asarray(w).tobytes()
        assert key not in seen, f"{w.path} has the same values as {seen[key]}"
        seen[key] = w.path


@pytest.mark.parametrize("name", ["ssd_mobilenet_v2", "yolov5s", "movenet_thunder", "mobilebert"])
def test_same_seed_same_weights_other_seed_differs(name: str) -> None:
    a = built(name, 1).get_weights()
    b = load_arch(name).build(1).get_weights()
    c = built(name, 2).get_weights()
    assert len(a) == len(b) == len(c)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, z) for x, z in zip(a, c))


@pytest.mark.parametrize("name", ["ssd_mobilenet_v2", "yolov5s", "movenet_thunder", "mobilebert"])
def test_one_inference_is_finite(name: str) -> None:
    outs = run(built(name), sample(name))
    assert [o.shape for o in outs] == OUTPUTS[name]
    assert all(np.isfinite(o).all() for o in outs)
    # Fresh weights (zero biases, identity BatchNorm) may give near-constant outputs (SSD's scores
    # are 0.5 everywhere); the build pipeline randomizes biases and BN statistics before converting.


def test_ssd_scores_are_probabilities() -> None:
    _, scores = run(built("ssd_mobilenet_v2"), sample("ssd_mobilenet_v2"))
    assert scores.min() >= 0.0 and scores.max() <= 1.0


def test_movenet_heatmaps_are_probabilities() -> None:
    heat, center, _, _ = run(built("movenet_thunder"), sample("movenet_thunder"))
    for h in (heat, center):
        assert h.min() >= 0.0 and h.max() <= 1.0


def test_mobilebert_attention_mask_hides_tokens() -> None:
    """A token is seen by the others only through attention (and its trigram neighbours): with it
    and its neighbours masked out, changing it leaves every other position's output unchanged."""
    model = built("mobilebert")
    ids, _, types = sample("mobilebert")
    mask = np.ones_like(ids)
    j = 60
    near = [j - 1, j, j + 1]
    ids2 = ids.copy()
    ids2[0, j] = (ids[0, j] + 1234) % 30522
    hidden = mask.copy()
    hidden[0, near] = 0
    diff = np.abs(run(model, [ids, hidden, types])[0] - run(model, [ids2, hidden, types])[0]).max(axis=-1)[0]
    assert diff[j] > 1e-4
    assert np.delete(diff, near).max() < 1e-6
    # Unmasked, the change reaches every position through attention.
    diff_open = np.abs(run(model, [ids, mask, types])[0] - run(model, [ids2, mask, types])[0]).max(axis=-1)[0]
    assert diff_open.min() > 1e-6


@functools.lru_cache(maxsize=None)
def traced(name: str) -> tuple[frozenset[str], int]:
    """(op types of the inference graph, number of captured non-variable tensors)."""
    import tensorflow as tf

    model = built(name)
    spec = load_arch(name).spec
    sig = [tf.TensorSpec(i.shape, i.dtype, name=i.name) for i in spec.inputs]
    fn = tf.function(lambda *xs: model(list(xs) if len(xs) > 1 else xs[0], training=False), input_signature=sig)
    concrete = fn.get_concrete_function()
    graph = concrete.graph
    ops = {op.type for op in graph.get_operations()}
    for f in graph.as_graph_def().library.function:
        ops.update(n.op for n in f.node_def)
    captured = [t for t in concrete.captured_inputs if t.dtype != tf.resource]
    return frozenset(ops), len(captured)


@pytest.mark.parametrize("name", ZOO)
def test_graph_captures_only_variables(name: str) -> None:
    """Captured constant tensors (e.g. Keras 3 Normalization statistics) become extra ONNX inputs."""
    assert traced(name)[1] == 0


def test_efficientnet_preprocessing_matches_keras_application() -> None:
    import keras

    ours = built("efficientnet_v2_b0", 3)
    keras.utils.set_random_seed(3)
    app = keras.applications.EfficientNetV2B0(weights=None, input_shape=(224, 224, 3), include_preprocessing=True)
    assert app.count_params() == ours.count_params()
    app.set_weights(ours.get_weights())
    x = np.random.default_rng(0).uniform(0, 255, (1, 224, 224, 3)).astype(np.float32)
    np.testing.assert_allclose(run(ours, [x])[0], run(app, [x])[0], atol=1e-6)


def test_mobilebert_graph_has_no_einsum_or_erf() -> None:
    ops = traced("mobilebert")[0]
    assert "BatchMatMulV2" in ops and "Softmax" in ops
    assert not ops & {"Einsum", "Erf", "Gelu"}


def test_yolov5s_graph_has_no_mish_ops() -> None:
    ops = traced("yolov5s")[0]
    assert "Sigmoid" in ops or "Silu" in ops
    assert not ops & {"Softplus", "Tanh", "Mish"}
