"""What the probe sampler costs: a 10 s session of every default probe on the fake phone.

    .venv/bin/python -m benchmarks.bench_sampler [--seconds 10] [--scale 2]

A fake phone (tests/fakephone, a subprocess speaking the device side of ADB) on a private adb
server; Chrome is opened on a page so its browser, GPU and renderer processes exist; then
`Sampler(device, default_probes("com.android.chrome"), 1.0, sink)` runs at the probes' default
intervals (gfxinfo and cpu 1 s, thermal 2 s, meminfo and battery 5 s).

Bars: the share of wall time the sampler thread spends waiting on probe calls <= 20%; the mean
call time of each probe: meminfo <= 500 ms (one `dumpsys meminfo --package` lists every Chrome
process), every other probe <= 100 ms.  These are round trips through adb to a fake phone on
this machine, so they measure our side (adb, quoting, exit codes, parsing) plus the fake's;
a real phone's dumpsys adds its own time.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from mobile_webinfer.probes import Sampler, default_probes

from ._common import Bar, Report, best_of, main_guard, parser, scaled
from ._fakephone import private_fake_phone

CHROME = "com.android.chrome"
SHARE_BAR = 0.20
MEAN_BAR_S = {"meminfo": 0.5, "gfxinfo": 0.1, "thermal": 0.1, "battery": 0.1, "cpu": 0.1}


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=10.0, help="length of the sampling session (default 10)")
    p.add_argument("--profile", default="pixel", help="fake phone profile (tests/fakephone/profiles)")
    args = p.parse_args(argv)
    if not 1.0 <= args.seconds <= 120.0:
        raise SystemExit("--seconds must be between 1 and 120")
    report = Report("bench_sampler")
    rows: list[dict] = []
    with private_fake_phone(args.profile) as (server, phone, device):
        report.info(f"fake phone {phone.serial} ({args.profile}) on a private adb server, port {server.port}")
        device.shell(["am", "start", "-a", "android.intent.action.VIEW", "-d", "about:blank",
                      "-n", f"{CHROME}/com.google.android.apps.chrome.Main"], check=False)
        probes = default_probes(CHROME)
        with Sampler(device, probes, 1.0, rows.append) as sampler:
            time.sleep(args.seconds)
        cost = sampler.cost()
        # where a probe call's time goes: the adb round trip, the phone's answer, our parsing
        rt, _ = best_of(lambda: device.shell(["echo", "ok"]), min_runs=5, min_time_s=0.0,
                        clock=time.perf_counter)
        raw = {}
        for probe in probes:
            if probe.name in ("meminfo", "gfxinfo"):
                raw[probe.name] = best_of(lambda p=probe: device.shell(p.command()), min_runs=3, min_time_s=0.0,
                                          clock=time.perf_counter)[0]
    failed = [r for r in rows if not r["ok"]]
    if failed:
        raise RuntimeError(f"{len(failed)} probe rows failed, e.g. {failed[0]['probe']}: {failed[0]['error']}")
    report.add(Bar("sampler_share", cost["share"], scaled(SHARE_BAR, args.scale),
                   note=f"busy {cost['busy_s']:.2f} s of {cost['wall_s']:.2f} s wall; {cost['rows']} rows; "
                        f"{cost['missed_ticks']} missed ticks; supported() checks {cost['setup_s']:.2f} s apart"))
    for probe in probes:
        c = cost["probes"][probe.name]
        if not c["calls"]:
            raise RuntimeError(f"probe {probe.name} never ran")
        report.add(Bar(f"sampler_{probe.name}_mean_ms", c["mean_s"] * 1e3,
                       scaled(MEAN_BAR_S[probe.name], args.scale) * 1e3,
                       note=f"{c['calls']} calls every {probe.default_interval_s:g} s, max {c['max_s'] * 1e3:.0f} ms"))
    report.info(f"adb round trip (`echo ok`): best {rt * 1e3:.0f} ms; bare shell calls, best of 3: "
                + ", ".join(f"{k} {v * 1e3:.0f} ms" for k, v in raw.items())
                + " (the rest of a probe call is parsing and the phone's own variance)")
    return report.finish()


if __name__ == "__main__":
    main_guard(main)
