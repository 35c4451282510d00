"""EfficientNetV2-B0 (Tan & Le 2021), the Keras application with seeded random weights."""

from __future__ import annotations

from typing import Any

from . import ArchSpec, InputSpec, keras_application

SPEC = ArchSpec(
    name="efficientnet_v2_b0",
    task="classification",
    inputs=(InputSpec("input", (1, 224, 224, 3), "float32", value_range=(0.0, 255.0)),),
    outputs=("probabilities",),
    reference_params=7_200_312,
    reference="keras.applications.EfficientNetV2B0 (include_top, 1000 classes): 7,200,312 params (7.1 M in the study)",
    notes=(
        "keras.applications.EfficientNetV2B0(weights=None): published layer structure, seeded random weights.",
        "Includes the application's preprocessing (pixels in [0, 255] scaled and normalized with the"
        " ImageNet mean / std, written as one per-channel Rescaling), so inputs are drawn from [0, 255).",
    ),
    version=2,  # 2: preprocessing as one Rescaling (no captured Normalization constants)
)

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def _preprocess(keras: Any, x: Any) -> Any:
    # The application's own preprocessing (Rescaling 1/255 + Normalization with ImageNet mean /
    # variance) as ONE Rescaling with per-channel scale and offset: the same arithmetic, but
    # Keras 3's Normalization keeps its statistics as captured eager tensors, which tf2onnx turns
    # into extra ONNX graph inputs.
    scale = [1.0 / (255.0 * s) for s in _IMAGENET_STD]
    offset = [-m / s for m, s in zip(_IMAGENET_MEAN, _IMAGENET_STD, strict=True)]
    return keras.layers.Rescaling(scale=scale, offset=offset, name="preprocessing")(x)


def build(seed: int) -> Any:
    """EfficientNetV2-B0 with weights drawn from ``seed`` (no download)."""
    return keras_application(SPEC, "EfficientNetV2B0", seed, preprocess=_preprocess, include_preprocessing=False)
