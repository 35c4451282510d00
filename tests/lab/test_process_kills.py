"""Renderer deaths told apart (issue 12 item 8): benign kills are not out-of-memory crashes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mobile_webinfer.adb.device import Device
from mobile_webinfer.errors import ParseError
from mobile_webinfer.parsers.capture import capture_header, strip_capture_header
from mobile_webinfer.parsers.process_kills import (
    BENIGN,
    CRASH,
    LOW_MEMORY,
    UNEXPLAINED,
    classify_reason,
    death_verdict,
    parse_process_kill,
    parse_process_kills,
)

FIX = Path(__file__).parent / "fixtures" / "logcat"


def load(name: str) -> str:
    text = (FIX / name).read_text(encoding="utf-8")
    assert capture_header(text)["source"]          # provenance kept
    return strip_capture_header(text)


def test_isolated_not_needed_renderer_kill_is_benign():
    kills = parse_process_kills(load("chrome_canary_isolated_not_needed_studio.txt"))
    assert [(k.pid, k.cause, k.reason, k.killer) for k in kills] == [
        (27974, BENIGN, "isolated not needed", "ActivityManager")]
    assert kills[0].process.startswith("com.chrome.canary:sandboxed_process0")
    v = death_verdict(kills, "com.chrome.canary", pids={27974})
    assert v.cause == BENIGN and v.benign and not v.counts_as_oom
    assert "isolated not needed" in (v.evidence or "")


def test_lmkd_kills_are_low_memory():
    kills = parse_process_kills(load("lmkd_kill_crdroid_threadtime.txt"))
    assert [(k.pid, k.process, k.cause, k.killer) for k in kills] == [
        (17933, "com.google.android.gms.unstable", LOW_MEMORY, "lmkd")]
    assert kills[0].reason == "device is not responding"
    assert death_verdict(kills, "com.google.android.gms.unstable").counts_as_oom


def test_samsung_lmkd_reclaim_is_low_memory_and_has_died_lines_are_not_kills():
    kills = parse_process_kills(load("lmkd_reclaim_samsung_threadtime.txt"))
    assert [(k.pid, k.cause) for k in kills] == [(591, LOW_MEMORY), (3615, LOW_MEMORY)]
    assert kills[0].process == "com.samsung.android.smartsuggestions:contentmanagement"
    assert kills[1].reason == "min2x watermark is breached even after kill"
    v = death_verdict(kills, "com.samsung.android.smartsuggestions", pids=[591])
    assert v.counts_as_oom and "Reclaim" in (v.evidence or "")


def test_empty_process_trimming_is_benign_in_old_and_samsung_formats():
    brief = parse_process_kills(load("am_killing_empty_brief.txt"))
    assert len(brief) == 4 and {k.cause for k in brief} == {BENIGN}
    assert brief[2].process == "com.google.android.googlequicksearchbox:search" and brief[2].reason == "empty #7"
    (dha,) = parse_process_kills(load("am_killing_dha_empty_PARTIAL.txt"))
    assert (dha.pid, dha.process, dha.cause, dha.reason) == (12602, "com.airwatch.androidagent", BENIGN,
                                                             "DHA:empty #25")


def test_am_kill_events_with_and_without_pss():
    kills = parse_process_kills(load("am_kill_events_public_snippets.txt"))
    got = [(k.pid, k.process, k.cause, k.reason, k.killer) for k in kills]
    assert got == [
        (7680, "com.volte.config", BENIGN, "empty #17", "am_kill"),
        (2497, "com.mediatek.gnssdebugreport", BENIGN, "CachedClean[(cch-empty)]", "am_kill"),
        (16059, "com.tencent.mobileqq", BENIGN, "excessive cpu 9100 during 300052 dur=1859349 limit=2", "am_kill"),
        (1979, "com.seedengine.platformspike", BENIGN, "kill background", "ActivityManager"),
        (1979, "com.seedengine.platformspike", BENIGN, "kill background", "am_kill"),
        (13938, "com.android.chrome:sandboxed_process0", BENIGN, "isolated not needed", "am_kill"),
    ]


def test_oom_wins_over_benign_and_crash_for_the_same_package():
    text = "\n".join([
        load("chrome_canary_isolated_not_needed_studio.txt"),
        ("08-22 15:24:11.000  2837  5011 I ActivityManager: Killing 4400:com.chrome.canary:sandboxed_process1/u0a437 "
         "(adj 0): crash"),
        ("08-22 15:24:12.000   710   710 I lowmemorykiller: Kill 'com.chrome.canary:sandboxed_process2' (4500), "
         "uid 99142, oom_score_adj 0 to free 120000kB rss, 0kB swap; reason: low watermark is breached"),
    ])
    kills = parse_process_kills(text)
    assert death_verdict(kills, "com.chrome.canary").cause == LOW_MEMORY
    assert death_verdict(kills, "com.chrome.canary", pids={4400}).cause == CRASH
    assert death_verdict(kills, "com.chrome.canary", pids={27974}).cause == BENIGN
    assert death_verdict(kills, "com.chrome.canary", pids={9999}).cause == UNEXPLAINED
    assert death_verdict(kills, "com.android.chrome").cause == UNEXPLAINED       # other package: not ours
    assert death_verdict(kills, "com.chrome").cause == UNEXPLAINED               # prefix is not a package


def test_kernel_killers_and_reason_words():
    lmk = parse_process_kill("<6>[ 1234.5678] lowmemorykiller: Killing 'com.android.chrome:sandboxed_process0' "
                             "(4321), adj 0,")
    assert lmk is not None and (lmk.pid, lmk.cause, lmk.killer) == (4321, LOW_MEMORY, "kernel-lmk")
    oom = parse_process_kill("[ 99.1] Out of memory: Killed process 4321 (ndroid.chrome:s) total-vm:1kB")
    assert oom is not None and (oom.pid, oom.cause, oom.killer) == (4321, LOW_MEMORY, "kernel-oom")
    # the kernel truncates the name: matched by pid
    assert death_verdict([oom], "com.android.chrome", pids={4321}).counts_as_oom
    assert classify_reason("low memory") == LOW_MEMORY
    assert classify_reason("bg anr") == CRASH
    assert classify_reason("remove task") == BENIGN
    assert classify_reason("stop com.android.chrome due to from pid 123") == BENIGN
    assert parse_process_kill("I ActivityManager: Process com.x (pid 5) has died: fg TOP") is None
    assert parse_process_kill("I lmkd    : cached 0, sandbox(not0) 0") is None


def test_bad_input_is_a_parse_error():
    with pytest.raises(ParseError, match="expected text"):
        parse_process_kills(b"bytes")  # type: ignore[arg-type]


@pytest.mark.browser
def test_fake_phone_benign_and_oom_renderer_kills(fake_phone):
    phone = fake_phone("galaxy", in_process=True)
    dev = Device(phone.serial)
    pkg = "com.android.chrome"
    log_cmd = ["logcat", "-d", "-b", "main,system,events", "-t", "400"]   # what the phone target reads

    dev.shell(["am", "start", "-W", "-a", "android.intent.action.VIEW", "-d", "about:blank", "-p", pkg],
              timeout=60)
    benign = phone.control.kill_renderer(pkg, reason="isolated not needed")
    assert benign
    time.sleep(0.2)
    kills = parse_process_kills(dev.shell(log_cmd).stdout)
    v = death_verdict(kills, pkg, pids=benign)
    assert v.cause == BENIGN and not v.counts_as_oom

    dev.shell(["am", "force-stop", pkg])
    dev.shell(["am", "start", "-W", "-a", "android.intent.action.VIEW", "-d", "about:blank", "-p", pkg],
              timeout=60)
    oom = phone.control.kill_renderer(pkg)
    assert oom and not set(oom) & set(benign)
    time.sleep(0.2)
    kills = parse_process_kills(dev.shell(log_cmd).stdout)
    assert death_verdict(kills, pkg, pids=oom).counts_as_oom
    assert death_verdict(kills, pkg, pids=benign).cause == BENIGN     # the earlier kill stays benign
    dev.shell(["am", "force-stop", pkg])
