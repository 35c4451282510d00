"""DevToolsSession against a real headless Chromium on this host (the phone side is the fake's)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from mobile_webinfer.browsers.devtools import DevToolsSession
from mobile_webinfer.errors import BrowserError, PageError

CHROMIUM = "/usr/bin/chromium"
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")]


@pytest.fixture(scope="module")
def chromium(tmp_path_factory):
    profile = tmp_path_factory.mktemp("chromium-profile")
    page = profile / "page.html"
    page.write_text("<title>mwi-devtools-test</title><script>console.log('hello from page')</script>")
    proc = subprocess.Popen([CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                             "--remote-debugging-port=0", f"--user-data-dir={profile}", page.as_uri()],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        t_end = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if time.monotonic() > t_end or proc.poll() is not None:
                pytest.fail("chromium did not start its DevTools server")
            time.sleep(0.1)
        yield int(port_file.read_text().split()[0])
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def test_targets_evaluate_console_and_crash(chromium):
    with DevToolsSession(chromium) as dt:
        assert "Browser" in dt.version()
        t_end = time.monotonic() + 10
        while dt.find_page("page.html") is None and time.monotonic() < t_end:
            time.sleep(0.1)
        target = dt.find_page("page.html")
        assert target is not None and target.type == "page"
        assert dt.evaluate("document.title", url_contains="page.html") == "mwi-devtools-test"
        dt.watch_console("page.html")
        dt.evaluate("console.log('from evaluate'); 1", url_contains="page.html")
        t_end = time.monotonic() + 5
        while not dt.console and time.monotonic() < t_end:
            dt.evaluate("1", url_contains="page.html")
        assert {"type": "log", "text": "from evaluate"} in dt.console
        with pytest.raises(PageError, match="threw|failed"):
            dt.evaluate("(() => { throw new Error('threw') })()", url_contains="page.html")
        with pytest.raises(PageError, match="no page"):
            dt.evaluate("1", url_contains="not-open.html")
        assert dt.crashed("page.html") is False
        assert dt.crashed("not-open.html") is True


def test_unreachable_devtools_is_one_line():
    with pytest.raises(BrowserError) as ei:
        DevToolsSession(1, timeout=1).targets()
    assert "\n" not in ei.value.one_line()


def _renderer_pids(browser_pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=,ppid=,args=", "-e"], capture_output=True, text=True).stdout
    kids: dict[int, list[tuple[int, str]]] = {}
    for line in out.splitlines():
        pid, ppid, args = line.split(None, 2)
        kids.setdefault(int(ppid), []).append((int(pid), args))
    found, todo = [], [browser_pid]
    while todo:
        for pid, args in kids.get(todo.pop(), []):
            todo.append(pid)
            if "--type=renderer" in args:
                found.append(pid)
    return found


def test_killed_renderer_is_detected(tmp_path):
    import os
    import signal

    page = tmp_path / "victim.html"
    page.write_text("<title>victim</title>")
    proc = subprocess.Popen([CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                             "--remote-debugging-port=0", f"--user-data-dir={tmp_path / 'p'}", page.as_uri()],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = tmp_path / "p" / "DevToolsActivePort"
        t_end = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()) and time.monotonic() < t_end:
            time.sleep(0.1)
        with DevToolsSession(int(port_file.read_text().split()[0])) as dt:
            t_end = time.monotonic() + 10
            while dt.find_page("victim.html") is None and time.monotonic() < t_end:
                time.sleep(0.1)
            assert dt.evaluate("document.title", url_contains="victim.html") == "victim"
            assert dt.crashed("victim.html") is False
            pids = _renderer_pids(proc.pid)
            assert pids
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
            t_end = time.monotonic() + 10
            while not dt.crashed("victim.html") and time.monotonic() < t_end:
                time.sleep(0.2)
            assert dt.crashed("victim.html") is True
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
