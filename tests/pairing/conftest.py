import pytest


@pytest.fixture
def bm_binary(tmp_path):
    """Stands in for TFLite's benchmark_model: the fake phone runs the pushed .tflite itself."""
    p = tmp_path / "benchmark_model"
    p.write_bytes(b"\x7fELF stand-in: the fake phone runs the pushed model with host TFLite\n")
    return p
