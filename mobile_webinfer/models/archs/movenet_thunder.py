"""MoveNet SinglePose Thunder-like pose network: MobileNetV2 (depth multiplier 1.75) + FPN + CenterNet heads.

Google's model card describes MoveNet as a MobileNetV2 feature extractor with a feature pyramid
network decoding to stride 4 and CenterNet prediction heads; Thunder uses depth multiplier 1.75 at
256x256. The FPN / head widths are not published: here the FPN merges the stride 4, 8, 16 and 32
features (1x1 laterals to 256 channels, bilinear 2x upsampling, add, separable 3x3 smoothing) and each
head is a separable 3x3 conv (256) + ReLU + 1x1 conv at stride 4 (64x64); width 256 brings the
parameter count to the published model's size.
"""

from __future__ import annotations

from typing import Any

from . import ArchSpec, InputSpec

NUM_KEYPOINTS = 17
FPN_WIDTH = 256
# (MobileNetV2 layer, stride) feeding the FPN, finest first.
BACKBONE_FEATURES = (
    ("block_2_add", 4),
    ("block_5_add", 8),
    ("block_12_add", 16),
    ("block_16_project_BN", 32),
)

SPEC = ArchSpec(
    name="movenet_thunder",
    task="pose",
    inputs=(InputSpec("input", (1, 256, 256, 3), "float32"),),
    outputs=("keypoint_heatmaps", "center_heatmap", "keypoint_regression", "keypoint_offsets"),
    reference_params=6_300_000,
    reference=(
        "MoveNet SinglePose Thunder (Google 2021): MobileNetV2 x1.75 + FPN + CenterNet heads, 256x256;"
        " no official parameter count: ~6.3 M estimated from the published float16 TFLite (~12.6 MB)"
    ),
    notes=(
        "Backbone keras.applications.MobileNetV2(alpha=1.75, weights=None) up to block 16 (its final"
        " 1x1 conv to 2240 channels is not used); FPN and head widths (256) are our choice, not published.",
        "Outputs the four CenterNet maps at stride 4: keypoint heatmaps [1,64,64,17] and person center"
        " heatmap [1,64,64,1] (sigmoid), keypoint regression [1,64,64,34] and sub-pixel offsets"
        " [1,64,64,34]. The published model's in-graph post-processing (argmax over the center map,"
        " gather of keypoints -> [1,1,17,3]) is NOT included.",
        "Input: the published model takes int32 pixels 0-255; this one takes float32 in [0, 1).",
    ),
    version=2,  # 2: linear heads are the outputs (no Identity layers)
)


def _sep_conv(layers: Any, x: Any, filters: int, name: str) -> Any:
    """Depthwise 3x3 + pointwise 1x1 + BN + ReLU (mobile-friendly 3x3 conv)."""
    x = layers.DepthwiseConv2D(3, padding="same", use_bias=False, name=f"{name}_dw")(x)
    x = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_pw")(x)
    x = layers.BatchNormalization(epsilon=1e-3, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def build(seed: int) -> Any:
    """MoveNet-Thunder-like network with weights drawn from ``seed`` (no download)."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    spec = SPEC.inputs[0]
    x_in = keras.Input(shape=spec.shape[1:], batch_size=1, name=spec.name)
    backbone = keras.applications.MobileNetV2(
        input_tensor=x_in, alpha=1.75, include_top=False, weights=None
    )
    feats = [backbone.get_layer(name).output for name, _ in BACKBONE_FEATURES]
    # Top-down pathway: coarsest first.
    top = None
    for (_name, stride), feat in reversed(list(zip(BACKBONE_FEATURES, feats, strict=True))):
        lat = layers.Conv2D(FPN_WIDTH, 1, use_bias=False, name=f"fpn_lateral_s{stride}")(feat)
        lat = layers.BatchNormalization(epsilon=1e-3, name=f"fpn_lateral_s{stride}_bn")(lat)
        if top is not None:
            up = layers.UpSampling2D(2, interpolation="bilinear", name=f"fpn_up_s{stride}")(top)
            lat = layers.Add(name=f"fpn_add_s{stride}")([lat, up])
        top = _sep_conv(layers, lat, FPN_WIDTH, f"fpn_smooth_s{stride}")
    heads = (
        ("keypoint_heatmaps", NUM_KEYPOINTS, "sigmoid"),
        ("center_heatmap", 1, "sigmoid"),
        ("keypoint_regression", 2 * NUM_KEYPOINTS, None),
        ("keypoint_offsets", 2 * NUM_KEYPOINTS, None),
    )
    outs = []
    for name, channels, activation in heads:
        h = _sep_conv(layers, top, FPN_WIDTH, f"{name}_head")
        if activation:
            h = layers.Conv2D(channels, 1, use_bias=True, name=f"{name}_logits")(h)
            h = layers.Activation(activation, name=name)(h)
        else:  # the conv is the output (an Identity layer on top confuses the TF.js signature)
            h = layers.Conv2D(channels, 1, use_bias=True, name=name)(h)
        outs.append(h)
    return keras.Model(x_in, outs, name=SPEC.name)
