"""ESRGAN generator (Wang et al. 2018): RRDBNet, 23 residual-in-residual dense blocks, nf=64, gc=32, x4.

conv_first 3->64; 23 RRDB (each: 3 residual dense blocks of five 3x3 convs with growth 32, LeakyReLU
0.2, residual scaling 0.2); trunk conv and long skip; two (nearest 2x upsample + conv + LeakyReLU);
HR conv + LeakyReLU; conv_last 64->3. All convs 3x3 with bias, 'same' padding.
"""

from __future__ import annotations

from typing import Any

from . import ArchSpec, InputSpec

NUM_BLOCKS = 23
NF = 64  # trunk features
GC = 32  # growth channels of the dense blocks
RES_SCALE = 0.2

SPEC = ArchSpec(
    name="esrgan",
    task="super_resolution",
    inputs=(InputSpec("input", (1, 128, 128, 3), "float32"),),
    outputs=("image",),
    reference_params=16_697_987,
    reference="ESRGAN RRDBNet (Wang et al. 2018, xinntao/ESRGAN RRDB_ESRGAN_x4): 16,697,987 params",
    notes=(
        "Published RRDBNet layer structure (23 RRDB, nf 64, gc 32, x4 nearest upsampling); seeded random"
        " weights. Output [1,512,512,3].",
        "Input 128x128 as asked by the zoo spec (the study's TF Hub ESRGAN took any size; its TFLite"
        " example uses 50x50). About 0.3 T multiply-adds per inference: seconds even on a desktop CPU.",
    ),
    version=2,  # 2: conv_last is the output (no Identity layer)
)


def build(seed: int) -> Any:
    """RRDBNet x4 with weights drawn from ``seed`` (no download)."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)

    def conv(x: Any, filters: int, name: str, lrelu: bool = False) -> Any:
        x = layers.Conv2D(filters, 3, padding="same", use_bias=True, name=name)(x)
        return layers.LeakyReLU(negative_slope=0.2, name=f"{name}_lrelu")(x) if lrelu else x

    def scaled_residual(x: Any, y: Any, name: str) -> Any:
        y = layers.Rescaling(RES_SCALE, name=f"{name}_scale")(y)
        return layers.Add(name=f"{name}_add")([x, y])

    def rdb(x: Any, name: str) -> Any:
        feats = [x]
        for i in range(1, 5):
            inp = feats[0] if len(feats) == 1 else layers.Concatenate(name=f"{name}_cat{i}")(feats)
            feats.append(conv(inp, GC, f"{name}_conv{i}", lrelu=True))
        out = conv(layers.Concatenate(name=f"{name}_cat5")(feats), NF, f"{name}_conv5")
        return scaled_residual(x, out, name)

    spec = SPEC.inputs[0]
    x_in = keras.Input(shape=spec.shape[1:], batch_size=1, name=spec.name)
    fea = conv(x_in, NF, "conv_first")
    trunk = fea
    for b in range(NUM_BLOCKS):
        y = trunk
        for r in range(3):
            y = rdb(y, f"rrdb{b}_rdb{r}")
        trunk = scaled_residual(trunk, y, f"rrdb{b}")
    trunk = conv(trunk, NF, "trunk_conv")
    fea = layers.Add(name="trunk_add")([fea, trunk])
    for i in (1, 2):
        fea = layers.UpSampling2D(2, interpolation="nearest", name=f"up{i}")(fea)
        fea = conv(fea, NF, f"upconv{i}", lrelu=True)
    fea = conv(fea, NF, "hr_conv", lrelu=True)
    out = conv(fea, 3, "image")  # conv_last, named as the output
    return keras.Model(x_in, out, name=SPEC.name)
