"""The report page: one self-contained HTML file (inline CSS, no script, no network) beside its PNGs."""

from __future__ import annotations

import html
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .data import GapRow, RunData, TargetRun, as_mapping, mean
from .plots import Image, colour


def esc(x: Any) -> str:
    return html.escape("" if x is None else str(x), quote=True)


# --- the study's headline figures ---------------------------------------------------------------

@dataclass(frozen=True)
class StudyFigure:
    what: str
    pc: str
    mobile: str


#: Wang et al., "Anatomizing Deep Learning Inference in Web Browsers", ACM TOSEM 2025
STUDY_CITATION = ("Wang et al., <i>Anatomizing Deep Learning Inference in Web Browsers</i>, "
                  "ACM TOSEM 2025")
STUDY = {"cpu": StudyFigure("mean latency gap, CPU (browser wasm/cpu vs native CPU)", "16.9x", "15.8x"),
         "gpu": StudyFigure("mean latency gap, GPU (browser webgl/webgpu vs native GPU)", "4.9x", "7.8x"),
         "memory": StudyFigure("memory, peak vs model size", "up to 334.6x", "up to 334.6x"),
         "gui": StudyFigure("GUI rendering while a model runs", "+67.2%", "+67.2%")}


# --- flags in words -------------------------------------------------------------------------------

FLAG_WORDS: tuple[tuple[str, str], ...] = (
    (r"unstable-cv>=10%", "latencies vary a lot: coefficient of variation of 10% or more (within or between "
                          "repeats); the median is less certain (the rule of runs before calibrated stability)"),
    (r"unstable-between-loads", "page loads (or native processes) disagree: the spread of their medians is over "
                                "3x what sampling inside them explains, and over twice the precision asked "
                                "(drift, JIT, heat, background load)"),
    (r"unstable-within-load", "latencies inside a page load scatter (CV of 25% or more): bimodal or jittery, "
                              "the median says less"),
    (r"imprecise", "a ceiling (time or count) came before the precision asked: the CI95 of the median is wider; "
                   "the row's `precision` says how wide"),
    (r"warmup-not-converged", "warm-up hit its ceiling while the latency was still drifting"),
    (r"few-samples", "fewer than 10 latencies behind the median (timed inferences; a native benchmark_model run "
                     "that printed no count and percentiles gives one): the confidence interval is wide"),
    (r"(\d+)-of-(\d+)-repeats-failed", "some repeats failed; the numbers come from the others"),
    (r"unsupported", "the runtime or browser cannot run this configuration (not an error of the lab)"),
    (r"vs-native-cpu", "no native GPU delegate was measured: a GPU backend is compared with native CPU"),
    (r"native-summary-only", "native TFLite's benchmark_model printed a summary, not every latency: its timed "
                             "inferences are counted, laid out by the tool's own percentiles (min, p5, median, "
                             "p95, max joined by straight lines), which gives a CI95 no narrower than theirs"),
    (r"paired-at-threads-in-effect=(\d+)", "the browser ran fewer threads than asked; it is paired with native "
                                           "at the threads in effect"),
    (r"no-native-baseline", "no native cell to compare with: no gap"),
    (r"threads-in-effect=(\d+)", "the runtime ran with this many threads, not the number asked"),
    (r"thermal-throttled", "the phone's thermal status rose during the cell: taken hot"),
    (r"thermal-status-rose=(\d+)", "the thermal status rose to this level during the cell"),
    (r"rerun-after-throttle", "an earlier try was throttled; this is the re-run after cool-down"),
    (r"recovered-after-disconnect", "the phone dropped away and came back; the cell was run again"),
    (r"phone-never-cooled", "the phone did not cool below the gate's limits before the cell; it ran anyway"),
    (r"too-hot", "the cell was skipped because the phone stayed too hot"),
    (r"page-hidden", "the page was hidden during the timed run (timers throttled): numbers not published"),
    (r"software-gpu", "the GPU is a software renderer (SwiftShader): GPU numbers do not show a real GPU"),
    (r"not-cross-origin-isolated", "the page was not cross-origin isolated: no wasm threads, coarse timers"),
    (r"backend-fell-back", "the runtime fell back to another backend: reported as an error, not a number"),
    (r"renderer-crashed", "the browser's renderer died during the cell"),
    (r"(\w+)-partial.*", "only part of the graph ran on the accelerator asked for; the rest on CPU"),
    (r"cpu-fallback", "the runtime ran on CPU instead of the accelerator asked for"),
    (r"skipped-device-lost", "the phone was lost; the cell was not run"),
    (r"skipped-time-ceiling", "not run: the configuration had spent its --max-time-per-cell"),
    (r"loads-cut-by-time-ceiling\((\d+)-of-(\d+)\)", "planned page loads / processes the time ceiling "
                                                     "(--max-time-per-cell) left unrun: fewer loads than planned"),
)


def explain_flag(flag: str) -> str:
    for pattern, words in FLAG_WORDS:
        if re.fullmatch(pattern, flag):
            return words
    return "recorded by the sweep (no explanation on file)"


# --- small pieces ---------------------------------------------------------------------------------

def ms(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.3g}" if x < 100 else f"{x:.0f}"


def num(x: Any, nd: int = 1, pct: bool = False) -> str:
    """A table cell: x with nd decimals, or (pct) 100 * x with nd decimals and a %; "-" for None."""
    if x is None:
        return "-"
    return f"{100 * x:.{nd}f}%" if pct else f"{x:.{nd}f}"


def gap_colour(g: float | None) -> str:
    """White near 1x, through yellow to red at 30x and beyond (log scale)."""
    if g is None or g <= 0:
        return "#f4f4f4"
    f = min(1.0, max(0.0, math.log10(max(g, 1.0)) / math.log10(30.0)))
    if g < 1:
        return "#d8f0d8"
    r, gg, b = 255, int(255 - 150 * f), int(235 - 215 * f)
    return f"#{r:02x}{gg:02x}{b:02x}"


def table(head: Sequence[str], rows: Iterable[Sequence[str]], cls: str = "") -> str:
    """Cells are HTML already (escape what you put in)."""
    out = [f'<table class="{cls}"><thead><tr>' + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead><tbody>"]
    for r in rows:
        out.append("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def figure(img: Image | None, missing: str) -> str:
    if img is None:
        return f'<p class="none">{esc(missing)}</p>'
    return (f'<figure><img src="{esc(img.name)}" alt="{esc(img.alt)}">'
            f"<figcaption>{esc(img.caption)}</figcaption></figure>")


CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#222;background:#fafafa}
header,main{max-width:1200px;margin:0 auto;padding:0 16px}
header{padding-top:12px}
h1{font-size:22px;margin:8px 0} h2{font-size:19px;border-bottom:2px solid #ccc;padding-bottom:4px;margin-top:36px}
h3{font-size:16px;margin-top:24px}
table{border-collapse:collapse;margin:8px 0;background:#fff;font-size:12.5px}
th,td{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f0f0f0} td.num{text-align:right;font-variant-numeric:tabular-nums}
.gap td{text-align:center;min-width:70px} .gap td:first-child{text-align:left;font-weight:600}
.failed{color:#8a1c1c;font-size:11.5px} .muted,.none{color:#777} .ci{color:#555;font-size:11px}
figure{margin:12px 0;background:#fff;border:1px solid #e3e3e3;padding:6px}
figure img{max-width:100%;height:auto;display:block} figcaption{color:#555;font-size:12px;margin-top:4px}
nav a{margin-right:12px} .pill{display:inline-block;border-radius:8px;padding:0 6px;margin:1px;font-size:11px;
background:#eee} .ok{background:#dff3df} .bad{background:#f8d7d7} .warn{background:#fff1c9}
dl.fp{display:grid;grid-template-columns:max-content auto;gap:2px 12px;background:#fff;padding:8px;
border:1px solid #e3e3e3} dl.fp dt{color:#555} dl.fp dd{margin:0}
.key{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}
"""


def page(title: str, header: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{esc(title)}</title><style>{CSS}</style></head>"
            f"<body><header>{header}</header><main>{body}</main></body></html>\n")


# --- sections ------------------------------------------------------------------------------------

FP_KEYS = (("model", "model"), ("manufacturer", "manufacturer"), ("soc", "SoC"), ("android_release", "Android"),
           ("sdk", "SDK"), ("abi", "ABI"), ("profile", "device profile"), ("hostname", "host"),
           ("cpu_model", "CPU"), ("cpu_count", "cores"), ("mem_total_mb", "memory (MB)"), ("os", "OS"),
           ("chromium", "Chromium binary"), ("native_runtime", "native runtime"),
           ("thermal_status_start", "thermal status at start"), ("battery_temp_start_c", "battery C at start"))


def fingerprint(t: TargetRun) -> str:
    items = [(label, t.fingerprint.get(k)) for k, label in FP_KEYS if t.fingerprint.get(k) not in (None, "")]
    th = t.fingerprint.get("thermal")
    if isinstance(th, Mapping):
        items.append(("host thermal at start", th.get("max_c") if th.get("max_c") is not None else th.get("source")))
    br = t.versions.get("browsers")
    if isinstance(br, Mapping) and br:
        items.append(("browsers", ", ".join(f"{k} {v}" for k, v in br.items())))
    elif isinstance(t.fingerprint.get("browsers"), list):
        items.append(("browsers", ", ".join(
            f"{b.get('label') or b.get('package')} {b.get('version') or ''}".strip()
            for b in t.fingerprint["browsers"] if isinstance(b, Mapping))))
    fw = t.versions.get("frameworks")
    if isinstance(fw, Mapping) and fw:
        short = {k: v for k, v in fw.items() if k.startswith("@") or k in ("tflite", "onnxruntime-web", "tfjs")}
        items.append(("frameworks", ", ".join(f"{k} {v}" for k, v in (short or fw).items())))
    if not items:
        return '<p class="none">no fingerprint in the manifest</p>'
    return '<dl class="fp">' + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in items) + "</dl>"


def validity(t: TargetRun) -> str:
    status = Counter(r.status for r in t.records)
    flagged = sum(1 for r in t.records if r.ok and r.flags)
    clean = sum(1 for r in t.records if r.ok and not r.flags)
    why = Counter((r.error_kind or r.status, (r.error or "")[:160]) for r in t.records if not r.ok)
    flags = Counter(f for r in t.records for f in r.flags)
    parts = [f'<p><span class="pill ok">{clean} ok</span><span class="pill warn">{flagged} ok but flagged</span>'
             + "".join(f'<span class="pill bad">{n} {esc(s)}</span>' for s, n in sorted(status.items()) if s != "ok")
             + f' <span class="muted">of {len(t.records)} cells</span></p>']
    if why:
        parts.append("<p>Why cells failed or were not run:</p>" + table(
            ["kind", "cells", "message (first 160 characters)"],
            ([esc(k), str(n), esc(m)] for (k, m), n in why.most_common(20))))
    if flags:
        parts.append("<p>Flags on cells: " + ", ".join(f"<code>{esc(f)}</code> x{n}" for f, n in flags.most_common())
                     + " (explained at the end)</p>")
    return "".join(parts)


def gap_table(t: TargetRun) -> str:
    """Rows = models, columns = browser runtime/backend/threads; each cell the gap with its CI95."""
    many = len(t.browsers) > 1
    cols: list[tuple[str, str, str, int]] = []
    for r in t.rows:
        k = (r.browser, r.runtime, r.backend, r.threads)
        if not r.native and k not in cols:
            cols.append(k)
    if not cols:
        return '<p class="none">no browser cells on this target</p>'
    by = {(r.model, r.browser, r.runtime, r.backend, r.threads): r for r in t.rows}
    natives: dict[str, list[GapRow]] = {}
    for r in t.rows:
        if r.native:
            natives.setdefault(r.model, []).append(r)
    head = ["model", "native ms"] + [
        f'<span class="key" style="background:{colour(rt)}"></span>{esc(rt)}/{esc(be)} t{th}'
        + (f"<br><span class='muted'>{esc(b)}</span>" if many else "") for b, rt, be, th in cols]
    body = []
    for model in t.models:
        nat = "<br>".join(f"{esc(n.runtime.removesuffix('-native'))} {esc(n.backend)} t{n.threads}: "
                          f"{ms(n.native_median_ms)}" for n in natives.get(model, []))
        cells = [esc(model), nat or "-"]
        for b, rt, be, th in cols:
            row = by.get((model, b, rt, be, th))
            if row is None:
                cells.append('<span class="muted">not run</span>')
            elif row.gap is not None and row.validity == "invalid":  # never shown as a clean number
                cells.append(f'<span class="failed">invalid: {esc(", ".join(row.validity_reasons))}</span>')
            elif row.gap is not None:
                ci = (f"<br><span class='ci'>[{row.gap_ci95[0]:.1f}, {row.gap_ci95[1]:.1f}]</span>"
                      if row.gap_ci95 else "")
                mark = " *" if row.flags else ""
                cells.append(f'<div style="background:{gap_colour(row.gap)}" title="{esc(", ".join(row.flags))}">'
                             f"<b>{row.gap:.1f}x</b>{mark}{ci}</div>")
            elif row.error:
                cells.append(f'<span class="failed">{esc(row.error[:90])}</span>')
            else:
                cells.append(f'<span class="muted">{esc(", ".join(row.flags) or "no gap")}</span>')
        body.append(cells)
    return (table(head, body, "gap") + '<p class="muted">Gap = browser median / paired native median (x), CI95 '
            "below; colour from white (1x) to red (30x and beyond); * = flagged (hover, or see the flags). "
            "Failed cells show their reason.</p>")


def agreement_table(t: TargetRun) -> str:
    rows = [r for r in t.rows if not r.native]
    if not rows:
        return ""
    body = []
    for r in rows:
        top = {True: "yes", False: "<b>NO</b>", None: "-"}[r.top1_match]
        diff = "-" if r.max_abs_diff is None else f"{r.max_abs_diff:.3g}"
        body.append([esc(r.model), esc(r.config_label), esc(r.browser), f'<span class="num">{diff}</span>', top,
                     esc(", ".join(r.flags)) or "-", f'<span class="failed">{esc((r.error or "")[:120])}</span>'])
    return table(["model", "runtime/backend", "browser", "max |diff| vs reference", "top-1 match", "flags",
                  "error"], body)


def numbers_table(t: TargetRun) -> str:
    body = []
    for r in t.rows:
        ci = f" [{ms(r.browser_ci95_ms[0])}, {ms(r.browser_ci95_ms[1])}]" if r.browser_ci95_ms else ""
        lat = ms(r.native_median_ms) if r.native else ms(r.browser_median_ms) + ci
        body.append([esc(r.model), esc(r.config_label), esc(r.browser), lat, ms(r.first_inference_ms),
                     ms(r.setup_ms), "-" if r.peak_memory_mb is None else f"{r.peak_memory_mb:.0f}",
                     "-" if r.memory_ratio is None else f"{r.memory_ratio:.0f}x",
                     "-" if r.n is None else str(r.n), "-" if r.cv is None else f"{100 * r.cv:.1f}%",
                     "-" if r.precision is None else f"{100 * r.precision:.1f}%",
                     "-" if r.thermal_status_max is None else str(r.thermal_status_max),
                     "-" if r.battery_temp_max_c is None else f"{r.battery_temp_max_c:.1f}",
                     paired_cell(r), shares_cell(r), validity_cell(r)])
    return (table(["model", "runtime/backend", "browser", "median ms [CI95]", "1st ms", "setup ms", "peak MB",
                   "x model", "n", "CV", "±CI95", "thermal max", "battery max C", "paired gap [CI95]",
                   "variance: rounds / drift / loads", "validity"], body)
            + '<p class="muted">Paired gap: the browser and its native reference take turns in short rounds in '
              "one page load; the gap is the median of the rounds' ratios (CI95: loads, then rounds resampled). "
              "Variance of log-latency within rounds / between rounds (drift) / between page loads: more runs "
              "help the first, a quieter machine the second, more page loads the third.</p>")


def paired_cell(r: GapRow) -> str:
    if r.paired_gap is not None:
        ci = f" [{r.paired_gap_ci95[0]:.2f}, {r.paired_gap_ci95[1]:.2f}]" if r.paired_gap_ci95 else ""
        mixed = " <span class='muted'>(mixed)</span>" if r.pairing == "mixed" else ""
        return f"{r.paired_gap:.2f}x{ci}{mixed}"
    if r.pairing == "unpaired":
        return f"<span class='muted'>unpaired: {esc(r.pairing_note or '')}</span>"
    return "-"


def shares_cell(r: GapRow) -> str:
    if r.var_shares is None:
        return "-"
    return " / ".join(f"{100 * x:.0f}%" for x in r.var_shares)


def validity_cell(r: GapRow) -> str:
    if r.validity is None:
        return "-"
    cls = {"valid": "ok", "flagged": "warn", "invalid": "bad"}.get(r.validity, "warn")
    why = f" <span class='muted'>{esc(', '.join(r.validity_reasons))}</span>" if r.validity_reasons else ""
    return f'<span class="pill {cls}">{esc(r.validity)}</span>{why}'


def latency_counts(t: TargetRun) -> str:
    """Beside the latency plots: runs, repeats, warm-ups used, precision reached and outliers
    (latencies above Q3 + 3 x IQR of their page load / process: kept in every number, counted here)."""
    rows = [r for r in t.rows if r.n]
    if not rows:
        return ""
    body = [[esc(r.model), esc(r.config_label), esc(r.browser), str(r.n), "-" if r.repeats is None else str(r.repeats),
             "-" if r.warmups is None else f"{r.warmups:g}",
             "-" if r.precision is None else f"{100 * r.precision:.1f}%",
             "-" if r.outliers is None else str(r.outliers), validity_cell(r)] for r in rows]
    return (table(["model", "runtime/backend", "browser", "timed runs", "repeats", "warm-ups (median)",
                   "±CI95 of the median", "outliers (> Q3 + 3 IQR)", "validity"], body)
            + '<p class="muted">Outliers are kept in every number, never dropped; a latency counts as one when it '
              "is above Q3 + 3 x IQR of its own page load / process.</p>")


@dataclass(frozen=True)
class StudyLine:
    what: str
    ours: str
    study: StudyFigure


def study_lines(t: TargetRun) -> list[StudyLine]:
    cpu = [r.gap for r in t.rows if r.kind == "cpu" and r.gap is not None]
    gpu = [r for r in t.rows if r.kind == "gpu" and r.gap is not None]
    gpu_native = [r.gap for r in gpu if "vs-native-cpu" not in r.flags and r.gap is not None]
    mem = [r.memory_ratio for r in t.rows if not r.native and r.memory_ratio is not None]
    jank = [r.janky_frame_share for r in t.rows if r.janky_frame_share is not None]
    page = [r.page_long_frame_share for r in t.rows if r.page_long_frame_share is not None]

    def fmt(xs: Sequence[float], note: str = "") -> str:
        m = mean(xs)
        return f"{m:.1f}x (mean of {len(xs)} configurations{note})" if m is not None else "not measured"

    gpu_text = fmt(gpu_native)
    if not gpu_native and gpu:
        gpu_text = fmt([r.gap for r in gpu if r.gap is not None], "; against native CPU: no native GPU here")
    gui = "not measured: needs the same page idle as a baseline"
    if jank or page:
        bits = []
        if jank:
            bits.append(f"janky UI frames up to {100 * max(jank):.0f}%")
        if page:
            bits.append(f"page frames > 50 ms up to {100 * max(page):.0f}%")
        gui = "; ".join(bits) + " (not the study's measure: no idle baseline)"
    return [
        StudyLine(STUDY["cpu"].what, fmt(cpu), STUDY["cpu"]),
        StudyLine(STUDY["gpu"].what, gpu_text, STUDY["gpu"]),
        StudyLine(STUDY["memory"].what, f"up to {max(mem):.1f}x (mean {mean(mem) or 0:.1f}x)" if mem
                  else "not measured", STUDY["memory"]),
        StudyLine(STUDY["gui"].what, gui, STUDY["gui"]),
    ]


def study_section(run: RunData) -> str:
    parts = ['<section id="study"><h2>The study beside us</h2>',
             f"<p>This run's gaps beside the headline figures of {STUDY_CITATION}. "
             "<b>The two right-hand columns are the study's figures</b>, not measured here; the one in bold is "
             "the platform of this target (PC for this computer, mobile for phones).</p>"]
    for t in run.targets:
        mobile = t.kind == "android"

        def cell(text: str, mine: bool) -> str:
            shown = f"<b>{esc(text)}</b>" if mine else esc(text)
            return f"{shown} <span class='muted'>(study)</span>"

        parts.append(f"<h3>{esc(t.name)}</h3>" + table(
            ["", "this run", "the study's figure, PC", "the study's figure, mobile"],
            ([esc(s.what), esc(s.ours), cell(s.study.pc, not mobile), cell(s.study.mobile, mobile)]
             for s in study_lines(t))))
    parts.append("</section>")
    return "".join(parts)


def flags_section(run: RunData) -> str:
    seen = sorted({f for r in run.records for f in r.flags} | {f for t in run.targets for r in t.rows
                                                               for f in r.flags})
    if not seen:
        return '<section id="flags"><h2>Flags</h2><p class="none">no cell was flagged</p></section>'
    return ('<section id="flags"><h2>Flags, in words</h2>'
            + table(["flag", "what it means"], ([f"<code>{esc(f)}</code>", esc(explain_flag(f))] for f in seen))
            + "</section>")


@dataclass(frozen=True)
class TargetFigures:
    gap: Image | None
    latency: tuple[Image, ...]
    setup: Image | None
    memory: Image | None
    memory_time: Image | None
    conditions: Image | None
    frames: Image | None
    qoe: Image | None = None   # QoE cells: baseline vs main vs worker
    qoe_html: str = ""         # their table and chart (htmlreport/qoe.py), empty without QoE cells
    ops: Image | None = None                          # --profile-ops: excess ms by operator class
    ops_html: str = ""                                # its part of the section (htmlreport/ops.py), or none


def target_section(t: TargetRun, slug: str, figs: TargetFigures) -> str:
    kind = "phone" if t.kind == "android" else "this computer"
    lat = "".join(figure(i, "") for i in figs.latency) or '<p class="none">no latencies stored</p>'
    cond_missing = ("no thermal, battery, CPU or memory samples on this target"
                    + (" (this computer: memory only; no thermal sensors readable)" if t.kind == "local" else ""))
    return "".join([
        f'<section class="target" id="target-{esc(slug)}" data-target="{esc(t.name)}">',
        f"<h2>{esc(t.name)} <span class='muted'>({kind})</span></h2>",
        "<h3>Fingerprint</h3>", fingerprint(t),
        "<h3>Validity</h3>", validity(t),
        "<h3>Gap table</h3>", gap_table(t),
        figure(figs.gap, "no gap to plot (no browser cell paired with a native one)"),
        figs.ops_html,
        "<h3>Latency distributions</h3>", latency_counts(t), lat,
        "<h3>Setup time</h3>", figure(figs.setup, "no setup times stored"),
        "<h3>Memory</h3>", figure(figs.memory, "no memory peaks stored"),
        figure(figs.memory_time, "no memory samples during the cells"),
        "<h3>Conditions over the run</h3>", figure(figs.conditions, cond_missing),
        "<h3>Frames</h3>", figure(figs.frames, "no frame data (gfxinfo or in-page rAF) on this target"),
        figs.qoe_html,
        "<h3>Output agreement</h3>", agreement_table(t),
        "<h3>All numbers</h3>", numbers_table(t),
        "</section>",
    ])


def report_page(run: RunData, sections: Sequence[tuple[TargetRun, str, TargetFigures]]) -> str:
    m = run.manifest
    nav = "".join(f'<a href="#target-{esc(slug)}">{esc(t.name)}</a>' for t, slug, _ in sections)
    spec = as_mapping(m.get("spec"))
    header = (f"<h1>mwi report: {esc(run.run_id)}</h1>"
              f"<p class='muted'>created {esc(m.get('created_at'))}; {esc(m.get('tool'))} "
              f"{esc(m.get('tool_version'))}; {len(run.records)} cells; models "
              f"{esc(', '.join(map(str, spec.get('models') or [])))}. Data for pandas: "
              f"<a href='../cells.parquet'>cells.parquet</a>, <a href='../samples.parquet'>samples.parquet</a> "
              f"(in the run directory).</p>"
              f"<nav>{nav}<a href='#study'>the study beside us</a><a href='#flags'>flags</a></nav>")
    body = "".join(target_section(t, slug, f) for t, slug, f in sections)
    if not sections:
        body = '<p class="none">this run has no cells yet</p>'
    return page(f"mwi report {run.run_id}", header, body + study_section(run) + flags_section(run))

