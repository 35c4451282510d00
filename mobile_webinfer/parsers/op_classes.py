"""Operator classes shared by every runtime: one table, as data.

`classify(op_type, name)` maps a runtime's own operator type (TFLite `CONV_2D`, ONNX `Conv`,
TF.js `FusedConv2D`, XNNPACK `Convolution (NHWC, F32) GEMM`) to one class, so that per-operator
times from different runtimes can be set side by side.  Types are compared lower-cased with
everything but letters and digits removed; XNNPACK names (`Family (layout, types) Variant`) are
matched on their family and variant.  ONNX has one `Conv` for dense and depthwise convolutions;
a `Conv` whose node name says `depthwise` (tf2onnx keeps the Keras names) is counted as depthwise.
"""

from __future__ import annotations

import re

RUNTIME_OVERHEAD = "runtime-overhead"
OTHER = "other"

#: class -> operator types (normalised: lower case, letters and digits only)
OP_CLASSES: dict[str, tuple[str, ...]] = {
    "convolution": ("conv2d", "conv", "fusedconv2d", "fusedconv", "convolution", "conv3d", "nchwcconv",
                    "qlinearconv", "convinteger"),
    "depthwise": ("depthwiseconv2d", "depthwiseconv2dnative", "fuseddepthwiseconv2d", "dwconv"),
    "transposed-convolution": ("transposeconv", "convtranspose", "conv2dbackpropinput", "deconvolution"),
    "matmul": ("fullyconnected", "matmul", "fusedmatmul", "gemm", "batchmatmul", "batchmatmulv2",
               "batchmatrixmultiply", "qlinearmatmul", "matmulinteger", "einsum"),
    "elementwise": ("add", "addv2", "addn", "sub", "subtract", "mul", "multiply", "div", "divide", "realdiv",
                    "relu", "relu6", "leakyrelu", "prelu", "elu", "selu", "clip", "clipbyvalue", "clamp",
                    "sigmoid", "logistic", "tanh", "hardswish", "hardsigmoid", "swish", "gelu", "erf", "exp",
                    "log", "sqrt", "rsqrt", "square", "squareddifference", "pow", "neg", "negate", "abs",
                    "maximum", "minimum", "max", "min", "biasadd", "floor", "ceil", "round", "sign",
                    "binaryelementwise", "unaryelementwise", "squareroot", "reciprocalsquareroot", "copysign",
                    "where", "select", "equal", "greater", "less", "logicaland", "logicalnot"),
    "pooling": ("maxpool2d", "averagepool2d", "maxpool", "avgpool", "averagepool", "globalaveragepool",
                "globalmaxpool", "mean", "maxpooling", "averagepooling", "globalaveragepooling", "argmaxpooling",
                "l2pool2d"),
    "reduction": ("sum", "reducemean", "reducesum", "reducemax", "reducemin", "prod", "argmax", "argmin",
                  "reduceprod", "all", "any"),
    "reshape/transpose": ("reshape", "transpose", "squeeze", "unsqueeze", "expanddims", "flatten", "identity",
                          "reorderinput", "reorderoutput", "copy", "pad", "padv2", "mirrorpad", "constantpad",
                          "slice", "stridedslice", "concat", "concatenation", "concatv2", "pack", "unpack",
                          "split", "splitv", "gather", "gatherv2", "gathernd", "tile", "shape", "depthtospace",
                          "spacetodepth", "batchtospacend", "spacetobatchnd", "broadcastto", "expand",
                          "constant", "fill", "onehot", "range", "stack"),
    "softmax": ("softmax", "logsoftmax"),
    "normalization": ("batchnormalization", "fusedbatchnorm", "fusedbatchnormv3", "layernormalization",
                      "instancenormalization", "l2normalization", "localresponsenormalization", "lrn"),
    "resize": ("resizebilinear", "resizenearestneighbor", "resize", "upsample", "resizebilinear2d"),
    "conversion": ("quantize", "dequantize", "cast", "convert", "quantizelinear", "dequantizelinear",
                   "dynamicquantizelinear"),
    "delegate-partition": ("tflitexnnpackdelegate", "tflitennapidelegate", "tflitegpudelegatev2",
                           "tflitehexagondelegate", "tflitecoremldelegate"),
}

_BY_TYPE = {t: cls for cls, types in OP_CLASSES.items() for t in types}
_XNN = re.compile(r"^(?P<family>[A-Za-z][A-Za-z0-9 ]*?)\s*\((?P<layout>[^)]*)\)\s*(?P<variant>.*)$")


def _norm(s: str) -> str:
    return re.sub(r"[^a-z0-9]", "", s.lower())


def classify(op_type: str, name: str = "") -> str:
    """The class of one operator type (`other` when the table has none)."""
    m = _XNN.match(op_type.strip())
    if m:  # XNNPACK: "Convolution (NHWC, F32) DWConv" -> depthwise, "... GEMM" / "IGEMM" -> convolution
        variant, family = _norm(m.group("variant")), _norm(m.group("family"))
        if variant == "dwconv":
            return "depthwise"
        cls = _BY_TYPE.get(family)
        return cls if cls else OTHER
    cls = _BY_TYPE.get(_norm(op_type), OTHER)
    if cls == "convolution" and "depthwise" in name.lower():
        return "depthwise"
    return cls


__all__ = ["OP_CLASSES", "OTHER", "RUNTIME_OVERHEAD", "classify"]
