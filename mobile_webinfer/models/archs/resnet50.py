"""ResNet-50 v1 (He et al. 2015), the Keras application with seeded random weights."""

from __future__ import annotations

from typing import Any

from . import ArchSpec, InputSpec, keras_application

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


def build(seed: int) -> Any:
    """ResNet-50 with weights drawn from ``seed`` (no download)."""
    return keras_application(SPEC, "ResNet50", seed)
