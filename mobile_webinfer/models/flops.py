"""FLOPs of a model: the TF graph profiler over the frozen serving function (1 MAC = 2 FLOPs)."""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path
from typing import Any


def count_flops_saved_model(saved_model_dir: Path, signature: str = "serving_default") -> int | None:
    """Float operations of one inference of the SavedModel's signature; None when unknown."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(saved_model_dir))
    return count_flops_concrete(loaded.signatures[signature])


def count_flops_concrete(fn: Any) -> int | None:
    """Float operations of a concrete function with static shapes (frozen first)."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    frozen = convert_variables_to_constants_v2(fn)
    tf_logger = tf.get_logger()
    level = tf_logger.level
    opts = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    opts["output"] = "none"
    tf_logger.setLevel("ERROR")  # the v1 profiler warns about deprecated APIs on every call
    try:
        with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull), \
                contextlib.redirect_stderr(io.StringIO()):
            prof = tf.compat.v1.profiler.profile(graph=frozen.graph, run_meta=tf.compat.v1.RunMetadata(),
                                                 cmd="op", options=opts)
    finally:
        tf_logger.setLevel(level)
    total = int(getattr(prof, "total_float_ops", 0) or 0)
    return total or None
