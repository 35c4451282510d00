"""tiny_cnn: a small classifier for tests (1x32x32x3 -> 10 classes, ~8 k params, builds in seconds)."""

from __future__ import annotations

from typing import Any

from . import ArchSpec, InputSpec

SPEC = ArchSpec(
    name="tiny_cnn",
    task="classification",
    inputs=(InputSpec("input", (1, 32, 32, 3), "float32"),),
    outputs=("probabilities",),
    reference_params=None,
    reference="mwi test model: 3x (conv3x3 + BN + ReLU6) with pooling, depthwise block, GAP, dense 10 softmax",
    notes=("Not from the study: a fast model for tests and smoke runs.",),
)


def build(seed: int) -> Any:
    """Seeded Keras model: same seed, same weights."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    x_in = keras.Input(shape=SPEC.inputs[0].shape[1:], batch_size=1, name="input")
    x = layers.Conv2D(16, 3, padding="same", use_bias=False, name="conv1")(x_in)
    x = layers.BatchNormalization(name="bn1")(x)
    x = layers.ReLU(6.0, name="relu1")(x)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(32, 3, padding="same", name="conv2")(x)  # with bias: exercises the bias path
    x = layers.ReLU(name="relu2")(x)
    x = layers.DepthwiseConv2D(3, padding="same", use_bias=False, name="dw3")(x)
    x = layers.BatchNormalization(name="bn3")(x)
    x = layers.ReLU(6.0, name="relu3")(x)
    x = layers.AveragePooling2D(2, name="pool3")(x)
    x = layers.Conv2D(48, 1, use_bias=False, name="pw4")(x)
    x = layers.BatchNormalization(name="bn4")(x)
    x = layers.ReLU(6.0, name="relu4")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dense(10, name="logits")(x)
    out = layers.Softmax(name="probabilities")(x)
    return keras.Model(x_in, out, name="tiny_cnn")
