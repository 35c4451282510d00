"""Battery figures of one run: energy per inference against the idle baseline, and whether the
phone charged although unplugged (then the run is flagged and its energy not published)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .derive import Energy, Point, Sample, charging_seen, energy
from .run import CHARGING_HINT


@dataclass(frozen=True)
class BatteryFigures:
    energy: Energy
    charging_detected: bool
    note: str | None

    def to_json(self) -> dict[str, Any]:
        out = self.energy.to_json()
        if self.charging_detected:  # a charging phone's drain is no measure of the inference's energy
            out.update(energy_mj_per_inference=None, energy_ci95=None, mah_per_1000_inferences=None,
                       mah_per_1000_ci95=None, energy_upper_bound_mj=None, energy_flags=[])
        out["charging_detected"] = self.charging_detected
        out["battery_note"] = self.note
        return out


def battery_figures(points: Sequence[Point], run: Sequence[Sample], idle: Sequence[Sample],
                    duration_s: float | None = None) -> BatteryFigures:
    charging = charging_seen(run) or charging_seen(idle)
    return BatteryFigures(energy(run, idle, points, duration_s=duration_s), charging, CHARGING_HINT if charging else None)
