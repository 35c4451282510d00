"""ResNet-50 v1 (He et al. 2015), the Keras application with seeded random weights."""

from __future__ import annotations

from typing import Any

from . import ArchSpec, InputSpec

SPEC = ArchSpec(
    name="resnet50",
    task="classification",
    inputs=(InputSpec("input", (1, 224, 224, 3), "float32"),),
    outputs=("probabilities",),
    reference_params=25_636_712,
    reference="keras.applications.ResNet50 (include_top, 1000 classes): 25,636,712 params",
    notes=(
        "keras.applications.ResNet50(weights=None): the published layer structure, seeded random weights.",
        "Input expected in caffe-style BGR mean-subtracted pixels by the original preprocessing; seeded"
        " samples are uniform [0, 1).",
    ),
)


def _input(keras: Any) -> Any:
    spec = SPEC.inputs[0]
    return keras.Input(shape=spec.shape[1:], batch_size=spec.shape[0], dtype=spec.dtype, name=spec.name)


def build(seed: int) -> Any:
    """ResNet-50 with weights drawn from ``seed`` (no download)."""
    import keras

    keras.utils.set_random_seed(seed)
    x_in = _input(keras)
    base = keras.applications.ResNet50(
        weights=None, include_top=True, input_tensor=x_in, classes=1000,
        classifier_activation="softmax",
    )
    return keras.Model(x_in, base.output, name=SPEC.name)
