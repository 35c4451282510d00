"""Device profiles: per-model quirks as data (`device_profiles/*.toml`).

A profile is matched on one getprop key (e.g. `ro.product.model = "SM-S936B"`, or a list of
values of that one key for a model sold under several codenames); unknown phones
get `default.toml`.  A profile is a *claim*: `check_profile` compares it with the phone and
returns what held, to be recorded in the run's manifest.

    profiles = load_profiles()
    prof = match_profile(props, profiles)
    report = check_profile(prof, props, thermal_sensor_names={"AP", "BAT", "SKIN"})
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..paths import PROFILES_DIR

DEFAULT_NAME = "default"
# A phone on a bench reads between these; outside them the unit claim is probably wrong.
PLAUSIBLE_BATTERY_C = (5.0, 80.0)
THERMAL_SOURCES = ("thermalservice", "battery")  # where the cool-down gate reads the thermal status
_TEMP_SCALES = {"decicelsius": 10.0, "celsius": 1.0, "millicelsius": 1000.0}

#: What a device profile's `[browsers."PKG"]` table may change in a browser spec (never its key or
#: package).  The profile format owns this vocabulary; browsers.specs checks its fields against it.
OVERRIDABLE_FIELDS = ("name", "activity", "devtools_socket", "devtools_verified", "engine", "measurable", "notes")


@dataclass(frozen=True)
class FirstRunStep:
    """One UI step to get past a browser's first-run screens: click what matches, if present."""

    text: str | None = None
    resource_id: str | None = None
    description: str | None = None
    optional: bool = True

    def selector(self) -> dict[str, str]:
        sel = {}
        if self.text:
            sel["text"] = self.text
        if self.resource_id:
            sel["resourceId"] = self.resource_id
        if self.description:
            sel["description"] = self.description
        return sel


@dataclass(frozen=True)
class Profile:
    """What mwi believes about one phone model."""

    name: str
    description: str
    match_key: str | None                      # getprop key; None only for the default profile
    match_value: tuple[str, ...] | None        # the phone matches when the key holds one of these
    soc: str | None = None                     # expected SoC string as fingerprint() reports it
    abi: str | None = None
    thermal_source: str = "thermalservice"     # where thermal status comes from
    skin_sensor: str | None = None             # thermalservice sensor names to watch
    battery_sensor: str | None = None
    cpu_sensors: tuple[str, ...] = ()
    gpu_sensors: tuple[str, ...] = ()
    battery_temperature_unit: str = "decicelsius"   # `dumpsys battery` temperature: 280 -> 28.0 C
    battery_current_sign: int = 1              # +1: positive current_now means charging
    browser_overrides: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()
    first_run: tuple[tuple[str, tuple[FirstRunStep, ...]], ...] = ()
    sources: tuple[str, ...] = ()              # captures the values came from
    path: str = ""

    @property
    def battery_temperature_divisor(self) -> float:
        return _TEMP_SCALES[self.battery_temperature_unit]

    def overrides_for(self, package: str) -> dict[str, Any]:
        return dict(dict(self.browser_overrides).get(package, ()))

    def first_run_steps(self, package: str) -> tuple[FirstRunStep, ...]:
        return dict(self.first_run).get(package, ())

    def matches(self, props: dict[str, str]) -> bool:
        return (self.match_key is not None and self.match_value is not None
                and props.get(self.match_key, "").strip() in self.match_value)


@dataclass(frozen=True)
class ProfileCheck:
    """Which of a profile's claims held on the phone (for the manifest)."""

    profile: str
    held: tuple[tuple[str, bool | None], ...]   # claim -> True / False / None (not checked)
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return all(v is not False for _, v in self.held)

    def to_json(self) -> dict[str, Any]:
        return {"profile": self.profile, "ok": self.ok, "held": dict(self.held), "notes": list(self.notes)}


def _err(path: Path, msg: str) -> UsageError:
    return UsageError(f"device profile {path.name}: {msg}")


def parse_profile(data: dict[str, Any], path: Path) -> Profile:
    """Build a Profile from a TOML table; a one-line UsageError naming the file on bad input."""
    known = {"name", "description", "match", "soc", "abi", "thermal", "battery", "browsers", "first_run",
             "sources"}
    unknown = set(data) - known
    if unknown:
        raise _err(path, f"unknown keys {sorted(unknown)}")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise _err(path, "`name` (a string) is required")
    match = data.get("match", {})
    if not isinstance(match, dict) or len(match) > 1:
        raise _err(path, "`[match]` holds exactly one getprop key = value")
    if not match and name != DEFAULT_NAME:
        raise _err(path, "only the default profile may omit `[match]`")
    (mkey, mval), = match.items() if match else ((None, None),)
    if isinstance(mval, str):
        mval = (mval,)
    if mkey is not None and (not isinstance(mval, list | tuple) or not mval
                             or not all(isinstance(v, str) and v for v in mval)):
        raise _err(path, f"match value for {mkey} must be a string or a list of strings")
    if mval is not None:
        mval = tuple(mval)

    thermal = data.get("thermal", {})
    if thermal.get("source", "thermalservice") not in THERMAL_SOURCES:
        raise _err(path, f"thermal.source must be one of {', '.join(THERMAL_SOURCES)} (battery: the phone has no "
                         f"thermal service; the cool-down gate judges the battery temperature alone)")
    battery = data.get("battery", {})
    unit = battery.get("temperature_unit", "decicelsius")
    if unit not in _TEMP_SCALES:
        raise _err(path, f"battery.temperature_unit must be one of {sorted(_TEMP_SCALES)}")
    sign = battery.get("current_sign", 1)
    if sign not in (1, -1):
        raise _err(path, "battery.current_sign must be 1 or -1")

    overrides = []
    for pkg, table in sorted(data.get("browsers", {}).items()):
        if not isinstance(table, dict):
            raise _err(path, f"[browsers.\"{pkg}\"] must be a table")
        bad = sorted(set(table) - set(OVERRIDABLE_FIELDS))
        if bad:
            raise _err(path, f"[browsers.\"{pkg}\"]: unknown override field(s) {bad} "
                             f"(allowed: {', '.join(OVERRIDABLE_FIELDS)})")
        overrides.append((pkg, tuple(sorted(table.items()))))

    first_run = []
    for pkg, steps in sorted(data.get("first_run", {}).items()):
        if not isinstance(steps, list):
            raise _err(path, f"first_run.\"{pkg}\" must be an array of tables")
        parsed = []
        for st in steps:
            extra = set(st) - {"text", "resource_id", "description", "optional"}
            if extra or not ({"text", "resource_id", "description"} & set(st)):
                raise _err(path, f"first_run step for {pkg} needs text/resource_id/description: {st}")
            parsed.append(FirstRunStep(st.get("text"), st.get("resource_id"), st.get("description"),
                                       bool(st.get("optional", True))))
        first_run.append((pkg, tuple(parsed)))

    def strs(v: Any, what: str) -> tuple[str, ...]:
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise _err(path, f"{what} must be a list of strings")
        return tuple(v)

    return Profile(
        name=name,
        description=str(data.get("description", "")),
        match_key=mkey,
        match_value=mval,
        soc=data.get("soc"),
        abi=data.get("abi"),
        thermal_source=thermal.get("source", "thermalservice"),
        skin_sensor=thermal.get("skin_sensor"),
        battery_sensor=thermal.get("battery_sensor"),
        cpu_sensors=strs(thermal.get("cpu_sensors", []), "thermal.cpu_sensors"),
        gpu_sensors=strs(thermal.get("gpu_sensors", []), "thermal.gpu_sensors"),
        battery_temperature_unit=unit,
        battery_current_sign=sign,
        browser_overrides=tuple(overrides),
        first_run=tuple(first_run),
        sources=strs(data.get("sources", []), "sources"),
        path=str(path),
    )


def load_profile(path: Path) -> Profile:
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise _err(Path(path), f"not valid TOML: {exc}") from exc
    except OSError as exc:
        raise UsageError(f"cannot read device profile {path}: {exc}") from exc
    return parse_profile(data, Path(path))


def load_profiles(directory: Path | None = None) -> list[Profile]:
    """Every profile in the directory (default: the repo's device_profiles/); the default first."""
    directory = Path(directory or PROFILES_DIR)
    profiles = [load_profile(p) for p in sorted(directory.glob("*.toml"))]
    names = [p.name for p in profiles]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise UsageError(f"device profiles in {directory}: duplicate names {sorted(dup)}")
    if DEFAULT_NAME not in names:
        raise UsageError(f"device profiles in {directory}: no {DEFAULT_NAME}.toml")
    keys = [(p.match_key, v) for p in profiles if p.match_key for v in (p.match_value or ())]
    if len(keys) != len(set(keys)):
        raise UsageError(f"device profiles in {directory}: two profiles match the same phone")
    return sorted(profiles, key=lambda p: (p.name != DEFAULT_NAME, p.name))


def match_profile(props: dict[str, str], profiles: Iterable[Profile]) -> Profile:
    """The profile whose match key holds on this phone, else the default."""
    default = None
    for p in profiles:
        if p.match_key is None:
            default = p
        elif p.matches(props):
            return p
    if default is None:
        raise UsageError("no default device profile loaded")
    return default


def check_profile(profile: Profile, fingerprint: dict[str, Any], *,
                  thermal_sensor_names: Iterable[str] | None = None,
                  battery_raw_temperature: float | None = None) -> ProfileCheck:
    """Compare a profile's claims with what the phone reports; None means 'not checked'."""
    held: list[tuple[str, bool | None]] = []
    notes: list[str] = []
    if profile.soc is not None:
        ok = fingerprint.get("soc") == profile.soc
        held.append(("soc", ok))
        if not ok:
            notes.append(f"soc: profile says {profile.soc!r}, phone says {fingerprint.get('soc')!r}")
    if profile.abi is not None:
        ok = fingerprint.get("abi") == profile.abi
        held.append(("abi", ok))
        if not ok:
            notes.append(f"abi: profile says {profile.abi!r}, phone says {fingerprint.get('abi')!r}")
    wanted = [s for s in (profile.skin_sensor, profile.battery_sensor, *profile.cpu_sensors,
                          *profile.gpu_sensors) if s]
    if wanted:
        if thermal_sensor_names is None:
            held.append(("thermal_sensors", None))
        else:
            have = set(thermal_sensor_names)
            missing = [s for s in wanted if s not in have]
            held.append(("thermal_sensors", not missing))
            if missing:
                notes.append(f"thermal sensors missing on the phone: {missing}")
    if battery_raw_temperature is not None:
        c = battery_raw_temperature / profile.battery_temperature_divisor
        plausible = PLAUSIBLE_BATTERY_C[0] <= c <= PLAUSIBLE_BATTERY_C[1]
        held.append(("battery_temperature_unit", plausible))
        if not plausible:
            notes.append(f"battery temperature {battery_raw_temperature} read as {c:.1f} C: unit looks wrong")
    return ProfileCheck(profile.name, tuple(held), tuple(notes))
