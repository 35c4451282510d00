import pytest

from tests.report.synthetic import make_run


@pytest.fixture(scope="module")
def phone_run(tmp_path_factory):
    """Two fake phones' worth of cells, with thermal, battery, CPU, memory and gfxinfo samples."""
    return make_run(tmp_path_factory.mktemp("phones"), samples=3000)
