"""A phone as a target (see target.py); one file per job beside it."""

from .native_cell import BENCHMARK_MODEL_HINT, NATIVE_BACKENDS, benchmark_model_path
from .samples import memory_from_samples, process_kind, summarize_samples
from .target import AndroidTarget

__all__ = ["BENCHMARK_MODEL_HINT", "NATIVE_BACKENDS", "AndroidTarget", "benchmark_model_path",
           "memory_from_samples", "process_kind", "summarize_samples"]
