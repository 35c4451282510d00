"""Thermal figures of one run: time to the first throttle, peak temperatures, the stability ratio,
the throttle timeline, how far each core's frequency stepped down."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .derive import Point, Sample, freq_range, peak_temps, start_end, throttle_timeline, time_to_throttle


@dataclass(frozen=True)
class ThermalFigures:
    latency_start_ms: float | None
    latency_end_ms: float | None
    window_s: float
    stability: float | None
    time_to_throttle_s: float | None
    max_thermal_status: int | None
    max_temp_c: float | None
    peak_temps_c: dict[str, float]
    throttle_timeline: list[list[float]]
    cpu_freq_khz: dict[str, list[int]]

    def to_json(self) -> dict[str, Any]:
        return {"latency_start_ms": self.latency_start_ms, "latency_end_ms": self.latency_end_ms,
                "window_s": self.window_s, "stability": self.stability,
                "time_to_throttle_s": self.time_to_throttle_s, "max_thermal_status": self.max_thermal_status,
                "max_temp_c": self.max_temp_c, "peak_temps_c": self.peak_temps_c,
                "throttle_timeline": self.throttle_timeline, "cpu_freq_first_min_khz": self.cpu_freq_khz}


def thermal_figures(points: Sequence[Point], samples: Sequence[Sample]) -> ThermalFigures:
    start, end, window = start_end(points)
    statuses = [s.status for s in samples if s.ok and s.status is not None]
    peaks = peak_temps(samples)
    stability = round(start / end, 4) if start and end else None
    return ThermalFigures(
        latency_start_ms=None if start is None else round(start, 4),
        latency_end_ms=None if end is None else round(end, 4), window_s=round(window, 3), stability=stability,
        time_to_throttle_s=time_to_throttle(samples), max_thermal_status=max(statuses) if statuses else None,
        max_temp_c=max(peaks.values()) if peaks else None, peak_temps_c=peaks,
        throttle_timeline=throttle_timeline(samples), cpu_freq_khz=freq_range(samples))
