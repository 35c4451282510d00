"""A fake-phone thermal study and a fake-phone battery study, for the study report's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from mobile_webinfer.studies.run import run_study
from mobile_webinfer.studies.spec import StudySpec, parse_runs
from tests.fakephone.bench import stand_in_elf
from tests.fakephone.pytest_fixtures import AdbServer, start_fake_phone

SCALE = 30.0  # a "2 minute" run takes 4 s


def make_fake_studies(server: AdbServer, root: Path, bm: Path) -> dict[str, Path]:
    """{"thermal": run dir, "battery": run dir}: two runs each (native xnnpack and cpu) on one fake phone."""
    bm.write_bytes(stand_in_elf())
    out: dict[str, Path] = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MWI_CACHE", str(root / "cache"))
        for kind, duration in (("thermal", 120.0), ("battery", 90.0)):
            phone = start_fake_phone(server, "pixel", heat_model=True, time_scale=SCALE)
            try:
                spec = StudySpec(kind=kind, target=phone.serial, model="tiny_cnn",
                                 runs=parse_runs("tflite-native/xnnpack,tflite-native/cpu"), duration_s=duration,
                                 benchmark_model=str(bm), time_scale=SCALE, cooldown_timeout_s=5,
                                 sample_interval_s=0.3)  # readings enough for an energy CI on a busy host
                out[kind] = run_study(spec, out_root=root / kind).store.run_dir
            finally:
                phone.stop()
    return out

