"""The probes a study samples: phone (thermal service, every core's cpufreq, GPU clock, battery
charge / current / voltage) and this computer (sysfs thermal zones, cpufreq, RAPL or a laptop
battery).  Each is a `Probe` for the one `Sampler`; a study that needs a source fails closed when
it cannot be read (see run.py)."""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import MeasurementError, MwiError
from ..parsers import parse_battery
from ..parsers.battery import parse_power_supply_value
from ..probes.android import CpuProbe, ThermalProbe
from ..probes.base import Probe, ShellLike

GPU_FREQ_FILES = ("/sys/class/kgsl/kgsl-3d0/gpuclk",          # Adreno: Hz
                  "/sys/kernel/gpu/gpu_clock")                # some Exynos / Mali kernels: MHz
POWER_SUPPLY = "/sys/class/power_supply/battery"


class GpuFreqProbe(Probe):
    """The GPU clock where the kernel lets the shell read it (Adreno's kgsl gpuclk, Hz)."""

    name = "gpu_freq"
    default_interval_s = 1.0

    def __init__(self) -> None:
        self.path: str | None = None

    def supported(self, device: ShellLike) -> bool:
        for path in GPU_FREQ_FILES:
            res = device.shell(["cat", path], timeout=10.0, check=False)
            if res.exit_code == 0 and res.stdout.strip().isdigit():
                self.path = path
                return True
        return False

    def sample(self, device: ShellLike) -> dict[str, Any]:
        assert self.path is not None
        raw = int(self._run(device, ["cat", self.path]).strip())
        khz = raw // 1000 if "kgsl" in self.path else raw * 1000
        return {"freq_khz": {"gpu": khz}}

    def data(self, record: dict[str, Any]) -> dict[str, Any]:
        return record


@dataclass(frozen=True)
class ChargeReading:
    level: float | None
    status: int | None
    charging: bool
    powered: bool
    charge_counter_uah: int | None
    voltage_mv: float | None
    current_ma: float | None
    temperature_c: float | None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


class ChargeProbe(Probe):
    """`dumpsys battery` (level, status, Charge counter uAh, voltage, temperature) and sysfs
    `current_now` where readable (uA; sign from the device profile: +1 = positive while charging).
    With `require_counter` a block without `Charge counter` is an error (the battery study's signal)."""

    name = "battery"
    service = "battery"
    default_interval_s = 1.0

    def __init__(self, *, require_counter: bool = False, current_sign: int = 1):
        self.require_counter = require_counter
        self.current_sign = current_sign
        self._current_ok: bool | None = None

    def command(self) -> list[str]:
        return ["dumpsys", "battery"]

    def sample(self, device: ShellLike) -> ChargeReading:
        b = parse_battery(self._run(device, self.command()), source=f"{device.serial}: dumpsys battery")
        if self.require_counter and b.charge_counter is None:
            raise MeasurementError(f"{device.serial}: dumpsys battery has no 'Charge counter' line (the charge "
                                   f"source vanished)")
        current = None
        if self._current_ok is not False:
            res = device.shell(["cat", f"{POWER_SUPPLY}/current_now"], timeout=10.0, check=False)
            self._current_ok = res.exit_code == 0
            if self._current_ok:
                try:
                    current = parse_power_supply_value(res.stdout, unit="uA", sign=self.current_sign)
                except MwiError:
                    self._current_ok = False
        return ChargeReading(level=b.percent, status=b.status, charging=b.status == 2, powered=b.powered,
                             charge_counter_uah=b.charge_counter, voltage_mv=b.voltage_mv, current_ma=current,
                             temperature_c=b.temperature_c)


def phone_thermal_probes() -> list[Probe]:
    """Thermal status + every HAL temperature, every core's frequency, the GPU clock where readable,
    battery temperature (the battery probe)."""
    return [ThermalProbe(), CpuProbe(), GpuFreqProbe(), ChargeProbe()]


def phone_battery_probes(current_sign: int = 1) -> list[Probe]:
    return [ChargeProbe(require_counter=True, current_sign=current_sign), ThermalProbe(), CpuProbe()]


# -- this computer ---------------------------------------------------------------------------
def _read_int(path: str) -> int | None:
    try:
        return int(Path(path).read_text().strip())
    except (OSError, ValueError):
        return None


class HostThermalProbe(Probe):
    """`/sys/class/thermal/thermal_zone*/temp` (millidegrees C); no thermal status on a PC."""

    name = "thermal"

    def __init__(self, root: str = "/sys/class/thermal") -> None:
        self.root = root

    def zones(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for z in sorted(glob.glob(f"{self.root}/thermal_zone*")):
            milli = _read_int(f"{z}/temp")
            if milli is None:
                continue
            try:
                kind = Path(f"{z}/type").read_text().strip()
            except OSError:
                kind = Path(z).name
            out[f"{kind}:{Path(z).name}"] = milli / 1000.0
        return out

    def supported(self, device: ShellLike) -> bool:
        return bool(self.zones())

    def sample(self, device: ShellLike) -> dict[str, Any]:
        zones = self.zones()
        if not zones:
            raise MeasurementError(f"no thermal zone under {self.root} can be read any more")
        return {"status": None, "temperatures": zones}

    def data(self, record: dict[str, Any]) -> dict[str, Any]:
        return record


class HostCpuFreqProbe(Probe):
    """Every core's `scaling_cur_freq` (kHz)."""

    name = "cpu"

    def __init__(self, root: str = "/sys/devices/system/cpu") -> None:
        self.root = root

    def freqs(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for p in sorted(glob.glob(f"{self.root}/cpu[0-9]*/cpufreq/scaling_cur_freq")):
            v = _read_int(p)
            if v is not None:
                out[Path(p).parent.parent.name] = v
        return out

    def supported(self, device: ShellLike) -> bool:
        return bool(self.freqs())

    def sample(self, device: ShellLike) -> dict[str, Any]:
        f = self.freqs()
        if not f:
            raise MeasurementError(f"no cpufreq under {self.root} can be read any more")
        return {"freq_khz": f}

    def data(self, record: dict[str, Any]) -> dict[str, Any]:
        return record


class HostEnergyProbe(Probe):
    """RAPL package energy (`/sys/class/powercap/intel-rapl:*/energy_uj`) or a laptop battery
    (`/sys/class/power_supply/BAT*/energy_now` uWh, or `charge_now` uAh with `voltage_now` uV)."""

    name = "energy"

    def __init__(self, powercap: str = "/sys/class/powercap", supplies: str = "/sys/class/power_supply") -> None:
        self.powercap = powercap
        self.supplies = supplies

    def source(self) -> str | None:
        if glob.glob(f"{self.powercap}/intel-rapl:[0-9]/energy_uj"):
            return "rapl"
        for bat in sorted(glob.glob(f"{self.supplies}/BAT*")):
            if _read_int(f"{bat}/energy_now") is not None or _read_int(f"{bat}/charge_now") is not None:
                return "battery"
        return None

    def supported(self, device: ShellLike) -> bool:
        return self.source() is not None

    def sample(self, device: ShellLike) -> dict[str, Any]:
        src = self.source()
        if src == "rapl":
            total = sum(v for v in (_read_int(p) for p in glob.glob(f"{self.powercap}/intel-rapl:[0-9]/energy_uj"))
                        if v is not None)
            return {"source": "rapl", "energy_uj": total}
        for bat in sorted(glob.glob(f"{self.supplies}/BAT*")):
            uv = _read_int(f"{bat}/voltage_now")
            e = _read_int(f"{bat}/energy_now")
            if e is not None:  # uWh -> stored as charge at the present voltage too
                out: dict[str, Any] = {"source": "battery", "energy_uj": e * 3600.0}
                if uv:
                    out.update(voltage_mv=uv / 1000, charge_counter_uah=e / (uv / 1e6))
                return out
            c = _read_int(f"{bat}/charge_now")
            if c is not None:
                return {"source": "battery", "charge_counter_uah": c, "voltage_mv": (uv or 0) / 1000 or None}
        raise MeasurementError("the host energy source (RAPL / battery) cannot be read any more")

    def data(self, record: dict[str, Any]) -> dict[str, Any]:
        return record
