"""mobilenet_v2: MobileNetV2 (alpha 1.0, 224x224), as the Keras application, seeded weights."""

from __future__ import annotations

from typing import Any

from . import ArchSpec, InputSpec

SPEC = ArchSpec(
    name="mobilenet_v2",
    task="classification",
    inputs=(InputSpec("input", (1, 224, 224, 3), "float32"),),
    outputs=("probabilities",),
    reference_params=3_538_984,
    reference="Keras application MobileNetV2 alpha=1.0, 224x224, 1000 classes (Sandler et al. 2018)",
    notes=(
        "keras.applications.MobileNetV2(weights=None): published layer structure, random seeded weights.",
        "Input expected in [-1, 1] by the original preprocessing; seeded samples are uniform [0, 1).",
    ),
)


def build(seed: int) -> Any:
    """Seeded Keras MobileNetV2 (no weight download)."""
    import keras

    keras.utils.set_random_seed(seed)
    x_in = keras.Input(shape=SPEC.inputs[0].shape[1:], batch_size=1, name="input")
    base = keras.applications.MobileNetV2(
        input_tensor=x_in, alpha=1.0, include_top=True, weights=None, classes=1000,
        classifier_activation="softmax",
    )
    return keras.Model(x_in, base.output, name="mobilenet_v2")
