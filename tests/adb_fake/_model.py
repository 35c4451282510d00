"""Build a tiny seeded TFLite model (conv, pool, matmul, cumsum, softmax) for benchmark tests.

CUMSUM has no GPU delegate kernel, so a GPU run is partially delegated: a useful case.
"""

from __future__ import annotations

import os
from pathlib import Path


def build_tiny_tflite(path: Path) -> Path:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    class Tiny(tf.Module):
        def __init__(self) -> None:
            gen = tf.random.Generator.from_seed(0)
            self.kernel = tf.Variable(gen.normal([3, 3, 3, 8]))
            self.dense = tf.Variable(gen.normal([128, 10]))

        @tf.function(input_signature=[tf.TensorSpec([1, 16, 16, 3], tf.float32)])
        def __call__(self, x):
            y = tf.nn.relu(tf.nn.conv2d(x, self.kernel, 2, "SAME"))
            y = tf.nn.max_pool2d(y, 2, 2, "VALID")
            y = tf.matmul(tf.reshape(y, [1, -1]), self.dense)
            return tf.nn.softmax(tf.math.cumsum(y, axis=1))

    model = Tiny()
    conv = tf.lite.TFLiteConverter.from_concrete_functions([model.__call__.get_concrete_function()], model)
    tmp = path.with_suffix(".partial")
    tmp.write_bytes(conv.convert())
    tmp.replace(path)  # atomic: a concurrent reader never sees half a model
    return path
