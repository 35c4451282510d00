"""Series over many runs, the steps in them, and a status per series.

A series is one configuration on one device: target (serial) + device model, browser, runtime,
backend, model, threads.  Browser version, runtime version, the model file's sha256 and the phone's
build fingerprint are not part of the key: they are facts of each point, and a change of one is an
event on the series' axis (so a step at a browser update is found, and explained, in one series).

Steps are found with `ruptures` (KernelCPD with the linear kernel: exact penalised segmentation in
C, the l2 cost on the log of the medians) and then judged with each point's own CI: a point's weight
is 1 / (between-run variance + its own CI variance), the step is the weighted mean after minus the
weighted mean before, with its CI95; a step whose CI includes no change, or that is smaller than
`min_effect`, is dropped.  The penalty is calibrated so that pure noise is rarely cut (the test
suite measures the rate on 200 noise series).
"""

from __future__ import annotations

import datetime as _dt
import functools
import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..vocab import NATIVE_BROWSER
from .runs import Lab, RunInfo, Unreadable, config_rows

#: a series whose between-run scatter (log scale, ~CV) exceeds this is "noisy": too wide to say
NOISY_SIGMA = 0.25
#: the smallest step reported (a relative change)
MIN_EFFECT = 0.03
#: fewest points on each side of a step
MIN_SIZE = 3
#: penalty per change point, in units of the series' noise variance, times log(n)
PENALTY = 4.5

STATUSES = ("stable", "regressed", "improved", "noisy")

#: which framework version names belong to a runtime (substrings of the names the pages report)
_RUNTIME_NAMES = {"tfjs": ("tfjs",), "tflite": ("tfjs-tflite", "tflite-web"), "ort": ("onnxruntime",),
                  "ort-native": ("onnxruntime",), "litert": ("litert",), "tflite-native": ("tflite",)}


@dataclass(frozen=True)
class SeriesKey:
    target: str
    device_model: str
    browser: str
    runtime: str
    backend: str
    model: str
    threads: int

    @property
    def id(self) -> str:
        return f"{self.target}|{self.browser}|{self.model}|{self.runtime}|{self.backend}|t{self.threads}"

    @property
    def label(self) -> str:
        return (f"{self.device_model} {self.target} · {self.browser} · {self.model} · "
                f"{self.runtime}/{self.backend} t{self.threads}")


@dataclass(frozen=True)
class Point:
    run_id: str
    run_dir: str
    at: str
    median_ms: float
    ci95_ms: tuple[float, float] | None
    gap: float | None
    gap_ci95: tuple[float, float] | None
    browser_version: str | None
    runtime_version: str | None
    model_sha256: str | None
    build: str | None
    tool_version: str | None


#: the facts of a point that make a cause when they change
FACTS = (("browser_version", "browser"), ("runtime_version", "runtime"), ("model_sha256", "model sha256"),
         ("build", "device build"), ("tool_version", "mwi"))


@dataclass(frozen=True)
class Event:
    index: int
    run_id: str
    at: str
    what: str         # browser, runtime, model sha256, device build, mwi
    old: str | None
    new: str | None

    @property
    def text(self) -> str:
        return f"{self.what} {_short(self.old)} -> {_short(self.new)}"


@dataclass(frozen=True)
class Step:
    metric: str                      # median_ms or gap
    index: int                       # the first point after the step
    run_id: str                      # the first run after the step
    at: str
    size: float                      # relative change (0.15: 15 % higher after)
    ci95: tuple[float, float]
    before: float                    # level before / after (ms, or the gap)
    after: float
    cause: tuple[str, ...]           # what changed at that run (empty: nothing in the fingerprint)

    @property
    def worse(self) -> bool:
        return self.size > 0          # a higher latency, a wider gap

    @property
    def cause_text(self) -> str:
        return "; ".join(self.cause) if self.cause else "no change in the fingerprint"


@dataclass(frozen=True)
class SeriesResult:
    key: SeriesKey
    points: tuple[Point, ...]
    steps: tuple[Step, ...]
    events: tuple[Event, ...]
    status: str
    noise: float                     # between-run scatter of the log medians (~ CV), or the runs' own
                                     # CI95 as a standard error where that is wider

    @property
    def open_regression(self) -> Step | None:
        """The most recent step when it made the series worse (nothing after it made it better)."""
        last = [s for s in self.steps if s.metric == "median_ms"] or list(self.steps)
        if not last:
            return None
        s = max(last, key=lambda x: x.index)
        return s if s.worse else None

    def to_json(self) -> dict:
        return {"series": self.key.id, "label": self.key.label, "device_model": self.key.device_model,
                "status": self.status, "noise": round(self.noise, 4), "points": len(self.points),
                "last_run": self.points[-1].run_id if self.points else None,
                "last_median_ms": self.points[-1].median_ms if self.points else None,
                "steps": [{"metric": s.metric, "run_id": s.run_id, "index": s.index, "at": s.at, "size": s.size,
                           "ci95": list(s.ci95), "before": s.before, "after": s.after, "cause": list(s.cause)}
                          for s in self.steps],
                "events": [{"run_id": e.run_id, "index": e.index, "at": e.at, "what": e.what, "old": e.old,
                            "new": e.new} for e in self.events]}


@dataclass(frozen=True)
class History:
    runs: tuple[RunInfo, ...]
    unreadable: tuple[Unreadable, ...]
    series: tuple[SeriesResult, ...]
    window: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATUSES, 0)
        for s in self.series:
            out[s.status] += 1
        return out

    def to_json(self) -> dict:
        return {"runs": len(self.runs), "window": self.window, "counts": self.counts(),
                "unreadable": [{"run_dir": str(u.run_dir), "reason": u.reason} for u in self.unreadable],
                "series": [s.to_json() for s in self.series]}


def _short(v: str | None) -> str:
    if v is None:
        return "none"
    return v[:12] if len(v) == 64 and all(c in "0123456789abcdef" for c in v) else v


# -- the statistics -------------------------------------------------------------------------------

def _se_from_ci(value: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Standard error of log(value) from a CI95 (NaN where there is none)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        se = (np.log(hi) - np.log(lo)) / (2 * 1.959964)
    se[~np.isfinite(se) | (se < 0)] = np.nan
    return se


def noise_of(y: np.ndarray) -> float:
    """Between-run scatter of a log series: the MAD of successive differences / sqrt 2 (a step moves it little)."""
    if len(y) < 3:
        return 0.0
    d = np.diff(y)
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / math.sqrt(2))


def find_steps(values: Sequence[float], ci95: Sequence[tuple[float, float] | None], *,
               min_effect: float = MIN_EFFECT, penalty: float = PENALTY,
               min_size: int = MIN_SIZE) -> list[tuple[int, float, tuple[float, float], float, float]]:
    """Steps of a positive series: [(first index after, relative size, CI95 of the size, before, after)].

    Change points come from ruptures' KernelCPD (linear kernel = l2 on the log values, exact and in C)
    with a penalty of `penalty * log(n)` noise variances; each is then judged between its neighbouring
    change points by inverse-variance weighted means, a point's variance being the between-run
    variance plus its own CI's.  Kept when the CI95 of the step excludes 0 and |size| >= min_effect."""
    import ruptures as rpt

    v = np.asarray(values, dtype=np.float64)
    n = len(v)
    if n < 2 * min_size or not np.all(v > 0):
        return []
    y = np.log(v)
    pairs = np.array([c if c is not None else (np.nan, np.nan) for c in ci95], dtype=np.float64).reshape(-1, 2)
    lo, hi = pairs[:, 0], pairs[:, 1]
    se = _se_from_ci(v, lo, hi)
    own = float(np.nanmedian(se)) if np.any(np.isfinite(se)) else 0.0
    scatter = noise_of(y)
    sigma = max(scatter, own, 1e-4)
    z = ((y - np.median(y)) / sigma).reshape(-1, 1)
    bkps = rpt.KernelCPD(kernel="linear", min_size=min_size).fit(z).predict(pen=penalty * math.log(n))
    cuts = [0, *[b for b in bkps if b < n], n]
    tau2 = max(scatter ** 2 - own ** 2, 0.0)
    var = tau2 + np.where(np.isfinite(se), se, own) ** 2
    var = np.maximum(var, 1e-12)
    w = 1.0 / var
    out = []
    for a, k, b in zip(cuts, cuts[1:], cuts[2:], strict=False):
        w1, w2 = w[a:k], w[k:b]
        m1 = float(np.sum(w1 * y[a:k]) / np.sum(w1))
        m2 = float(np.sum(w2 * y[k:b]) / np.sum(w2))
        # the segments' own scatter around their means, where it is wider than the weights say
        r1 = float(np.sum(w1 * (y[a:k] - m1) ** 2) / max(k - a - 1, 1))
        r2 = float(np.sum(w2 * (y[k:b] - m2) ** 2) / max(b - k - 1, 1))
        se_d = math.sqrt(max(r1, 1.0) / float(np.sum(w1)) + max(r2, 1.0) / float(np.sum(w2)))
        d = m2 - m1
        ci = (math.expm1(d - 1.959964 * se_d), math.expm1(d + 1.959964 * se_d))
        size = math.expm1(d)
        if (ci[0] > 0 or ci[1] < 0) and abs(size) >= min_effect:
            out.append((k, size, ci, math.exp(m1), math.exp(m2)))
    return out


# -- series from a lab ----------------------------------------------------------------------------

@functools.lru_cache(maxsize=4096)
def runtime_version(runtime: str, frameworks: tuple[tuple[str, str], ...]) -> str | None:
    names = _RUNTIME_NAMES.get(runtime, (runtime,))
    vals = sorted({v for k, v in frameworks if any(n in k.lower() for n in names)})
    return ", ".join(vals) if vals else None


def analyse(lab: Lab, *, series: str | None = None, min_effect: float = MIN_EFFECT,
            penalty: float = PENALTY) -> History:
    """Every series of the lab's selected runs (or the one whose id is `series`), its steps, events
    and status.  Which runs: `open_lab(..., window=, targets=)`."""
    runs = lab.selected
    only_target = series.split("|", 1)[0] if series else None
    table, bad = config_rows(runs, targets={only_target} if only_target else None)
    table = table.sort_by("src")  # each series' rows in run order
    cols = {name: table.column(name).to_pylist() for name in table.column_names}
    groups: dict[tuple, list[int]] = {}
    for i in range(table.num_rows):
        k = (cols["target"][i], cols["browser"][i], cols["model"][i], cols["runtime"][i], cols["backend"][i],
             cols["threads"][i])
        groups.setdefault(k, []).append(i)
    lo, hi, glo, ghi = cols["ci_lo"], cols["ci_hi"], cols["gap_lo"], cols["gap_hi"]
    results = []
    cache: dict[tuple[int, str, str], tuple[str | None, str | None, str | None, str]] = {}
    for k, rows in groups.items():
        target, browser, model, runtime, backend, threads = k
        sid = f"{target}|{browser}|{model}|{runtime}|{backend}|t{threads}"
        if series and sid != series:
            continue
        native = browser == NATIVE_BROWSER
        points = []
        for i in rows:
            src = cols["src"][i]
            run = runs[src]
            facts = cache.get((src, target, runtime))
            if facts is None:
                ti = run.target(target)
                facts = cache[(src, target, runtime)] = (
                    ti.browser_version(browser) if ti else None,
                    runtime_version(runtime, ti.frameworks) if ti else None, ti.build if ti else None,
                    str(run.run_dir))
            med = cols["native_median_ms"][i] if native or cols["browser_median_ms"][i] is None \
                else cols["browser_median_ms"][i]
            if med is None or not med > 0:
                continue
            points.append(Point(
                run_id=run.run_id, run_dir=facts[3], at=run.created_at, median_ms=float(med),
                ci95_ms=None if native or lo[i] is None or hi[i] is None else (lo[i], hi[i]), gap=cols["gap"][i],
                gap_ci95=None if glo[i] is None or ghi[i] is None else (glo[i], ghi[i]),
                browser_version=None if native else (cols["browser_version"][i] or facts[0]),
                runtime_version=facts[1], model_sha256=cols["model_sha256"][i], build=facts[2],
                tool_version=run.tool_version))
        if not points:
            continue
        last_run = runs[cols["src"][rows[-1]]].target(target)
        key = SeriesKey(target=target, device_model=last_run.device_model if last_run else target, browser=browser,
                        runtime=runtime, backend=backend, model=model, threads=int(threads))
        results.append(series_result(key, points, min_effect=min_effect, penalty=penalty))
    order = {"regressed": 0, "noisy": 1, "improved": 2, "stable": 3}
    results.sort(key=lambda s: (order[s.status], s.key.id))
    window = lab.window
    notes = (f"statuses over each target's last {window} runs",) if window > 0 else ()
    return History(runs=lab.runs, unreadable=(*lab.unreadable, *bad), series=tuple(results), window=window,
                   notes=notes)


def events_of(points: Sequence[Point]) -> list[Event]:
    out = []
    for attr, what in FACTS:
        vals = list(map(operator.attrgetter(attr), points))
        for i, (old, new) in enumerate(zip(vals, vals[1:], strict=False), start=1):
            if old != new and new is not None and old is not None:
                b = points[i]
                out.append(Event(index=i, run_id=b.run_id, at=b.at, what=what, old=old, new=new))
    out.sort(key=lambda e: e.index)  # stable: at one run, in FACTS order
    return out


def _cause(events: Sequence[Event], index: int) -> tuple[str, ...]:
    """What changed at the first run after a step; one run either side when nothing did (a step's place
    is known to about a run)."""
    exact = [e.text for e in events if e.index == index]
    if exact:
        return tuple(exact)
    near = [f"{e.text} (at {e.run_id}, one run {'later' if e.index > index else 'earlier'})"
            for e in events if abs(e.index - index) == 1]
    return tuple(near)


def series_result(key: SeriesKey, points: Sequence[Point], *, min_effect: float = MIN_EFFECT,
                  penalty: float = PENALTY) -> SeriesResult:
    events = events_of(points)
    med = [p.median_ms for p in points]
    y = np.log(np.asarray(med))
    v = np.asarray(med)
    bounds = np.array([c if c is not None else (np.nan, np.nan) for c in (p.ci95_ms for p in points)],
                      dtype=np.float64).reshape(-1, 2)
    own = _se_from_ci(v, bounds[:, 0], bounds[:, 1])
    # too wide to say: the runs scatter, or each run's own CI is wide
    noise = max(noise_of(y), float(np.nanmedian(own)) if np.any(np.isfinite(own)) else 0.0)
    steps = []
    for metric, vals, cis in (("median_ms", med, [p.ci95_ms for p in points]),):
        for k, size, ci, before, after in find_steps(vals, cis, min_effect=min_effect, penalty=penalty):
            p = points[k]
            steps.append(Step(metric=metric, index=k, run_id=p.run_id, at=p.at, size=size, ci95=ci, before=before,
                              after=after, cause=_cause(events, k)))
    gap_idx = [i for i, p in enumerate(points) if p.gap is not None and p.gap > 0]
    if len(gap_idx) >= 2 * MIN_SIZE:
        gp = [points[i] for i in gap_idx]
        for k, size, ci, before, after in find_steps([float(p.gap or 0.0) for p in gp], [p.gap_ci95 for p in gp],
                                                     min_effect=min_effect, penalty=penalty):
            i = gap_idx[k]
            p = points[i]
            steps.append(Step(metric="gap", index=i, run_id=p.run_id, at=p.at, size=size, ci95=ci, before=before,
                              after=after, cause=_cause(events, i)))
    steps.sort(key=lambda s: (s.index, s.metric))
    result = SeriesResult(key=key, points=tuple(points), steps=tuple(steps), events=tuple(events), status="stable",
                          noise=noise)
    status = "stable"
    if result.open_regression is not None:
        status = "regressed"
    elif steps:
        status = "improved"
    elif noise > NOISY_SIGMA:
        status = "noisy"
    return SeriesResult(key=key, points=tuple(points), steps=tuple(steps), events=tuple(events), status=status,
                        noise=noise)


def parse_time(text: str) -> _dt.datetime:
    try:
        t = _dt.datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
    return t if t.tzinfo else t.replace(tzinfo=_dt.UTC)
