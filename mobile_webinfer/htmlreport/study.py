"""The HTML report of a thermal / battery study run: `RUN_DIR/report/index.html` and its PNGs.

    write_study_report(run_dir) -> Path

Per target: the fingerprint, latency over time of every run overlaid (browser and native on one
axis) with each run's thermal status as a shaded strip under it, temperatures of every sensor and
the frequency of every CPU core (and the GPU where read) on the same time axis, energy per
inference with its CI95 (battery studies), and a table of the study's contract figures per run.
The numbers come from `studies.summary.summarize`, the curves from the same points and samples.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ..files import safe_name  # noqa: E402
from ..parsers.thermal import STATUS_NAMES  # noqa: E402
from ..records import CellRecord  # noqa: E402
from ..store import RunStore  # noqa: E402
from ..studies.derive import Point, Sample, latency_points, samples_of  # noqa: E402
from ..studies.summary import is_study, summarize  # noqa: E402
from .folder import write_report_folder  # noqa: E402
from .html import FP_KEYS, esc, figure, page, table  # noqa: E402
from .plots import DPI, MAX_POINTS, Image, colour  # noqa: E402

__all__ = ["write_study_report"]

#: background of each thermal status (NONE is left white)
STATUS_COLOURS = ("#ffffff", "#fff1b3", "#ffd08a", "#ff9f6b", "#f0605a", "#c0304a", "#7a1030")
_STYLES = ("-", "--", ":", "-.")

EXTRA_CSS = """
.studyrun{margin:4px 0} .partial{background:#f8d7d7;color:#8a1c1c;font-weight:600}
.warnbox{background:#fff1c9;border:1px solid #e8c860;padding:6px 10px;margin:8px 0}
.statuskey span{display:inline-block;padding:0 6px;margin-right:4px;border:1px solid #ddd;font-size:11px}
"""


@dataclass(frozen=True)
class StudyRun:
    """One run of the study: its contract figures (summarize's object), latency points and samples."""

    summary: dict[str, Any]
    points: list[Point]
    samples: list[Sample]

    @property
    def label(self) -> str:
        s = self.summary
        return f"{s.get('runtime')}/{s.get('backend')}" + (f" ({s['browser']})" if s.get("browser") not in
                                                               (None, "native") else "")

    @property
    def status_spans(self) -> list[tuple[float, float, int]]:
        """(start, end, status) over the run, from the status changes up to the run's last moment."""
        tl = self.summary.get("throttle_timeline") or []
        end = self.end_s
        out = []
        for i, (t, st) in enumerate(tl):
            nxt = tl[i + 1][0] if i + 1 < len(tl) else max(end, t)
            out.append((float(t), float(nxt), int(st)))
        return out

    @property
    def end_s(self) -> float:
        ts = [p.t_s + p.span_s for p in self.points] + [s.t_s for s in self.samples]
        return max(ts) if ts else 0.0


def _load(run_dir: Path) -> tuple[dict[str, Any], list[StudyRun]]:
    """The manifest and every run, paired with summarize()'s objects in the order of the results."""
    store = RunStore.open(run_dir)
    manifest = store.manifest()
    if not is_study(manifest):
        raise ValueError(f"{run_dir} is not a thermal or battery study run (kind {manifest.get('kind')!r})")
    rows = store.samples()
    summaries = summarize(run_dir)
    runs = []
    for raw, summ in zip(store.results(), summaries, strict=True):
        rec = CellRecord.from_json(raw)
        study = rec.extra.get("study") or {}
        pts = latency_points(rec, offset_s=float(study.get("offset_s") or 0.0),
                             scale=float(study.get("time_scale") or 1.0))
        runs.append(StudyRun(summ, pts, samples_of(rows, rec.key, phase="run")))
    return manifest, runs


# --- figures ----------------------------------------------------------------------------------------

def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, pil_kwargs={"compress_level": 1})
    plt.close(fig)
    return buf.getvalue()


def _style(runs: Sequence[StudyRun], i: int) -> tuple[str, str]:
    """Colour per runtime (as in the sweep report); runs of one runtime differ by line style."""
    rt = str(runs[i].summary.get("runtime"))
    same = [j for j in range(i) if str(runs[j].summary.get("runtime")) == rt]
    return colour(rt), _STYLES[len(same) % len(_STYLES)]


def _shade(ax: plt.Axes, run: StudyRun, alpha: float = 0.45) -> None:
    for a, b, st in run.status_spans:
        if st > 0:
            ax.axvspan(a, b, color=STATUS_COLOURS[min(st, len(STATUS_COLOURS) - 1)], alpha=alpha, lw=0, zorder=0)


def _rolling_median(ms: np.ndarray, w: int) -> np.ndarray:
    if w <= 1 or ms.size <= w:
        return ms
    from numpy.lib.stride_tricks import sliding_window_view

    med = np.median(sliding_window_view(ms, w), axis=1)
    pad = w // 2
    return np.concatenate([np.full(pad, np.nan), med, np.full(ms.size - med.size - pad, np.nan)])


def _xlim(ax: plt.Axes, runs: Sequence[StudyRun]) -> None:
    """Every figure of a target on one time axis: 0 to the end of its longest run."""
    end = max((r.end_s for r in runs), default=0.0)
    if end > 0:
        ax.set_xlim(0, end * 1.01)


def latency_chart(runs: Sequence[StudyRun], slug: str) -> Image | None:
    drawn = [r for r in runs if r.points]
    if not drawn:
        return None
    with_status = [r for r in runs if r.status_spans]
    n_strips = len(with_status)
    fig = plt.figure(figsize=(10, 3.6 + 0.32 * n_strips))
    gs = fig.add_gridspec(1 + n_strips, 1, height_ratios=[10] + [1] * n_strips, hspace=0.12)
    ax = fig.add_subplot(gs[0])
    for i, r in enumerate(runs):
        if not r.points:
            continue
        c, ls = _style(runs, i)
        t = np.array([p.t_s for p in r.points])
        ms = np.array([p.ms for p in r.points])
        step = max(1, math.ceil(t.size / MAX_POINTS))
        ax.plot(t[::step], ms[::step], ".", ms=2, color=c, alpha=0.25, zorder=2)
        w = max(1, t.size // 60) if t.size > 120 else 1
        ax.plot(t, _rolling_median(ms, w), ls, color=c, lw=1.6, zorder=3,
                label=r.label + (" (rolling median)" if w > 1 else ""))
    if n_strips == 1:
        _shade(ax, with_status[0], alpha=0.35)
    ax.set_ylabel("latency (ms)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", frameon=False)
    strips = []
    for k, r in enumerate(with_status):
        sa = fig.add_subplot(gs[1 + k], sharex=ax)
        for a, b, st in r.status_spans:
            sa.axvspan(a, b, color=STATUS_COLOURS[min(st, len(STATUS_COLOURS) - 1)], lw=0)
        sa.set_yticks([])
        sa.set_ylabel(r.label, rotation=0, ha="right", va="center", fontsize=7)
        strips.append(sa)
    for upper in [ax, *strips[:-1]] if strips else []:
        upper.tick_params(labelbottom=False)
    _xlim(ax, runs)
    tops = [float(np.percentile([p.ms for p in r.points], 99.5)) for r in drawn]
    peak = max(p.ms for r in drawn for p in r.points)
    clipped = peak > 1.6 * max(tops)
    if clipped:
        ax.set_ylim(0, 1.6 * max(tops))
    (strips[-1] if strips else ax).set_xlabel("time since the run began (s)")
    fig.subplots_adjust(left=0.2 if strips else 0.08, right=0.98, top=0.97, bottom=0.15)
    cap = ("Latency of every run over its own time axis (dots: single inferences or benchmark_model chunks; "
           "line: rolling median)." + (f" Y axis cut at {1.6 * max(tops):.3g} ms; the slowest single inference "
                                       f"took {peak:.3g} ms." if clipped else "")
           + (" Strips below: each run's thermal status (white NONE, yellow LIGHT ... red CRITICAL)."
              if strips else " No thermal status was read."))
    return Image(f"{slug}-study-latency.png", _png(fig), "latency over time per run", cap)


def sensors_chart(run: StudyRun, slug: str, idx: int, runs: Sequence[StudyRun]) -> Image | None:
    temps = sorted({k for s in run.samples for k in s.temps_c})
    cores = sorted({k for s in run.samples for k in s.freqs_khz if k != "gpu"},
                   key=lambda c: (len(c), c))
    gpu = any("gpu" in s.freqs_khz for s in run.samples)
    panels = [p for p, have in (("temp", temps), ("cpu", cores), ("gpu", gpu)) if have]
    if not panels:
        return None
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 2.6 * len(panels) + 0.4), sharex=True, squeeze=False)
    cmap = plt.get_cmap("tab20")
    for ax, what in zip(axes[:, 0], panels, strict=True):
        _shade(ax, run)
        ax.grid(alpha=0.3)
        if what == "temp":
            for j, name in enumerate(temps):
                pts = [(s.t_s, s.temps_c[name]) for s in run.samples if name in s.temps_c]
                ax.plot(*zip(*pts, strict=True), color=cmap(j % 20), lw=1.2, label=name)
            ax.set_ylabel("temperature (°C)")
            ax.legend(fontsize=6.5, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, ncol=1)
        elif what == "cpu":
            for j, core in enumerate(cores):
                pts = [(s.t_s, s.freqs_khz[core] / 1000) for s in run.samples if core in s.freqs_khz]
                ax.step(*zip(*pts, strict=True), where="post", color=cmap(j % 20), lw=1.2, label=core)
            ax.set_ylabel("CPU frequency (MHz)")
            ax.set_ylim(bottom=0)
            ax.legend(fontsize=6.5, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
                      ncol=1 if len(cores) <= 12 else 2)
        else:
            pts = [(s.t_s, s.freqs_khz["gpu"] / 1000) for s in run.samples if "gpu" in s.freqs_khz]
            ax.step(*zip(*pts, strict=True), where="post", color="#2ca02c", lw=1.4, label="gpu")
            ax.set_ylabel("GPU frequency (MHz)")
            ax.set_ylim(bottom=0)
    axes[-1, 0].set_xlabel("time since the run began (s)")
    _xlim(axes[-1, 0], runs)
    fig.subplots_adjust(left=0.08, right=0.82, top=0.97, bottom=0.1 if len(panels) > 1 else 0.18, hspace=0.12)
    cap = (f"{run.label}: " + ", ".join({"temp": "every temperature sensor", "cpu": "every CPU core's frequency",
                                         "gpu": "the GPU clock"}[p] for p in panels)
           + "; background: the thermal status (yellow LIGHT to red CRITICAL).")
    return Image(f"{slug}-study-sensors-{idx}.png", _png(fig), f"sensors over time, {run.label}", cap)


def energy_chart(runs: Sequence[StudyRun], slug: str) -> Image | None:
    shown = [(i, r) for i, r in enumerate(runs) if r.summary.get("energy_mj_per_inference") is not None]
    if not shown:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(10, 1.0 + 0.45 * len(shown)), squeeze=False)
    y = np.arange(len(shown))
    for ax, key, ci_key, unit in ((axes[0, 0], "energy_mj_per_inference", "energy_ci95", "mJ per inference"),
                                  (axes[0, 1], "mah_per_1000_inferences", "mah_per_1000_ci95",
                                   "mAh per 1000 inferences")):
        for k, (i, r) in enumerate(shown):
            v = float(r.summary[key])
            ci = r.summary.get(ci_key)
            c, _ = _style(runs, i)
            err = None if not ci else [[v - float(ci[0])], [float(ci[1]) - v]]
            _, ls = _style(runs, i)
            ax.barh(y[k], v, color=c, height=0.6, xerr=err, capsize=4, error_kw={"elinewidth": 1.2},
                    hatch={"-": None, "--": "//", ":": "..", "-.": "xx"}[ls], edgecolor="white")
            ax.text(v, y[k] + 0.36, f" {v:g}", fontsize=7, va="bottom")
        ax.set_yticks(y, [r.label for _, r in shown], fontsize=8)
        ax.invert_yaxis()
        ax.axvline(0, color="#888", lw=0.8)
        ax.set_xlabel(unit)
        ax.grid(axis="x", alpha=0.3)
    fig.subplots_adjust(left=0.2, right=0.97, wspace=0.55, top=0.95, bottom=0.55 / (1.0 + 0.45 * len(shown)))
    return Image(f"{slug}-study-energy.png", _png(fig), "energy per inference per run",
                 "Energy per inference above the idle baseline (bar: the estimate; whiskers: its CI95, from five "
                 "time slices of the run). Runs of one runtime differ by hatching.")


# --- page ---------------------------------------------------------------------------------------

def _num(v: Any, unit: str = "") -> str:
    if v is None:
        return '<span class="muted">-</span>'
    if isinstance(v, float):
        return f"{v:g}{unit}"
    return f"{esc(v)}{unit}"


def _status(v: Any) -> str:
    if v is None:
        return '<span class="muted">not read</span>'
    name = STATUS_NAMES[v] if isinstance(v, int) and 0 <= v < len(STATUS_NAMES) else str(v)
    return f"{esc(v)} ({esc(name)})"


def _run_label_cell(r: StudyRun) -> str:
    s = r.summary
    out = f'<span class="key" style="background:{colour(str(s.get("runtime")))}"></span>{esc(r.label)}'
    if s.get("partial"):
        why = s.get("stop_reason") or s.get("error") or "stopped early"
        out += f' <span class="pill partial">partial</span><br><span class="failed">{esc(why)}</span>'
    return out


def contract_table(runs: Sequence[StudyRun], kind: str) -> str:
    head = ["run", "duration (s)", "inferences", "latency start (ms)", "latency end (ms)", "stability",
            "time to throttle (s)", "max thermal status", "max temp (°C)"]
    if kind == "battery":
        head += ["energy (mJ / inference)", "CI95 (mJ)", "mAh / 1000 inferences", "charging detected"]
    rows = []
    for r in runs:
        s = r.summary
        row = [_run_label_cell(r),
               _num(s.get("duration_s")) + (f' <span class="ci">of {s["duration_asked_s"]:g}</span>'
                                            if s.get("duration_asked_s") else ""),
               _num(s.get("inferences")), _num(s.get("latency_start_ms")), _num(s.get("latency_end_ms")),
               _num(s.get("stability")),
               _num(s.get("time_to_throttle_s")) if s.get("max_thermal_status") is not None
               else '<span class="muted">no status read</span>' if s.get("time_to_throttle_s") is None
               else _num(s.get("time_to_throttle_s")),
               _status(s.get("max_thermal_status")), _num(s.get("max_temp_c"))]
        if s.get("max_thermal_status") is not None and s.get("time_to_throttle_s") is None:
            row[6] = "never"
        if kind == "battery":
            e, ci = s.get("energy_mj_per_inference"), s.get("energy_ci95")
            bound = s.get("energy_upper_bound_mj")
            shown = (f'&lt; {_num(bound)} <span class="pill warn">below detection limit</span>'
                     if e is None and bound is not None else _num(e))
            row += [f'<span class="energy" data-run="{esc(r.label)}" data-mj="{e!r}">{shown}</span>',
                    f'<span class="energy-ci" data-ci="{esc(ci)}" style="white-space:nowrap">{_num(ci[0])} – {_num(ci[1])}</span>'
                    if ci else _num(None),
                    _num(s.get("mah_per_1000_inferences")),
                    '<span class="pill bad">yes: energy not published</span>' if s.get("charging_detected")
                    else '<span class="pill ok">no</span>']
        rows.append(row)
    return table(head, rows)


def _battery_block(runs: Sequence[StudyRun], img: Image | None) -> str:
    out = ["<h3>Battery: energy per inference</h3>"]
    for r in runs:
        s = r.summary
        if s.get("charging_detected"):
            out.append(f'<div class="warnbox"><b>{esc(r.label)}: the phone charged although unplugged</b>; '
                       f"its energy is not published. {esc(s.get('battery_note') or '')}</div>")
    out.append(figure(img, "no run has an energy figure (no charge counter readings, or charging detected)"))
    rows = []
    for r in runs:
        s = r.summary
        idle, drop = s.get("idle_drop_uah"), s.get("charge_drop_uah")
        rows.append([esc(r.label), _num(drop), _num(idle), _num(s.get("voltage_v")),
                     esc(s.get("energy_note") or "")])
    out.append("<p>The idle baseline: the charge the phone lost at rest (measured before the runs) over the same "
               "time as the run is subtracted from the run's drop.</p>")
    out.append(table(["run", "charge drop in the run (µAh)", "idle baseline over the same time (µAh)",
                      "mean voltage (V)", "note"], rows))
    return "".join(out)


def _fingerprint(fp: Mapping[str, Any]) -> str:
    items = [(label, fp.get(k)) for k, label in FP_KEYS if fp.get(k) not in (None, "")]
    th = fp.get("thermal")
    if isinstance(th, Mapping):
        items.append(("host thermal at start", th.get("max_c") if th.get("max_c") is not None else th.get("source")))
    if isinstance(fp.get("browsers"), list):
        items.append(("browsers", ", ".join(f"{b.get('name') or b.get('package')} {b.get('version') or ''}".strip()
                                            for b in fp["browsers"] if isinstance(b, Mapping))))
    if not items:
        return '<p class="none">no fingerprint in the manifest</p>'
    return '<dl class="fp">' + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in items) + "</dl>"


def _status_key() -> str:
    return ('<p class="statuskey">thermal status: ' + "".join(
        f'<span style="background:{c};color:{"#fff" if i >= 4 else "#222"}">{n}</span>'
        for i, (c, n) in enumerate(zip(STATUS_COLOURS, STATUS_NAMES, strict=False)))
            + "</p>")


def _target_section(target: str, slug: str, kind: str, manifest: Mapping[str, Any],
                    runs: Sequence[StudyRun]) -> tuple[str, list[Image]]:
    images: list[Image] = []
    fp = (manifest.get("targets") or {}).get(target) or {}
    parts = [f'<section class="target" data-target="{esc(target)}" id="t-{esc(slug)}">',
             f"<h2>{esc(target)}</h2>", _fingerprint(fp)]
    for n in manifest.get("notes") or []:
        parts.append(f'<p class="muted">{esc(n)}</p>')
    partial = [r for r in runs if r.summary.get("partial")]
    if partial:
        parts.append('<div class="warnbox">' + "<br>".join(
            f"<b>{esc(r.label)}</b> is partial: {esc(r.summary.get('stop_reason') or r.summary.get('error') or '?')}"
            for r in partial) + "</div>")
    parts.append("<h3>The study's figures per run</h3>")
    parts.append(contract_table(runs, kind))
    parts.append('<p class="muted">stability = latency at the start / latency at the end (medians over the first '
                 "and last fifth of the run, or minute for runs over five minutes): 1.0 = no slowdown, below 1 = "
                 "slower at the end.</p>")
    parts.append("<h3>Latency over time</h3>")
    lat = latency_chart(runs, slug)
    parts.append(figure(lat, "no latency recorded"))
    images += [lat] if lat else []
    parts.append("<h3>Temperatures and frequencies</h3>")
    sens = [sensors_chart(r, slug, i, runs) for i, r in enumerate(runs)]
    if not any(sens):
        parts.append('<p class="none sensors-none">This target exposed no temperature sensor, no thermal status and '
                     "no CPU / GPU frequency during the study: only latency over time was recorded.</p>")
    else:
        parts.append(_status_key())
        for r, img in zip(runs, sens, strict=True):
            parts.append(f'<h4 class="studyrun">{esc(r.label)}</h4>')
            parts.append(figure(img, f"{r.label}: no sensor read during this run"))
            images += [img] if img else []
    if kind == "battery":
        en = energy_chart(runs, slug)
        parts.append(_battery_block(runs, en))
        images += [en] if en else []
    parts.append("</section>")
    return "".join(parts), images


def study_page(manifest: Mapping[str, Any], runs: Sequence[StudyRun]) -> tuple[str, list[Image]]:
    kind = str(manifest.get("kind"))
    spec = manifest.get("study") or {}
    targets: list[str] = []
    for r in runs:
        t = str(r.summary.get("target"))
        if t not in targets:
            targets.append(t)
    for t in (manifest.get("targets") or {}):
        if t not in targets:
            targets.append(t)
    body, images, slugs = [], [], []
    for t in targets:
        slug = safe_name(t)
        while slug in slugs:
            slug += "_"
        slugs.append(slug)
        section, imgs = _target_section(t, slug, kind, manifest, [r for r in runs if str(r.summary.get("target")) == t])
        body.append(section)
        images += imgs
    if not runs:
        body.append('<p class="none">no run was recorded</p>')
    run_id = manifest.get("run_id") or ""
    title = f"{kind} study {run_id}"
    header = (f"<h1>{esc(kind.capitalize())} study: {esc(spec.get('model') or '')}</h1>"
              f'<p class="muted">run {esc(run_id)}; runs asked: '
              + esc(", ".join(f"{x.get('runtime')}/{x.get('backend')}" for x in spec.get("runs") or []))
              + f"; duration asked {esc(spec.get('duration_s'))} s"
              + (" (partial: " + esc(manifest.get("stop_reason") or "stopped early") + ")"
                 if manifest.get("partial") else "") + "</p>"
              + '<nav>' + "".join(f'<a href="#t-{esc(s)}">{esc(t)}</a>' for t, s in zip(targets, slugs, strict=True))
              + "</nav>")
    text = page(title, header, "".join(body)).replace("</style>", EXTRA_CSS + "</style>", 1)
    return text, images


def write_study_report(run_dir: Path | str) -> Path:
    """Write `RUN_DIR/report/index.html` (and its PNGs) for a thermal / battery study; returns its path."""
    run_dir = Path(run_dir)
    manifest, runs = _load(run_dir)
    text, images = study_page(manifest, runs)
    return write_report_folder(run_dir, images, text)
