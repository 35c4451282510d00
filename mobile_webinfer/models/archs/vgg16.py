"""VGG-16 (Simonyan & Zisserman 2014), the Keras application with seeded random weights."""

from __future__ import annotations

from typing import Any

from . import ArchSpec, InputSpec, keras_application

SPEC = ArchSpec(
    name="vgg16",
    task="classification",
    inputs=(InputSpec("input", (1, 224, 224, 3), "float32"),),
    outputs=("probabilities",),
    reference_params=138_357_544,
    reference="keras.applications.VGG16 (include_top, 1000 classes): 138,357,544 params",
    notes=(
        "keras.applications.VGG16(weights=None): the published layer structure, seeded random weights.",
        "528 MB in fp32: the .tflite fp32 file and TF.js weights are large; building takes minutes.",
        "Input expected in caffe-style BGR mean-subtracted pixels by the original preprocessing; seeded"
        " samples are uniform [0, 1).",
    ),
    runtime_support={
        "onnx": (
            "tf2onnx 1.17 needs more than 16 GB of RAM to convert this 528 MB graph (measured: the"
            " converting process passed 15.5 GB and was stopped; in-process the build was OOM-killed at"
            " 19 GB on a 24 GB machine); not built by default: `mwi models build vgg16 --formats onnx` on a"
            " machine with more memory"
        ),
    },
    skip_formats=("onnx",),
)


def build(seed: int) -> Any:
    """VGG-16 with weights drawn from ``seed`` (no download)."""
    return keras_application(SPEC, "VGG16", seed)
