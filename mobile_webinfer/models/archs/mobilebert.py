"""MobileBERT (Sun et al. 2020), the 24-layer task-agnostic model (google/mobilebert-uncased config).

hidden 512, embedding 128 with trigram input (3x128 -> 512), 24 layers, each with an input bottleneck
512->128 and a shared key/query bottleneck, 4-head attention of width 128 (value projected from the
512-wide layer input), 4 stacked feed-forward networks 128->512->128 with ReLU, an output bottleneck
128->512, and NoNorm (elementwise scale + shift) in place of LayerNorm. Vocabulary 30522, 512 positions.
"""

from __future__ import annotations

from typing import Any

from . import ArchSpec, InputSpec

VOCAB = 30_522
SEQ_LEN = 128
HIDDEN = 512
EMBED = 128
BOTTLENECK = 128
INTERMEDIATE = 512
LAYERS = 24
HEADS = 4
NUM_FFN = 4
MAX_POSITIONS = 512
TYPE_VOCAB = 2

SPEC = ArchSpec(
    name="mobilebert",
    task="language",
    inputs=(
        InputSpec("input_ids", (1, SEQ_LEN), "int32", value_range=(0, VOCAB)),
        InputSpec("attention_mask", (1, SEQ_LEN), "int32", value_range=(0, 2)),
        InputSpec("token_type_ids", (1, SEQ_LEN), "int32", value_range=(0, TYPE_VOCAB)),
    ),
    outputs=("sequence_output",),
    reference_params=25_300_000,
    reference="MobileBERT (Sun et al. 2020, Table 3): 25.3 M params; 24 layers, bottleneck 128, hidden 512",
    notes=(
        "Published MobileBERT structure (24 layers, intra-bottleneck 128, shared key/query bottleneck,"
        " 4 FFNs per layer, ReLU, NoNorm, trigram embeddings); seeded random weights.",
        "Attention is written with reshape / transpose / batched matmul (no Einsum, which TF.js wasm"
        " lacks); the activation is ReLU as in the paper, so no GELU (exact or approximate) is used.",
        "Output: the last hidden states [1,128,512] (no pooler, no task head).",
        "Sequence length 128 (the study's input); position table keeps the original 512 rows.",
    ),
    version=2,  # 2: one initializer per layer (v1 repeated the same kernel in every layer)
)


def build(seed: int) -> Any:
    """MobileBERT with weights drawn from ``seed`` (no download)."""
    import keras
    from keras import layers

    from . import _mobilebert_layers as mb

    keras.utils.set_random_seed(seed)
    ids, mask, types = (
        keras.Input(shape=s.shape[1:], batch_size=1, dtype=s.dtype, name=s.name) for s in SPEC.inputs
    )

    def init() -> Any:
        # A fresh initializer per layer: a Keras 3 initializer instance draws its seed once, so a
        # shared instance would give every same-shaped kernel identical values.
        return keras.initializers.TruncatedNormal(stddev=0.02)

    def dense(x: Any, units: int, name: str, activation: str | None = None) -> Any:
        return layers.Dense(units, activation=activation, kernel_initializer=init(), name=name)(x)

    # Embeddings
    words = layers.Embedding(VOCAB, EMBED, embeddings_initializer=init(), name="word_embeddings")(ids)
    x = dense(mb.Trigram(name="trigram")(words), HIDDEN, "embedding_transformation")
    x = mb.PositionEmbedding(MAX_POSITIONS, name="position_embeddings")(x)
    tok = layers.Embedding(TYPE_VOCAB, HIDDEN, embeddings_initializer=init(), name="token_type_embeddings")(types)
    x = mb.NoNorm(name="embeddings_norm")(layers.Add(name="embeddings_add")([x, tok]))
    bias = mb.MaskBias(name="mask_bias")(mask)

    for i in range(LAYERS):
        p = f"layer{i}"
        layer_input = mb.NoNorm(name=f"{p}_bneck_in_norm")(dense(x, BOTTLENECK, f"{p}_bneck_in"))
        shared = mb.NoNorm(name=f"{p}_bneck_att_norm")(dense(x, BOTTLENECK, f"{p}_bneck_att"))
        q = dense(shared, BOTTLENECK, f"{p}_query")
        k = dense(shared, BOTTLENECK, f"{p}_key")
        v = dense(x, BOTTLENECK, f"{p}_value")
        ctx = mb.DotProductAttention(HEADS, name=f"{p}_attention")(q, k, v, bias)
        h = dense(ctx, BOTTLENECK, f"{p}_att_out")
        h = mb.NoNorm(name=f"{p}_att_norm")(layers.Add(name=f"{p}_att_add")([h, layer_input]))
        for f in range(NUM_FFN):
            inter = dense(h, INTERMEDIATE, f"{p}_ffn{f}_in", activation="relu")
            out = dense(inter, BOTTLENECK, f"{p}_ffn{f}_out")
            h = mb.NoNorm(name=f"{p}_ffn{f}_norm")(layers.Add(name=f"{p}_ffn{f}_add")([out, h]))
        out = dense(h, HIDDEN, f"{p}_bneck_out")
        # The last layer's norm is the model output, named after it (no Identity layer: it confuses
        # the TF.js signature).
        norm_name = "sequence_output" if i == LAYERS - 1 else f"{p}_out_norm"
        x = mb.NoNorm(name=norm_name)(layers.Add(name=f"{p}_out_add")([out, x]))
    return keras.Model([ids, mask, types], x, name=SPEC.name)
