"""YOLOv5s v6.0 (Ultralytics, 2021): CSP-Darknet53 with C3 blocks, SPPF, PANet neck, Detect head; 320x320.

Layer plan of ``yolov5s.yaml`` (depth 0.33, width 0.50): Conv(32,6,2,2) Conv(64,3,2) C3(64)x1
Conv(128,3,2) C3(128)x2 Conv(256,3,2) C3(256)x3 Conv(512,3,2) C3(512)x1 SPPF(512,5), then the PANet
head (1x1 conv, nearest upsample, concat, C3 without shortcut) down to P3/8 and back up to P5/32, and a
1x1 Detect conv per level with 3 anchors x (80 classes + 5). Conv = Conv2D(no bias) + BN + SiLU.
"""

from __future__ import annotations

from typing import Any

from . import ArchSpec, InputSpec

NUM_CLASSES = 80
NUM_ANCHORS = 3  # anchors per cell and level
STRIDES = (8, 16, 32)

SPEC = ArchSpec(
    name="yolov5s",
    task="detection",
    inputs=(InputSpec("input", (1, 320, 320, 3), "float32"),),
    outputs=("predictions",),
    reference_params=7_235_389,
    reference="Ultralytics YOLOv5s v6.0 (80 classes): 7,235,389 params (7.2 M), 16.5 GFLOPs at 640",
    notes=(
        "Published v6.0 layer structure with SiLU activations (no Mish/Softplus, which failed on TF.js"
        " wasm in the original study); seeded random weights; PyTorch-style symmetric padding on strided"
        " convs (explicit ZeroPadding2D).",
        "Output [1,6300,85]: the raw Detect-head values of the 3 levels (40x40, 20x20, 10x10 cells x 3"
        " anchors) flattened and concatenated; sigmoid, grid/anchor decoding and NMS are NOT in the graph.",
        "The study's input was 320x320 (the Ultralytics default is 640).",
    ),
)


class _Builder:
    """Creates uniquely named YOLOv5 blocks (keras imported lazily by ``build``)."""

    def __init__(self, keras: Any) -> None:
        self.keras = keras
        self.layers = keras.layers
        self.count = 0

    def _name(self, kind: str) -> str:
        self.count += 1
        return f"{kind}{self.count}"

    def conv(self, x: Any, filters: int, k: int = 1, s: int = 1, p: int | None = None) -> Any:
        """Conv2D(no bias) + BatchNorm + SiLU with PyTorch's padding (k // 2 unless given)."""
        L = self.layers
        name = self._name("conv")
        pad = k // 2 if p is None else p
        if s == 1 and 2 * pad == k - 1:
            x = L.Conv2D(filters, k, strides=1, padding="same", use_bias=False, name=f"{name}_conv")(x)
        else:
            if pad:
                x = L.ZeroPadding2D(pad, name=f"{name}_pad")(x)
            x = L.Conv2D(filters, k, strides=s, padding="valid", use_bias=False, name=f"{name}_conv")(x)
        x = L.BatchNormalization(epsilon=1e-3, momentum=0.97, name=f"{name}_bn")(x)
        return L.Activation("silu", name=f"{name}_silu")(x)

    def c3(self, x: Any, filters: int, n: int, shortcut: bool = True) -> Any:
        """CSP bottleneck with 3 convs: cv3(concat(m(cv1(x)), cv2(x)))."""
        hidden = filters // 2
        a = self.conv(x, hidden, 1)
        b = self.conv(x, hidden, 1)
        for _ in range(n):
            y = self.conv(self.conv(a, hidden, 1), hidden, 3)
            a = self.layers.Add(name=self._name("add"))([a, y]) if shortcut else y
        return self.conv(self.layers.Concatenate(name=self._name("cat"))([a, b]), filters, 1)

    def sppf(self, x: Any, filters: int, k: int = 5) -> Any:
        """Spatial pyramid pooling - fast: three chained k x k max pools, concatenated."""
        L = self.layers
        x = self.conv(x, x.shape[-1] // 2, 1)
        pools = [x]
        for _ in range(3):
            pools.append(L.MaxPooling2D(k, strides=1, padding="same", name=self._name("pool"))(pools[-1]))
        return self.conv(L.Concatenate(name=self._name("cat"))(pools), filters, 1)

    def up(self, x: Any) -> Any:
        return self.layers.UpSampling2D(2, interpolation="nearest", name=self._name("up"))(x)

    def cat(self, xs: list[Any]) -> Any:
        return self.layers.Concatenate(name=self._name("cat"))(xs)


def build(seed: int) -> Any:
    """YOLOv5s v6.0 with weights drawn from ``seed`` (no download)."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    spec = SPEC.inputs[0]
    x_in = keras.Input(shape=spec.shape[1:], batch_size=1, name=spec.name)
    b = _Builder(keras)
    # Backbone
    x = b.conv(x_in, 32, 6, 2, 2)  # P1/2
    x = b.conv(x, 64, 3, 2)  # P2/4
    x = b.c3(x, 64, 1)
    x = b.conv(x, 128, 3, 2)  # P3/8
    p3 = b.c3(x, 128, 2)
    x = b.conv(p3, 256, 3, 2)  # P4/16
    p4 = b.c3(x, 256, 3)
    x = b.conv(p4, 512, 3, 2)  # P5/32
    x = b.c3(x, 512, 1)
    x = b.sppf(x, 512, 5)
    # PANet head
    h10 = b.conv(x, 256, 1)
    x = b.c3(b.cat([b.up(h10), p4]), 256, 1, shortcut=False)
    h14 = b.conv(x, 128, 1)
    out_p3 = b.c3(b.cat([b.up(h14), p3]), 128, 1, shortcut=False)  # P3/8 small
    x = b.conv(out_p3, 128, 3, 2)
    out_p4 = b.c3(b.cat([x, h14]), 256, 1, shortcut=False)  # P4/16 medium
    x = b.conv(out_p4, 256, 3, 2)
    out_p5 = b.c3(b.cat([x, h10]), 512, 1, shortcut=False)  # P5/32 large
    # Detect: one 1x1 conv (with bias) per level, flattened to (cells * anchors, 85)
    outs = []
    for i, feat in enumerate((out_p3, out_p4, out_p5)):
        y = layers.Conv2D(NUM_ANCHORS * (NUM_CLASSES + 5), 1, use_bias=True, name=f"detect{i}")(feat)
        cells = y.shape[1] * y.shape[2] * NUM_ANCHORS
        outs.append(layers.Reshape((cells, NUM_CLASSES + 5), name=f"detect{i}_flat")(y))
    out = layers.Concatenate(axis=1, name="predictions")(outs)
    return keras.Model(x_in, out, name=SPEC.name)
