"""SSDLite with a MobileNetV2 backbone (Sandler et al. 2018, sec. 6.2), 300x300, COCO's 91 classes.

Layout of the TF Object Detection API ``ssdlite_mobilenet_v2_coco``: feature maps from the expansion
of block 13 (19x19x576) and the last 1x1 conv (10x10x1280), then four extra layers (1x1 conv to half
depth, 3x3 depthwise stride 2, 1x1 conv) of depth 512, 256, 256, 128; SSDLite heads are a 3x3
depthwise conv + BN + ReLU6 and a 1x1 conv, with 3 anchors per cell on the first map and 6 on the
others: 19*19*3 + (10*10 + 5*5 + 3*3 + 2*2 + 1) * 6 = 1917 anchors.
"""

from __future__ import annotations

from typing import Any

from . import ArchSpec, InputSpec

NUM_CLASSES = 91  # 90 COCO classes + background, as the TF OD API model
ANCHORS_PER_CELL = (3, 6, 6, 6, 6, 6)
EXTRA_DEPTHS = (512, 256, 256, 128)
NUM_ANCHORS = 1917

SPEC = ArchSpec(
    name="ssd_mobilenet_v2",
    task="detection",
    inputs=(InputSpec("input", (1, 300, 300, 3), "float32"),),
    outputs=("boxes", "scores"),
    reference_params=4_300_000,
    reference="SSDLite MobileNetV2 (Sandler et al. 2018, Table 6): 4.3 M params, 0.8 B MAdds, 300x300",
    notes=(
        "MobileNetV2 alpha 1.0 backbone (keras.applications, weights=None) + SSDLite extra layers and"
        " depthwise-separable box / class heads; seeded random weights.",
        "Outputs are the raw box encodings [1,1917,4] (ty, tx, th, tw relative to the anchors) and"
        " sigmoid class scores [1,1917,91]; anchor decoding and non-max suppression are NOT in the graph"
        " (NMS / TFLite_Detection_PostProcess ops do not convert to every runtime).",
        "Input expected in [-1, 1] by the original preprocessing; seeded samples are uniform [0, 1).",
    ),
)


def _conv_bn(layers: Any, x: Any, filters: int, name: str) -> Any:
    x = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(epsilon=1e-3, momentum=0.997, name=f"{name}_bn")(x)
    return layers.ReLU(6.0, name=f"{name}_relu")(x)


def _dw_bn(layers: Any, x: Any, strides: int, name: str) -> Any:
    x = layers.DepthwiseConv2D(3, strides=strides, padding="same", use_bias=False, name=f"{name}_dw")(x)
    x = layers.BatchNormalization(epsilon=1e-3, momentum=0.997, name=f"{name}_dwbn")(x)
    return layers.ReLU(6.0, name=f"{name}_dwrelu")(x)


def _head(layers: Any, x: Any, anchors: int, width: int, name: str) -> Any:
    """SSDLite predictor: depthwise 3x3 + BN + ReLU6, then 1x1 conv to anchors*width, flattened."""
    x = _dw_bn(layers, x, 1, name)
    x = layers.Conv2D(anchors * width, 1, use_bias=True, name=f"{name}_pred")(x)
    h, w = x.shape[1], x.shape[2]
    return layers.Reshape((h * w * anchors, width), name=f"{name}_flat")(x)


def build(seed: int) -> Any:
    """SSDLite-MobileNetV2 with weights drawn from ``seed`` (no download)."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    spec = SPEC.inputs[0]
    x_in = keras.Input(shape=spec.shape[1:], batch_size=1, name=spec.name)
    backbone = keras.applications.MobileNetV2(
        input_tensor=x_in, alpha=1.0, include_top=False, weights=None
    )
    features = [backbone.get_layer("block_13_expand_relu").output, backbone.output]
    x = features[-1]
    for i, depth in enumerate(EXTRA_DEPTHS):
        name = f"extra{i + 1}"
        x = _conv_bn(layers, x, depth // 2, f"{name}_reduce")
        x = _dw_bn(layers, x, 2, name)
        x = _conv_bn(layers, x, depth, f"{name}_expand")
        features.append(x)
    boxes, scores = [], []
    for i, (feat, anchors) in enumerate(zip(features, ANCHORS_PER_CELL, strict=True)):
        boxes.append(_head(layers, feat, anchors, 4, f"box{i}"))
        scores.append(_head(layers, feat, anchors, NUM_CLASSES, f"cls{i}"))
    box_out = layers.Concatenate(axis=1, name="boxes")(boxes)
    logits = layers.Concatenate(axis=1, name="class_logits")(scores)
    score_out = layers.Activation("sigmoid", name="scores")(logits)
    return keras.Model(x_in, [box_out, score_out], name=SPEC.name)
