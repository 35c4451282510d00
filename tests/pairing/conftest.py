import pytest

from tests.fakephone.bench import stand_in_elf


@pytest.fixture
def bm_binary(tmp_path):
    """Stands in for TFLite's benchmark_model: the fake phone runs the pushed .tflite itself."""
    p = tmp_path / "benchmark_model"
    p.write_bytes(stand_in_elf())
    return p
