"""Property tests: truncated, mutated or random input never raises anything but ParseError."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mobile_webinfer.errors import ParseError
from mobile_webinfer import parsers as P

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

# parser -> the fixture categories whose texts it is fed (its own format, so mutations stay near-valid)
TEXT_PARSERS = {
    P.parse_meminfo: ["meminfo"],
    P.parse_gfxinfo: ["gfxinfo"],
    P.parse_surfaceflinger_latency: ["gfxinfo/surfaceflinger"],
    P.parse_thermalservice: ["thermal"],
    P.parse_battery: ["battery"],
    P.parse_getprop: ["device_info/xiaomi_rom", "device_info/adb"],
    P.parse_adb_devices: ["device_info/adb"],
    P.parse_benchmark_model: ["tflite_benchmark"],
    P.parse_proc_cpuinfo: ["cpu/arm64", "cpu/android14_mt6769_tablet_proc_cpuinfo"],
    P.parse_proc_meminfo: ["cpu/android14_mt6769_tablet_proc_meminfo"],
    P.parse_cpufreq_script: ["cpu/android14_mt6769_tablet_cpufreq"],
    P.parse_cpufreq: ["cpu/android14_mt6769_tablet_cpufreq"],
    P.parse_dumpsys_cpuinfo: ["cpu/android4.4_dumpsys", "cpu/xiaomi_miui_dumpsys"],
}


def _samples(prefixes: list[str]) -> list[str]:
    out = []
    for pre in prefixes:
        for p in sorted(FIXTURES.glob(pre + "*")) if "/" in pre else sorted((FIXTURES / pre).glob("*")):
            text = P.strip_capture_header(p.read_text(encoding="utf-8"))
            out.append(text[:20000])  # keep big dumps fast under mutation
    assert out, prefixes
    return out


CASES = [(fn, text) for fn, pres in TEXT_PARSERS.items() for text in _samples(pres)]
# one-line formats: fed their own lines from the composite Xiaomi capture
_XIAOMI = _samples(["cpu/xiaomi13"])[0].splitlines()
CASES += [(P.parse_uptime, _XIAOMI[0]), (P.parse_proc_stat, _XIAOMI[1])]
CASES += [(P.parse_pid_stat, ln) for ln in _XIAOMI[3:6] + _XIAOMI[7:8]]
PARSER_IDS = sorted({fn.__name__ for fn, _ in CASES})


def _only_parse_error(fn, text: str) -> None:
    t0 = time.monotonic()
    try:
        fn(text, "prop")
    except ParseError as exc:
        msg = str(exc)
        assert msg and "\n" not in exc.one_line()
    assert time.monotonic() - t0 < 2.0, "parser too slow (hang?)"


COMMON = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("name", PARSER_IDS)
@COMMON
@given(data=st.data())
def test_truncation(name: str, data) -> None:
    fn, text = data.draw(st.sampled_from([c for c in CASES if c[0].__name__ == name]))
    cut = data.draw(st.integers(0, len(text)))
    _only_parse_error(fn, text[:cut])


@pytest.mark.parametrize("name", PARSER_IDS)
@COMMON
@given(data=st.data())
def test_mutation(name: str, data) -> None:
    fn, text = data.draw(st.sampled_from([c for c in CASES if c[0].__name__ == name]))
    lines = text.splitlines(keepends=True)
    i = data.draw(st.integers(0, max(0, len(lines) - 1)))
    junk = data.draw(st.one_of(
        st.text(max_size=80),
        st.sampled_from(["9223372036854775807,", "-1", "nan", "1e999", "]", "[", "** MEMINFO in pid 1 [x] **",
                         "---PROFILEDATA---", "Flags,IntendedVsync,", "Thermal Status: x", "count=",
                         "TOTAL PSS: ", "\r", "\x00", "Temperature{mValue=}", "STARTING!"]),
    ))
    how = data.draw(st.sampled_from(["insert", "replace", "append"]))
    if how == "insert":
        lines.insert(i, junk + "\n")
    elif how == "replace" and lines:
        lines[i] = junk + "\n"
    else:
        lines.append(junk)
    _only_parse_error(fn, "".join(lines))


@pytest.mark.parametrize("name", PARSER_IDS)
@settings(max_examples=40, deadline=None, derandomize=True)
@given(raw=st.binary(max_size=400))
def test_random_bytes(name: str, raw: bytes) -> None:
    fn = next(f for f, _ in CASES if f.__name__ == name)
    try:
        text = P.decode_capture_bytes(raw)
    except ParseError:
        return
    _only_parse_error(fn, text)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(raw=st.binary(max_size=400))
def test_decode_bytes_only_parse_error(raw: bytes) -> None:
    try:
        assert isinstance(P.decode_capture_bytes(raw), str)
    except ParseError:
        pass


@settings(max_examples=100, deadline=None, derandomize=True)
@given(text=st.text(max_size=300))
def test_strip_header_is_total(text: str) -> None:
    out = P.strip_capture_header(text)
    assert out == text or text.lstrip("\ufeff").startswith("# ")


def test_every_record_is_plain_json() -> None:
    import json

    n = 0
    for fn, text in CASES:
        try:
            rec = fn(text, "json")
        except ParseError:
            continue
        if isinstance(rec, tuple):  # parse_adb_devices (records), parse_uptime (floats)
            data = [r.to_json() if hasattr(r, "to_json") else r for r in rec]
        else:
            data = rec.to_json() if hasattr(rec, "to_json") else rec
        json.dumps(data, allow_nan=False)  # no NaN/inf, no tuples of objects, no dataclasses left
        n += 1
    assert n >= 30
