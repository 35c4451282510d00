"""Architectures of the model zoo, built in code with seeded weights (never downloaded).

Each module ``archs/<name>.py`` defines::

    SPEC = ArchSpec(name=..., task=..., inputs=(InputSpec("input", (1, 224, 224, 3), "float32"),),
                    reference_params=..., reference="...", notes=("...",))
    def build(seed: int) -> keras.Model   # same seed -> same weights

and is registered by adding its module name to ``ARCH_MODULES`` below (one line).
Import keras inside ``build`` (not at module top) so that listing the catalog stays fast.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

# One line per architecture; the order is the order of `mwi models list`.
ARCH_MODULES: tuple[str, ...] = (
    "mobilenet_v2",
    "resnet50",
    "vgg16",
    "efficientnet_v2_b0",
    "ssd_mobilenet_v2",
    "yolov5s",
    "movenet_thunder",
    "esrgan",
    "mobilebert",
    "tiny_cnn",
)

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
DTYPES = ("float32", "int32", "int64", "uint8", "int8")


@dataclass(frozen=True)
class InputSpec:
    """One model input: canonical name, fixed shape (batch 1), dtype.

    ``value_range`` is the [low, high) range seeded sample inputs are drawn from
    (uniform floats, or integers such as token ids < vocab; masks use (0, 2)).
    """

    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"
    value_range: tuple[float, float] = (0.0, 1.0)

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", self.name):
            raise ValueError(f"bad input name {self.name!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"input {self.name}: dtype {self.dtype!r} not one of {DTYPES}")
        if not self.shape or any(not isinstance(d, int) or d <= 0 for d in self.shape):
            raise ValueError(f"input {self.name}: shape {self.shape!r} must be fixed positive ints")
        lo, hi = self.value_range
        if not hi > lo:
            raise ValueError(f"input {self.name}: empty value_range {self.value_range!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}


@dataclass(frozen=True)
class ArchSpec:
    """What an architecture is: name, task, inputs, and the published size it reproduces.

    ``outputs`` optionally names the model's outputs in canonical order (default
    ``output_0``, ``output_1``... in the order the Keras model returns them).
    ``version`` is bumped when the architecture code changes, so cached builds rebuild.
    """

    name: str
    task: str
    inputs: tuple[InputSpec, ...]
    reference_params: int | None = None
    reference: str = ""
    notes: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    version: int = 1
    runtime_support: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    # formats not built unless asked for by name (--formats): each needs a reason in runtime_support
    skip_formats: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _NAME_RE.match(self.name):
            raise ValueError(f"bad model name {self.name!r} (lowercase letters, digits, _)")
        if not self.inputs:
            raise ValueError(f"{self.name}: an architecture needs at least one input")
        names = [i.name for i in self.inputs]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: duplicate input names {names}")
        if len(set(self.outputs)) != len(self.outputs):
            raise ValueError(f"{self.name}: duplicate output names {self.outputs}")


@dataclass(frozen=True)
class Arch:
    """A loaded architecture: its spec and its seeded builder."""

    spec: ArchSpec
    build: Callable[[int], Any]


def _load_module(module: str) -> ModuleType:
    return importlib.import_module(f"{__name__}.{module}")


def available_modules() -> list[str]:
    """Registered modules whose file exists (a zoo module not written yet is skipped)."""
    import importlib.util

    return [m for m in ARCH_MODULES if importlib.util.find_spec(f"{__name__}.{m}") is not None]


def load_arch(module: str) -> Arch:
    """Import ``archs/<module>.py`` and check it follows the interface."""
    mod = _load_module(module)
    spec = getattr(mod, "SPEC", None)
    build = getattr(mod, "build", None)
    if not isinstance(spec, ArchSpec) or not callable(build):
        raise TypeError(f"archs/{module}.py must define SPEC: ArchSpec and build(seed) -> keras.Model")
    if spec.name != module:
        raise TypeError(f"archs/{module}.py: SPEC.name {spec.name!r} differs from the module name")
    return Arch(spec=spec, build=build)


def keras_input(spec: ArchSpec, keras: Any, index: int = 0) -> Any:
    """The fixed-shape (batch 1) Keras input of `spec`'s input `index`, under its canonical name."""
    inp = spec.inputs[index]
    return keras.Input(shape=inp.shape[1:], batch_size=inp.shape[0], dtype=inp.dtype, name=inp.name)


def keras_application(spec: ArchSpec, app: str, seed: int, *, preprocess: Callable[[Any, Any], Any] | None = None,
                      **kwargs: Any) -> Any:
    """A `keras.applications.<app>` classifier with weights drawn from `seed` (never downloaded).

    `preprocess(keras, x)` may put layers between the input and the application.
    """
    import keras

    keras.utils.set_random_seed(seed)
    x_in = keras_input(spec, keras)
    x = preprocess(keras, x_in) if preprocess is not None else x_in
    base = getattr(keras.applications, app)(weights=None, include_top=True, input_tensor=x, classes=1000,
                                            classifier_activation="softmax", **kwargs)
    return keras.Model(x_in, base.output, name=spec.name)
