"""Pure figures of one study run from its stored record and sample rows.

Time axis: study seconds since the run's sampler started (real seconds x the test time scale,
which is 1 outside tests).  Latencies come as points (t_s, ms, weight): one per inference
(browser page, host TFLite) or one per benchmark_model chunk on a phone (its median, weighted
by the chunk's inference count: benchmark_model prints a summary, not each run).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..records import CellRecord

#: runs longer than this use the first / last minute for start / end latency, else a fifth
FIFTH_UNTIL_S = 300.0


@dataclass(frozen=True)
class Point:
    t_s: float
    ms: float
    weight: int = 1
    span_s: float = 0.0  # a chunk's length: its inferences are spread evenly over it


def inferences_in(points: Sequence[Point], lo: float, hi: float) -> float:
    """Inferences that ran between lo and hi (a chunk's share by overlap)."""
    n = 0.0
    for p in points:
        if p.span_s > 0:
            overlap = min(hi, p.t_s + p.span_s) - max(lo, p.t_s)
            n += p.weight * max(0.0, overlap) / p.span_s
        elif lo <= p.t_s <= hi:
            n += p.weight
    return n


@dataclass(frozen=True)
class Sample:
    """One stored probe row of a study, typed."""

    t_s: float
    probe: str
    ok: bool
    phase: str = "run"
    error: str | None = None
    status: int | None = None
    temps_c: Mapping[str, float] = field(default_factory=dict)
    freqs_khz: Mapping[str, int] = field(default_factory=dict)
    charge_uah: float | None = None
    voltage_mv: float | None = None
    current_ma: float | None = None
    level: float | None = None
    charging: bool | None = None
    energy_uj: float | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Sample:
        data = row.get("data") if isinstance(row.get("data"), Mapping) else {}
        assert isinstance(data, Mapping)

        def num(key: str) -> float | None:
            v = data.get(key)
            return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None

        temps = data.get("temperatures") or {}
        freqs = data.get("freq_khz") or {}
        status = data.get("status")
        charging = data.get("charging")
        return cls(t_s=float(row.get("t_s") or 0.0), probe=str(row.get("probe")), ok=bool(row.get("ok")),
                   phase=str(row.get("phase") or "run"), error=row.get("error"),
                   status=status if row.get("probe") == "thermal" and isinstance(status, int)
                   and not isinstance(status, bool) else None,  # the battery's `status` is another thing
                   temps_c={str(k): float(v) for k, v in temps.items() if isinstance(v, (int, float))},
                   freqs_khz={str(k): int(v) for k, v in freqs.items() if isinstance(v, (int, float))},
                   charge_uah=num("charge_counter_uah"), voltage_mv=num("voltage_mv"),
                   current_ma=num("current_ma"), level=num("level"),
                   charging=charging if isinstance(charging, bool) else None, energy_uj=num("energy_uj"))


def samples_of(rows: Iterable[Mapping[str, Any]], key: str, phase: str = "run") -> list[Sample]:
    return sorted((Sample.from_row(r) for r in rows if r.get("key") == key and r.get("phase") == phase),
                  key=lambda s: s.t_s)


def latency_points(rec: CellRecord, *, offset_s: float, scale: float) -> list[Point]:
    """Per-inference points (latency_t_ms) or per-chunk points (extra `chunks`)."""
    chunks = rec.extra.get("chunks")
    if isinstance(chunks, (list, tuple)) and chunks:
        return [Point(offset_s + float(c["t_ms"]) / 1000 * scale, float(c["median_ms"]), int(c["count"]),
                      float(c.get("wall_ms") or 0.0) / 1000 * scale)
                for c in chunks if c.get("median_ms") is not None and c.get("count")]
    lat, ts = rec.latencies_ms or (), rec.latency_t_ms or ()
    return [Point(offset_s + t / 1000 * scale, ms) for t, ms in zip(ts, lat, strict=False)]


def weighted_median(points: Sequence[Point]) -> float | None:
    pts = sorted(points, key=lambda p: p.ms)
    total = sum(p.weight for p in pts)
    if not total:
        return None
    acc = 0
    for p in pts:
        acc += p.weight
        if acc * 2 >= total:
            return p.ms
    return pts[-1].ms


def start_end(points: Sequence[Point]) -> tuple[float | None, float | None, float]:
    """Median latency over the first and the last fifth of the run (a minute for runs over 5 min)."""
    if not points:
        return None, None, 0.0
    t0, t1 = points[0].t_s, points[-1].t_s
    span = t1 - t0
    window = 60.0 if span > FIFTH_UNTIL_S else span / 5
    first = [p for p in points if p.t_s <= t0 + window] or [points[0]]
    last = [p for p in points if p.t_s >= t1 - window] or [points[-1]]
    return weighted_median(first), weighted_median(last), window


def time_to_throttle(samples: Sequence[Sample]) -> float | None:
    """First time the thermal status rose above NONE (0), in study seconds since the run began."""
    for s in samples:
        if s.ok and s.status is not None and s.status > 0:
            return round(s.t_s, 3)
    return None


def throttle_timeline(samples: Sequence[Sample]) -> list[list[float]]:
    """[[t_s, status], ...] at every change of the thermal status."""
    out: list[list[float]] = []
    for s in samples:
        if s.ok and s.status is not None and (not out or out[-1][1] != s.status):
            out.append([round(s.t_s, 3), s.status])
    return out


def peak_temps(samples: Sequence[Sample]) -> dict[str, float]:
    peaks: dict[str, float] = {}
    for s in samples:
        for name, c in s.temps_c.items():
            if math.isfinite(c):
                peaks[name] = max(peaks.get(name, c), c)
    return peaks


def freq_range(samples: Sequence[Sample]) -> dict[str, list[int]]:
    """Per core: [first, min] frequency seen (kHz): a core that stepped down shows min < first."""
    out: dict[str, list[int]] = {}
    for s in samples:
        for core, khz in s.freqs_khz.items():
            if core not in out:
                out[core] = [khz, khz]
            else:
                out[core][1] = min(out[core][1], khz)
    return out


# -- energy ----------------------------------------------------------------------------------
UAH_TO_MJ_PER_V = 3.6  # 1 uAh at 1 V = 3.6 mJ


@dataclass(frozen=True)
class Energy:
    mj_per_inference: float | None
    ci95: tuple[float, float] | None
    mah_per_1000: float | None
    mah_per_1000_ci95: tuple[float, float] | None
    run_drop_uah: float | None
    idle_drop_uah: float | None
    voltage_v: float | None
    inferences: int
    note: str | None = None
    #: a drain that cannot be told from idle: no energy is published, only this bound (mJ per inference)
    upper_bound_mj: float | None = None
    #: study seconds of the first and the last charge reading the figures rest on
    window_s: tuple[float, float] | None = None

    @property
    def below_detection_limit(self) -> bool:
        return self.upper_bound_mj is not None

    def to_json(self) -> dict[str, Any]:
        return {"energy_mj_per_inference": self.mj_per_inference,
                "energy_ci95": list(self.ci95) if self.ci95 else None,
                "mah_per_1000_inferences": self.mah_per_1000,
                "mah_per_1000_ci95": list(self.mah_per_1000_ci95) if self.mah_per_1000_ci95 else None,
                "energy_upper_bound_mj": self.upper_bound_mj,
                "energy_flags": [BELOW_DETECTION_LIMIT] if self.below_detection_limit else [],
                "charge_window_s": list(self.window_s) if self.window_s else None,
                "charge_drop_uah": self.run_drop_uah, "idle_drop_uah": self.idle_drop_uah,
                "voltage_v": self.voltage_v, "energy_note": self.note}


BELOW_DETECTION_LIMIT = "below-detection-limit"


def counter_step(*series: Sequence[tuple[float, float]]) -> float:
    """The charge counter's resolution as read: the greatest common step of its changes between
    readings (some counters move in 1000 uAh steps); 1 uAh, the unit Android reports in, when it never
    changed or its changes share no step."""
    step = 0
    for s in series:
        for a, b in zip(s, s[1:], strict=False):
            step = math.gcd(step, int(round(abs(b[1] - a[1]))))
    return float(step) if step > 0 else 1.0


def _charge(samples: Sequence[Sample]) -> list[tuple[float, float]]:
    return [(s.t_s, s.charge_uah) for s in samples if s.ok and s.charge_uah is not None]


def _fit(series: Sequence[tuple[float, float]]) -> tuple[float, float | None] | None:
    """Least-squares slope (units per second) and its standard error (residuals about the fit; None
    under 3 readings); charge counters step, so a fit beats two endpoints."""
    if len(series) < 2:
        return None
    xs, ys = [t for t, _ in series], [c for _, c in series]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx <= 0:
        return None
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    if len(series) < 3:
        return b, None
    ssr = sum((y - (my + b * (x - mx))) ** 2 for x, y in zip(xs, ys, strict=True))
    return b, math.sqrt(ssr / (len(series) - 2) / sxx)


def _slope(series: Sequence[tuple[float, float]]) -> float | None:
    fit = _fit(series)
    return fit[0] if fit else None


_T95 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26}


def energy(run: Sequence[Sample], idle: Sequence[Sample], points: Sequence[Point], *,
           segments: int = 5, duration_s: float | None = None) -> Energy:
    """(charge used in the run minus the idle baseline over the same time) x voltage / inferences.

    The run's charge readings are those taken while inferences ran (a page's or a model's load, a
    teardown are no inference); the charge used is the first such reading minus the last (a drain
    that is not steady has no one slope), the idle baseline's is its fitted rate x the same time.
    Only the inferences between the first and the last charge reading count (chunks by overlap), so
    a sampler that started early or ended late does not bias it.
    CI95: the run is cut in `segments` equal time slices; each slice's (charge drop - idle rate x its
    length) x V / its inferences is one estimate; mean +- t x sd / sqrt(k).  Where fewer than two
    slices hold enough readings (a slow sampler, a short run), the run's own slope gives it instead:
    t(n - 2) x the slope's standard error, scaled like the estimate (readings that fit a line
    exactly give none: a zero width would claim a precision the counter's steps do not have)."""
    n = sum(p.weight for p in points)
    rc, ic = _charge(run), _charge(idle)
    if points:  # only the readings while inferences ran: a page's or a model's load is not an inference
        lo, hi = min(p.t_s for p in points), max(p.t_s + p.span_s for p in points)
        inside = [(t, c) for t, c in rc if lo <= t <= hi]
        if len(inside) < 3:  # a slow sampler: the readings that bracket the inferences
            before = [r for r in rc if r[0] < lo][-1:]
            after = [r for r in rc if r[0] > hi][:1]
            inside = before + inside + after
        rc = inside if len(inside) >= 2 else rc
    volts = [s.voltage_mv for s in run if s.ok and s.voltage_mv]
    v = statistics.fmean(volts) / 1000 if volts else None
    if len(rc) < 2 or not n or v is None:
        why = "no charge counter readings" if len(rc) < 2 else ("no inferences" if not n else "no voltage")
        return Energy(None, None, None, None, None, None, v, n, note=why)
    span = rc[-1][0] - rc[0][0]
    run_fit = _fit(rc)
    idle_fit = _fit(ic) if len(ic) >= 2 else None
    idle_rate = idle_fit[0] if idle_fit else None
    note = None
    if idle_rate is None:
        idle_rate, note = 0.0, "no idle baseline: the whole charge drop is counted"
    run_drop = rc[0][1] - rc[-1][1]   # the charge used between the readings (a drain that is not steady
    idle_drop = 0.0 - idle_rate * span  # has no one slope; 0.0 - : never a "-0.0")
    n_span = inferences_in(points, rc[0][0], rc[-1][0])  # the inferences between the charge readings used
    if n_span <= 0:
        return Energy(None, None, None, None, None, None, v, n, note="no inference between two charge readings")
    uah = (run_drop - idle_drop) / n_span
    est: list[float] = []
    segments = max(2, min(segments, len(rc) // 3))  # each slice needs a few readings for its slope
    t0 = rc[0][0]
    width = span / segments if span > 0 else 0
    for k in range(segments if width > 0 else 0):
        lo, hi = t0 + k * width, t0 + (k + 1) * width
        seg = [(t, c) for t, c in rc if lo <= t <= hi]
        m = inferences_in(points, lo, hi)
        r = _slope(seg)
        if r is None or not m:
            continue
        est.append((-r + idle_rate) * width / m)
    # the run's and the baseline's slopes with their standard errors: how far the run's drain stands
    # above idle (one-sided, t at 97.5 %), whatever the slices say
    se_run = run_fit[1] if run_fit else None
    se_idle = idle_fit[1] if idle_fit else None
    se = math.sqrt((se_run or 0.0) ** 2 + (se_idle or 0.0) ** 2) if se_run is not None else None
    t_fit = _T95.get(max(1, min(len(rc), len(ic) if se_idle is not None else len(rc)) - 2), 2.0)
    ci: tuple[float, float] | None = None
    if len(est) >= 3:
        sd = statistics.stdev(est)
        half = _T95.get(len(est) - 1, 2.0) * sd / math.sqrt(len(est))
        ci = (uah - half, uah + half)
    elif se:   # too few readings per slice: the whole run's slope (and the baseline's), with their uncertainty
        half = t_fit * se * span / n_span
        ci = (uah - half, uah + half)
    # a drain that cannot be told from idle is no measurement: the estimate is not above zero, its
    # CI95 reaches zero (the slices', else the slopes'), or it is within two steps of the counter (one
    # each in the run and the baseline).  Then only an upper bound is
    # published: the largest of the CI95's upper end, the estimate plus the slopes' uncertainty and
    # the estimate plus two counter steps, per inference; never a zero or a negative.
    step = counter_step(rc, ic)
    excess = uah * n_span   # uAh beyond idle between the readings
    fit_hi = excess + t_fit * se * span if se is not None else None
    told = excess >= 2 * step and (ci[0] > 0 if ci is not None
                                   else excess - t_fit * se * span > 0 if se is not None else True)
    if uah <= 0 or not told:
        bound = max(ci[1] if ci else 0.0, (max(excess, 0.0) + 2 * step) / n_span,
                    (fit_hi or 0.0) / n_span)
        bound_mj = bound * UAH_TO_MJ_PER_V * v
        why = (f"the drain cannot be told from idle (beyond idle {uah * n_span:.1f} uAh over {n_span:.0f} "
               f"inferences; counter step {step:g} uAh): energy < {bound_mj:.4g} mJ per inference at 95 %")
        return Energy(None, None, None, None, round(run_drop, 1), round(idle_drop, 1), round(v, 4), n,
                      "; ".join(x for x in (note, why) if x), upper_bound_mj=float(f"{bound_mj:.4g}"),
                      window_s=(rc[0][0], rc[-1][0]))
    mj = uah * UAH_TO_MJ_PER_V * v
    return Energy(round(mj, 4), (round(ci[0] * UAH_TO_MJ_PER_V * v, 4), round(ci[1] * UAH_TO_MJ_PER_V * v, 4))
                  if ci else None, round(uah, 6), (round(ci[0], 6), round(ci[1], 6)) if ci else None,
                  round(run_drop, 1), round(idle_drop, 1), round(v, 4), n, note, window_s=(rc[0][0], rc[-1][0]))


def charging_seen(samples: Sequence[Sample]) -> bool:
    """The phone charged although unplugged: status charging, or the charge counter rose."""
    if any(s.ok and s.charging for s in samples):
        return True
    rc = _charge(samples)
    slope = _slope(rc)
    return bool(slope is not None and len(rc) >= 3 and slope > 0 and rc[-1][1] > rc[0][1])
