"""Probes (what the phone says during a run) and the periodic sampler that collects them."""

from .android import (
                      BatteryProbe,
                      CpuProbe,
                      CpuSample,
                      GfxinfoProbe,
                      MeminfoProbe,
                      ThermalProbe,
                      cpu_script,
                      default_probes,
)
from .base import Probe, ShellLike, validate_package
from .sampler import ProbeCost, Sampler

__all__ = ["BatteryProbe", "CpuProbe", "CpuSample", "GfxinfoProbe", "MeminfoProbe", "Probe",
           "ProbeCost", "Sampler", "ShellLike", "ThermalProbe", "cpu_script", "default_probes", "validate_package"]
