"""Keras layers MobileBERT needs beyond the stock ones (imported lazily by ``mobilebert.build``).

All of them lower to ops every runtime here has (Mul, Add, Pad, Slice, Reshape, Transpose,
BatchMatMul, Softmax, Gather): no Einsum, no erf-GELU.
"""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import ops

_PACKAGE = "mwi_mobilebert"


@keras.saving.register_keras_serializable(package=_PACKAGE)
class NoNorm(keras.layers.Layer):
    """MobileBERT's replacement for LayerNorm: an elementwise ``x * gamma + beta``."""

    def build(self, input_shape: Any) -> None:
        dim = int(input_shape[-1])
        self.gamma = self.add_weight(
            shape=(dim,), name="gamma", initializer=keras.initializers.RandomUniform(0.8, 1.2)
        )
        self.beta = self.add_weight(
            shape=(dim,), name="beta", initializer=keras.initializers.RandomNormal(stddev=0.02)
        )

    def call(self, x: Any) -> Any:
        return x * self.gamma + self.beta


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Trigram(keras.layers.Layer):
    """Concatenate each token's embedding with its right and left neighbours' (zero at the ends)."""

    def call(self, x: Any) -> Any:
        nxt = ops.pad(x[:, 1:], [[0, 0], [0, 1], [0, 0]])
        prev = ops.pad(x[:, :-1], [[0, 0], [1, 0], [0, 0]])
        return ops.concatenate([nxt, x, prev], axis=-1)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class PositionEmbedding(keras.layers.Layer):
    """Add learned absolute position embeddings for positions 0..seq_len-1."""

    def __init__(self, max_positions: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_positions = max_positions

    def build(self, input_shape: Any) -> None:
        self.table = self.add_weight(
            shape=(self.max_positions, int(input_shape[-1])), name="embeddings",
            initializer=keras.initializers.RandomNormal(stddev=0.02),
        )

    def call(self, x: Any) -> Any:
        seq_len = x.shape[1]
        return x + ops.expand_dims(self.table[:seq_len], 0)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "max_positions": self.max_positions}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MaskBias(keras.layers.Layer):
    """attention_mask [B, S] of 0/1 -> additive bias [B, 1, 1, S]: 0 where kept, -10000 where masked."""

    def call(self, mask: Any) -> Any:
        mask = ops.cast(mask, "float32")
        return ops.expand_dims(ops.expand_dims((1.0 - mask) * -10000.0, 1), 1)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class DotProductAttention(keras.layers.Layer):
    """Multi-head scaled dot-product attention with reshape / transpose / matmul (no Einsum).

    Inputs: q, k, v [B, S, H*D] (already projected) and the additive mask bias [B, 1, 1, S].
    """

    def __init__(self, num_heads: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.num_heads = num_heads

    def _split(self, x: Any) -> Any:
        seq, width = x.shape[1], x.shape[2]
        x = ops.reshape(x, (-1, seq, self.num_heads, width // self.num_heads))
        return ops.transpose(x, (0, 2, 1, 3))

    def call(self, q: Any, k: Any, v: Any, bias: Any) -> Any:
        seq, width = q.shape[1], q.shape[2]
        head_dim = width // self.num_heads
        qh = self._split(q) * (1.0 / math.sqrt(head_dim))
        kh = self._split(k)
        vh = self._split(v)
        scores = ops.matmul(qh, ops.transpose(kh, (0, 1, 3, 2))) + bias
        probs = ops.softmax(scores, axis=-1)
        ctx = ops.transpose(ops.matmul(probs, vh), (0, 2, 1, 3))
        return ops.reshape(ctx, (-1, seq, width))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "num_heads": self.num_heads}
