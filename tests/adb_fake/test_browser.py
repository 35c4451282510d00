"""``am start`` runs real headless Chromium; force-stop, pidof, ps and meminfo see it."""

from __future__ import annotations

import json
import os
import re
import shlex
import urllib.request

import pytest

from tests.fakephone.pytest_fixtures import free_port

from ._http import PageServer

pytestmark = pytest.mark.browser
CHROME = "com.android.chrome"


@pytest.fixture
def page_server():
    srv = PageServer()
    yield srv
    srv.close()


def _open(handle, url: str, package: str = CHROME, activity: str = "com.google.android.apps.chrome.Main"):
    line = shlex.join(["am", "start", "-W", "-a", "android.intent.action.VIEW", "-d", url,
                       "-n", f"{package}/{activity}"])
    return handle.device().shell2(line, v2=True, timeout=60)


def test_page_through_reverse_runs_in_chromium_then_force_stop(fake_phone, page_server):
    phone = fake_phone("pixel")
    d = phone.device()
    dev_port = free_port()
    d.reverse(f"tcp:{dev_port}", f"tcp:{page_server.port}")
    r = _open(phone, f"http://127.0.0.1:{dev_port}/bench.html")
    assert r.returncode == 0, r.stderr
    assert "Status: ok" in r.stdout and "LaunchState: COLD" in r.stdout
    assert page_server.posted.wait(30), page_server.requests
    assert "/bench.html" in page_server.requests
    result = json.loads(page_server.posts[0])
    assert result["sum"] == 1.5 * (1 << 20)  # the page's JS really ran
    assert result["webgl2"] and result["webgpu"]  # default flags give the "phone" a (software) GPU

    pid = int(d.shell2("pidof com.android.chrome", v2=True).stdout)
    assert os.path.exists(f"/proc/{pid}")
    ps = d.shell2("ps -A -o PID,PPID,NAME", v2=True).stdout
    assert re.search(r"com\.android\.chrome:sandboxed_process0:org\.chromium\.content\.app\."
                     r"SandboxedProcessService0:\d+$", ps, re.M)
    pids = [p["pid"] for p in phone.control.browsers()[CHROME]["processes"]]
    assert len(pids) >= 2

    assert d.shell2("am force-stop com.android.chrome", v2=True).returncode == 0
    assert d.shell2("pidof com.android.chrome", v2=True).returncode == 1
    assert not any(os.path.exists(f"/proc/{p}") and open(f"/proc/{p}/stat").read().split()[2] != "Z"
                   for p in pids)
    d.reverse_remove_all()


def _meminfo_blocks(text: str):
    return re.findall(r"^\*\* MEMINFO in pid (\d+) \[([^\]]+)\] \*\*$", text, re.M)


def test_meminfo_of_running_browser_has_android_layout(fake_phone):
    phone = fake_phone("pixel", in_process=True)
    d = phone.device()
    assert _open(phone, "about:blank").returncode == 0
    out = d.shell2("dumpsys meminfo --package com.android.chrome", v2=True).stdout
    assert out.startswith("Applications Memory Usage (in Kilobytes):\nUptime: ")
    blocks = _meminfo_blocks(out)
    names = [name for _, name in blocks]
    assert len(blocks) >= 2
    assert names[-1] == CHROME
    assert f"{CHROME}:privileged_process0" in names
    assert any(n.startswith(f"{CHROME}:sandboxed_process0:org.chromium.content.app.SandboxedProcessService0:")
               for n in names)
    # Every block: rows sum to TOTAL (Pss column) and TOTAL PSS in the App Summary agrees.
    for chunk in out.split("** MEMINFO in pid ")[1:]:
        rows = re.findall(r"^\s*([A-Za-z. ]+?)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", chunk, re.M)
        table = {label: int(pss) for label, pss, *_ in rows}
        total = table.pop("TOTAL")
        assert sum(table.values()) == total
        summary = int(re.search(r"TOTAL PSS:\s+(\d+)\s+TOTAL RSS:\s+(\d+)", chunk).group(1))
        assert summary == total > 0
        assert "App Summary" in chunk and "Native Heap:" in chunk
    # Without --package: only the process named exactly like the package.
    single = d.shell2("dumpsys meminfo com.android.chrome", v2=True).stdout
    assert [n for _, n in _meminfo_blocks(single)] == [CHROME]
    d.shell2("am force-stop com.android.chrome", v2=True)
    assert "No process found for: com.android.chrome" in \
        d.shell2("dumpsys meminfo --package com.android.chrome", v2=True).stdout


def test_devtools_over_forward_localabstract(fake_phone):
    phone = fake_phone("galaxy", in_process=True)
    d = phone.device()
    assert _open(phone, "about:blank", "com.sec.android.app.sbrowser",
                 "com.sec.android.app.sbrowser.SBrowserMainActivity").returncode == 0
    local = free_port()
    d.forward(f"tcp:{local}", "localabstract:com.sec.android.app.sbrowser_devtools_remote")
    with urllib.request.urlopen(f"http://127.0.0.1:{local}/json/version", timeout=10) as resp:
        info = json.load(resp)
    assert "Browser" in info and "webSocketDebuggerUrl" in info
    with urllib.request.urlopen(f"http://127.0.0.1:{local}/json/list", timeout=10) as resp:
        assert any(t.get("type") == "page" for t in json.load(resp))
    d.forward_remove(f"tcp:{local}")
    d.shell2("am force-stop com.sec.android.app.sbrowser", v2=True)


def test_gfxinfo_of_running_browser(fake_phone):
    phone = fake_phone("pixel", in_process=True)
    d = phone.device()
    assert d.shell2("dumpsys gfxinfo com.android.chrome", v2=True).stdout == \
        "No process found for: com.android.chrome\n"
    _open(phone, "about:blank")
    pid = d.shell2("pidof com.android.chrome", v2=True).stdout.strip()
    out = d.shell2("dumpsys gfxinfo com.android.chrome", v2=True).stdout
    assert f"** Graphics info for pid {pid} [com.android.chrome] **" in out
    assert "Total frames rendered:" in out
    stats = d.shell2("dumpsys gfxinfo com.android.chrome framestats", v2=True).stdout
    assert "---PROFILEDATA---" in stats
    d.shell2("am force-stop com.android.chrome", v2=True)


def test_second_view_intent_opens_a_tab_in_the_running_browser(fake_phone, page_server):
    phone = fake_phone("pixel", in_process=True)
    d = phone.device()
    dev_port = free_port()
    d.reverse(f"tcp:{dev_port}", f"tcp:{page_server.port}")
    _open(phone, "about:blank")
    pid = d.shell2("pidof com.android.chrome", v2=True).stdout
    r = _open(phone, f"http://127.0.0.1:{dev_port}/second.html")
    assert "LaunchState: WARM" in r.stdout
    assert page_server.posted.wait(30)
    assert d.shell2("pidof com.android.chrome", v2=True).stdout == pid
    d.shell2("am force-stop com.android.chrome", v2=True)
